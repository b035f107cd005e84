"""Detector specs: the geometry kinds physgen knows and the materials they are made of.

Four geometry kinds ship:

* ``eta_phi_grid`` — a calorimeter image in (η, φ) such as the 25×25 jet images of LAGAN;
* ``layered`` — a longitudinally segmented calorimeter whose readout layers each have
  their own transverse cell grid (CaloGAN's 3×96, 12×12, 12×6);
* ``voxel`` — a regular (z, y, x) voxel calorimeter (the ILD 30×30×30 ECAL);
* ``cylindrical`` — (layer, α, r) voxels stored flattened (the CaloChallenge 2022 datasets).

The layered and voxel kinds describe a sampling stack (absorber + active layers)
with material constants, which the parametric shower simulator reads.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from physgen.specs._base import SpecModel
from physgen.specs._quantity import Density, Energy, Length

__all__ = [
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


class Material(SpecModel):
    """Bulk material constants (PDG), used by the shower parametrisations, and optionally the
    Geant4 NIST material to simulate it with (else Geant4 builds it from Z, A and density)."""

    name: str
    geant4: str | None = Field(None, pattern=r"^G4_[A-Za-z0-9_-]+$", description="Geant4 NIST material, e.g. G4_Pb")
    Z: float = Field(gt=0)
    A: float = Field(gt=0)
    density: Density
    X0: Length = Field(description="radiation length")
    moliere_radius: Length
    critical_energy: Energy
    lambda_int: Length = Field(description="nuclear interaction length")


class SamplingSection(SpecModel):
    """``periods`` repetitions of one absorber plate followed by one active gap."""

    periods: PositiveInt
    absorber: str = Field(description="material name of the passive plate")
    absorber_thickness: Length
    active: str = Field(description="material name of the sensitive gap")
    active_thickness: Length


class ReadoutLayer(SpecModel):
    """One readout layer of a layered calorimeter: a depth range and a transverse grid."""

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    depth: Length = Field(description="front face of the layer from the calorimeter front")
    thickness: Length
    cells: tuple[PositiveInt, PositiveInt] = Field(description="number of cells (n_y, n_x)")
    cell_size: tuple[Length, Length] = Field(description="cell size (y, x)")


class _Calorimeter(SpecModel):
    materials: list[Material] = Field(min_length=1)
    sections: list[SamplingSection] = Field(min_length=1, description="the sampling stack, front to back")
    readout: Literal["total", "active"] = Field(
        "total", description="cells record the total deposit (absorber + active) or the active-layer energy"
    )
    threshold: Energy | None = Field(None, description="cell energies below this are set to zero (MIP cut)")
    energy_units: str = "MeV"
    transverse_size: tuple[Length, Length] | None = Field(
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


class EtaPhiGrid(SpecModel):
    """A (η, φ) image grid centred on ``center``; intensity in ``energy_units``."""

    type: Literal["eta_phi_grid"] = "eta_phi_grid"
    n_eta: PositiveInt
    n_phi: PositiveInt
    cell_eta: float = Field(gt=0, description="pixel size in η")
    cell_phi: float = Field(gt=0, description="pixel size in φ (rad)")
    center: tuple[float, float] = (0.0, 0.0)
    quantity: Literal["pt", "energy"] = "pt"
    energy_units: str = "GeV"
    variable: str = "image"


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
        return layers


class VoxelCalorimeter(_Calorimeter):
    """A regular grid of (z, y, x) voxels, one z slice per sampling period."""

    type: Literal["voxel"] = "voxel"
    cells: tuple[PositiveInt, PositiveInt, PositiveInt] = Field(description="(n_z, n_y, n_x)")
    cell_size: tuple[Length, Length] = Field(description="transverse cell size (y, x)")
    variable: str = "energy"

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

    n_alpha: PositiveInt
    n_r: PositiveInt
    r_edges: list[Length] | None = Field(None, description="n_r + 1 radial bin edges, when known")

    @model_validator(mode="after")
    def _edges_match(self):
        if self.r_edges is not None and len(self.r_edges) != self.n_r + 1:
            msg = f"r_edges: expected n_r + 1 = {self.n_r + 1} edges, got {len(self.r_edges)}"
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
    energy_units: str = "MeV"
    variable: str = "showers"

    @property
    def n_voxels(self) -> int:
        return sum(layer.n_alpha * layer.n_r for layer in self.layers)


Geometry = Annotated[EtaPhiGrid | LayeredCalorimeter | VoxelCalorimeter | CylindricalCalorimeter,
                     Field(discriminator="type")]


class DetectorSpec(SpecModel):
    """A detector: a name, a geometry of one of the registered kinds, and default chunking."""

    kind: Literal["detector"] = "detector"
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    geometry: Geometry
    chunk_events: PositiveInt | None = Field(None, description="default events per store chunk")
