"""Detector specs: the geometry kinds physgen knows and the materials they are made of.

A detector's ``geometry: {type: <kind>, ...}`` is validated by the model that the detector kind
``<kind>`` registered in :data:`physgen.plugins.DETECTOR_KINDS` (an unknown kind is an error that
names the known ones). Four geometry kinds ship (registered by :mod:`physgen.geometry`):

* ``eta_phi_grid`` — a calorimeter image in (η, φ) such as the 25×25 jet images of LAGAN;
* ``layered`` — a longitudinally segmented calorimeter whose readout layers each have
  their own transverse cell grid (CaloGAN's 3×96, 12×12, 12×6);
* ``voxel`` — a regular (z, y, x) voxel calorimeter (the ILD 30×30×30 ECAL);
* ``cylindrical`` — (layer, α, r) voxels stored flattened (the CaloChallenge 2022 datasets).

The layered and voxel kinds describe a sampling stack (absorber + active layers)
with material constants, which the parametric shower simulator reads.
"""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

import numpy as np

from pydantic import AfterValidator, Field, PlainValidator, PositiveInt, field_validator, model_validator
from pydantic_core import PydanticCustomError

from physgen import plugins
from physgen.errors import SpecError
from physgen.specs._base import SpecModel
from physgen.specs._options import OptionErrors, check_options
from physgen.specs._quantity import (
    NonNegativeEnergy, NonNegativeLength, PositiveDensity, PositiveEnergy, PositiveLength,
)
from physgen.units import check_units, to_magnitude, ureg

__all__ = [
    "MAX_CELLS",
    "CellCount",
    "Material",
    "SamplingSection",
    "ReadoutLayer",
    "EtaPhiGrid",
    "LayeredCalorimeter",
    "VoxelCalorimeter",
    "CylindricalLayer",
    "CylindricalCalorimeter",
    "Geometry",
    "DetectorSpec",
]


MAX_CELLS = 10_000_000
"""Most cells one event may hold (40 MB of float32; the largest shipped detector, CaloChallenge
dataset 3, has 40 500)."""

CellCount = Annotated[int, Field(gt=0, le=100_000, description="number of cells along one axis")]


def _energy_units(units: str) -> str:
    check_units(units)
    if not ureg.Unit(units or "dimensionless").is_compatible_with("MeV"):
        msg = f"energy_units must be units of energy such as 'MeV' or 'GeV', got {units!r}"
        raise ValueError(msg)
    return units


EnergyUnits = Annotated[str, AfterValidator(_energy_units)]
"""Units of the cell values (pint-parsable, of dimension energy)."""


class Material(SpecModel):
    """Bulk material constants (PDG), used by the shower parametrisations, all finite and positive, and
    optionally the Geant4 NIST material to simulate it with (else Geant4 builds it from Z, A and density)."""

    name: str
    geant4: str | None = Field(None, pattern=r"^G4_[A-Za-z0-9_-]+$", description="Geant4 NIST material, e.g. G4_Pb")
    Z: float = Field(gt=0, le=120, description="(effective) atomic number")
    A: float = Field(gt=0, le=300, description="(effective) mass number, g/mol")
    density: PositiveDensity
    X0: PositiveLength = Field(description="radiation length")
    moliere_radius: PositiveLength
    critical_energy: PositiveEnergy
    lambda_int: PositiveLength = Field(description="nuclear interaction length")


class SamplingSection(SpecModel):
    """``periods`` repetitions of one absorber plate followed by one active gap."""

    periods: int = Field(gt=0, le=100_000)
    absorber: str = Field(description="material name of the passive plate")
    absorber_thickness: PositiveLength
    active: str = Field(description="material name of the sensitive gap")
    active_thickness: PositiveLength


class ReadoutLayer(SpecModel):
    """One readout layer of a layered calorimeter: a depth range and a transverse grid."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    depth: NonNegativeLength = Field(description="front face of the layer from the calorimeter front")
    thickness: PositiveLength
    cells: tuple[CellCount, CellCount] = Field(description="number of cells (n_y, n_x)")
    cell_size: tuple[PositiveLength, PositiveLength] = Field(description="cell size (y, x)")


class _Calorimeter(SpecModel):
    materials: list[Material] = Field(min_length=1)
    sections: list[SamplingSection] = Field(min_length=1, description="the sampling stack, front to back")
    readout: Literal["total", "active"] = Field(
        "total", description="cells record the total deposit (absorber + active) or the active-layer energy"
    )
    threshold: NonNegativeEnergy | None = Field(None, description="cell energies below this are set to zero (MIP cut)")
    energy_units: EnergyUnits = "MeV"
    transverse_size: tuple[PositiveLength, PositiveLength] | None = Field(
        None, description="full (y, x) extent of the plates, centred on the beam axis; default: the widest readout grid"
    )

    @model_validator(mode="after")
    def _materials_exist(self):
        names = {m.name for m in self.materials}
        for i, section in enumerate(self.sections):
            for role in ("absorber", "active"):
                if getattr(section, role) not in names:
                    msg = f"sections.{i}.{role}: material {getattr(section, role)!r} is not among materials {sorted(names)}"
                    raise ValueError(msg)
        return self

    def material(self, name: str) -> Material:
        return next(m for m in self.materials if m.name == name)

    def threshold_magnitude(self) -> float:
        """``threshold`` in ``energy_units`` (0 without one)."""
        return 0.0 if self.threshold is None else float(to_magnitude(self.threshold, self.energy_units))

    def apply_threshold(self, cells: np.ndarray) -> np.ndarray:
        """Zero the cells below ``threshold`` (in place; ``cells`` in ``energy_units``) and return them:
        the readout's MIP cut, the same for every simulator."""
        if self.threshold is not None:
            cells[cells < self.threshold_magnitude()] = 0.0
        return cells


class EtaPhiGrid(SpecModel):
    """A (η, φ) image grid centred on ``center``; intensity in ``energy_units``."""

    type: Literal["eta_phi_grid"] = "eta_phi_grid"
    n_eta: CellCount
    n_phi: CellCount
    cell_eta: float = Field(gt=0, description="pixel size in η")
    cell_phi: float = Field(gt=0, description="pixel size in φ (rad)")
    center: tuple[float, float] = (0.0, 0.0)
    quantity: Literal["pt", "energy"] = "pt"
    energy_units: EnergyUnits = "GeV"
    variable: str = "image"

    @property
    def n_cells(self) -> int:
        return self.n_eta * self.n_phi


class LayeredCalorimeter(_Calorimeter):
    """A sampling calorimeter read out in a few thick layers with different granularity."""

    type: Literal["layered"] = "layered"
    layers: list[ReadoutLayer] = Field(min_length=1)
    overflow: bool = Field(True, description="store the energy outside each layer's grid as `overflow`")

    @field_validator("layers")
    @classmethod
    def _unique_names(cls, layers: list[ReadoutLayer]) -> list[ReadoutLayer]:
        names = [layer.name for layer in layers]
        if len(set(names)) != len(names):
            msg = f"layer names must be unique, got {names}"
            raise ValueError(msg)
        for before, after in zip(layers, layers[1:]):
            end, start = (before.depth + before.thickness).m_as("mm"), after.depth.m_as("mm")
            if start < end - 1e-9 * end:  # layers that touch, up to rounding, do not overlap
                msg = (f"layer {after.name!r} starts at depth {after.depth:~} inside layer {before.name!r} "
                       f"({before.depth:~} + {before.thickness:~}): layers go front to back without overlap")
                raise ValueError(msg)
        return layers

    @property
    def n_cells(self) -> int:
        return sum(ny * nx for ny, nx in (layer.cells for layer in self.layers))


class VoxelCalorimeter(_Calorimeter):
    """A regular grid of (z, y, x) voxels, one z slice per sampling period."""

    type: Literal["voxel"] = "voxel"
    cells: tuple[CellCount, CellCount, CellCount] = Field(description="(n_z, n_y, n_x)")
    cell_size: tuple[PositiveLength, PositiveLength] = Field(description="transverse cell size (y, x)")
    variable: str = "energy"

    @property
    def n_cells(self) -> int:
        return self.cells[0] * self.cells[1] * self.cells[2]

    @model_validator(mode="after")
    def _one_layer_per_period(self):
        periods = sum(s.periods for s in self.sections)
        if periods != self.cells[0]:
            msg = f"cells[0] = {self.cells[0]} layers but the sections hold {periods} sampling periods"
            raise ValueError(msg)
        return self


# ---------------------------------------------------------------- cylindrical (CaloChallenge 2022)
class CylindricalLayer(SpecModel):
    """One layer of a cylindrical voxelisation: ``n_alpha`` angular × ``n_r`` radial bins."""

    n_alpha: CellCount
    n_r: CellCount
    r_edges: list[NonNegativeLength] | None = Field(None, description="n_r + 1 radial bin edges, when known")

    @model_validator(mode="after")
    def _edges_match(self):
        if self.r_edges is not None and len(self.r_edges) != self.n_r + 1:
            msg = f"r_edges: expected n_r + 1 = {self.n_r + 1} edges, got {len(self.r_edges)}"
            raise ValueError(msg)
        if self.r_edges is not None and any(b <= a for a, b in zip(self.r_edges, self.r_edges[1:])):
            msg = f"r_edges must increase strictly, got {[str(e) for e in self.r_edges]}"
            raise ValueError(msg)
        return self


class CylindricalCalorimeter(SpecModel):
    """Voxels in (layer, α, r) around the particle direction, stored flattened per event.

    The Fast Calorimeter Simulation Challenge 2022 layout: each layer has its own number
    of angular and radial bins; voxel order is layer-major, then α, then r.
    """

    type: Literal["cylindrical"] = "cylindrical"
    layers: list[CylindricalLayer] = Field(min_length=1)
    layer_ids: list[int] | None = Field(None, description="detector layer numbers of the stored layers")
    energy_units: EnergyUnits = "MeV"
    variable: str = "showers"

    @property
    def n_voxels(self) -> int:
        return sum(layer.n_alpha * layer.n_r for layer in self.layers)

    n_cells = n_voxels


def _geometry(value: Any) -> SpecModel:
    """A geometry of the detector kind its ``type`` names (:data:`physgen.plugins.DETECTOR_KINDS`);
    errors keep their key path below the kind, e.g. ``geometry.eta_phi_grid.n_eta``."""
    kind_name = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    misspelt = difflib.get_close_matches("type", [str(k) for k in value], n=1) if isinstance(value, dict) else []
    if kind_name is None and misspelt:
        errors = OptionErrors("geometry")
        errors.unknown_key((misspelt[0],), "; did you mean 'type'?", value[misspelt[0]])
        errors.raise_any()
    if kind_name is None:
        raise PydanticCustomError("missing_kind", "needs a 'type': one of {kinds}",
                                  {"kinds": ", ".join(plugins.DETECTOR_KINDS.names())})
    try:
        kind = plugins.DETECTOR_KINDS.get(str(kind_name))
    except SpecError as exc:
        raise PydanticCustomError("unknown_kind", "{message}", {"message": str(exc)}) from None
    if isinstance(value, kind.model):
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError("geometry_type", "expected a mapping, got {got}", {"got": type(value).__name__})
    return check_options(kind.model, value, (str(kind_name),))


Geometry = Annotated[Any, PlainValidator(_geometry)]
"""A geometry of any registered detector kind (shipped: EtaPhiGrid, LayeredCalorimeter,
VoxelCalorimeter, CylindricalCalorimeter)."""


class DetectorSpec(SpecModel):
    """A detector: a name, a geometry of one of the registered kinds, and default chunking."""

    kind: Literal["detector"] = "detector"
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    geometry: Geometry
    chunk_events: PositiveInt | None = Field(None, le=10_000_000, description="default events per store chunk")

    @model_validator(mode="after")
    def _cells_fit_in_memory(self):
        if self.geometry.n_cells > MAX_CELLS:
            msg = f"geometry: {self.geometry.n_cells:,} cells per event; at most {MAX_CELLS:,} are supported"
            raise ValueError(msg)
        return self
