"""Detector spec → labelled coordinates with units, and the cell variables a detector stores.

Dimension names say what they are: ``eta``/``phi`` for jet images, ``<layer>_y``/``<layer>_x``
per readout layer of a layered calorimeter (``layer_0_y``…), ``z``/``y``/``x`` for voxels,
``voxel`` for the flattened (layer, α, r) voxels of a cylindrical (CaloChallenge) detector.
Cell centres are coordinates (units in attrs); cell edges are kept in each coordinate's
``attrs["edges"]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from physgen.errors import SpecError
from physgen.plugins import DETECTOR_KINDS, DetectorKind
from physgen.schema import StoreSchema, VariableSchema
from physgen.specs import (
    CylindricalCalorimeter,
    DetectorSpec,
    EtaPhiGrid,
    LayeredCalorimeter,
    Material,
    VoxelCalorimeter,
)
from physgen.units import to_magnitude

__all__ = ["detector_schema", "cell_centres", "cell_edges", "SamplingMedium", "sampling_medium", "layer_boundaries", "E_S"]

Coord = tuple[np.ndarray, dict[str, object]]


def cell_edges(n: int, size: float, center: float = 0.0) -> np.ndarray:
    """``n + 1`` edges of ``n`` cells of ``size`` centred on ``center``."""
    return center + (np.arange(n + 1) - n / 2) * size


def cell_centres(n: int, size: float, center: float = 0.0) -> np.ndarray:
    """Centres of ``n`` cells of ``size`` centred on ``center``."""
    return center + (np.arange(n) - (n - 1) / 2) * size


def _coord(n: int, size: float, units: str, long_name: str, center: float = 0.0) -> Coord:
    attrs = {"units": units, "long_name": long_name, "edges": cell_edges(n, size, center).tolist()}
    return cell_centres(n, size, center), attrs


def layer_boundaries(geometry: LayeredCalorimeter | VoxelCalorimeter) -> np.ndarray:
    """Depth (mm) of the front of each readout layer and of the back of the last one."""
    if isinstance(geometry, LayeredCalorimeter):
        fronts = [to_magnitude(layer.depth, "mm") for layer in geometry.layers]
        back = fronts[-1] + to_magnitude(geometry.layers[-1].thickness, "mm")
        return np.array([*fronts, back])
    periods = [
        to_magnitude(s.absorber_thickness, "mm") + to_magnitude(s.active_thickness, "mm")
        for s in geometry.sections
        for _ in range(s.periods)
    ]
    return np.concatenate([[0.0], np.cumsum(periods)])


def _eta_phi_schema(g: EtaPhiGrid) -> StoreSchema:
    coords = {
        "eta": _coord(g.n_eta, g.cell_eta, "dimensionless", "pseudorapidity", g.center[0]),
        "phi": _coord(g.n_phi, g.cell_phi, "rad", "azimuth", g.center[1]),
    }
    image = VariableSchema(g.variable, ("eta", "phi"), (g.n_eta, g.n_phi), "float32", g.energy_units,
                           f"pixel {'transverse momentum' if g.quantity == 'pt' else 'energy'}", (0.0, np.inf))
    return StoreSchema((image,), coords)


def _layered_schema(g: LayeredCalorimeter) -> StoreSchema:
    variables, coords = [], {}
    for layer in g.layers:
        (ny, nx), (sy, sx) = layer.cells, layer.cell_size
        ydim, xdim = f"{layer.name}_y", f"{layer.name}_x"
        coords[ydim] = _coord(ny, to_magnitude(sy, "mm"), "mm", f"{layer.name} cell centre y")
        coords[xdim] = _coord(nx, to_magnitude(sx, "mm"), "mm", f"{layer.name} cell centre x")
        variables.append(VariableSchema(layer.name, (ydim, xdim), (ny, nx), "float32", g.energy_units,
                                        f"energy deposited in {layer.name} cells", (0.0, np.inf)))
    bounds = layer_boundaries(g)
    coords["layer"] = (np.arange(len(g.layers)), {
        "units": "dimensionless", "long_name": "readout layer index",
        "names": [layer.name for layer in g.layers], "depth_edges_mm": bounds.tolist(),
    })
    if g.overflow:
        variables.append(VariableSchema("overflow", ("layer",), (len(g.layers),), "float32", g.energy_units,
                                        "energy outside each layer's cell grid", (0.0, np.inf)))
    return StoreSchema(tuple(variables), coords)


def _voxel_schema(g: VoxelCalorimeter) -> StoreSchema:
    nz, ny, nx = g.cells
    sy, sx = (to_magnitude(s, "mm") for s in g.cell_size)
    bounds = layer_boundaries(g)
    coords = {
        "z": (np.arange(nz), {"units": "dimensionless", "long_name": "layer index", "depth_edges_mm": bounds.tolist()}),
        "y": _coord(ny, sy, "mm", "cell centre y"),
        "x": _coord(nx, sx, "mm", "cell centre x"),
    }
    var = VariableSchema(g.variable, ("z", "y", "x"), (nz, ny, nx), "float32", g.energy_units,
                         "energy per cell" + (" (active layers)" if g.readout == "active" else ""), (0.0, np.inf))
    return StoreSchema((var,), coords)


# ---------------------------------------------------------------- cylindrical (CaloChallenge 2022)
def _cylindrical_schema(g: CylindricalCalorimeter) -> StoreSchema:
    """Flattened (layer, α, r) voxels; the ``voxel`` coordinate's attrs map each voxel to its bins."""
    layer, alpha, r = (np.concatenate(parts) for parts in zip(*[
        (np.full(L.n_alpha * L.n_r, i), np.repeat(np.arange(L.n_alpha), L.n_r), np.tile(np.arange(L.n_r), L.n_alpha))
        for i, L in enumerate(g.layers)
    ]))
    attrs = {"units": "dimensionless", "long_name": "voxel index (layer-major, then alpha, then r)",
             "layer_bin": layer.tolist(), "alpha_bin": alpha.tolist(), "r_bin": r.tolist(),
             "layer_ids": g.layer_ids or list(range(len(g.layers))),
             "r_edges_mm": [[to_magnitude(e, "mm") for e in L.r_edges] if L.r_edges else None for L in g.layers]}
    var = VariableSchema(g.variable, ("voxel",), (g.n_voxels,), "float32", g.energy_units, "energy per voxel",
                         (0.0, np.inf))
    return StoreSchema((var,), {"voxel": (np.arange(g.n_voxels), attrs)})


for _model, _schema in ((EtaPhiGrid, _eta_phi_schema), (LayeredCalorimeter, _layered_schema),
                       (VoxelCalorimeter, _voxel_schema), (CylindricalCalorimeter, _cylindrical_schema)):
    DETECTOR_KINDS.register(_model.model_fields["type"].default, DetectorKind(_model, _schema))


def detector_schema(detector: DetectorSpec) -> StoreSchema:
    """The cell variables and coordinates that ``detector`` adds to a store, built by its detector kind
    (:data:`physgen.plugins.DETECTOR_KINDS`); a geometry of no registered kind is a :class:`SpecError`."""
    g = detector.geometry
    kind = DETECTOR_KINDS.get(str(getattr(g, "type", None)))
    if not isinstance(g, kind.model):
        msg = f"detector {detector.name!r}: geometry {type(g).__name__} is not a {kind.model.__name__}"
        raise SpecError(msg)
    return kind.schema(g)


@dataclass(frozen=True)
class SamplingMedium:
    """Effective constants of one absorber + active sampling structure (docs/PHYSICS.md §4)."""

    X0: float  # mm
    moliere_radius: float  # mm
    critical_energy: float  # MeV
    Z: float
    density: float  # g/cm3
    lambda_int: float  # mm
    period: float  # mm
    sampling_fraction: float  # active fraction of the deposited energy (MIP-like, by dE/dx)
    F_s: float  # X0_eff / period
    e_hat: float


E_S = 21.2
"""MeV: the scale energy E_s = m_e c² √(4π/α) of the Molière radius R_M = E_s X0 / E_c (PDG 34.4.4)."""


def sampling_medium(absorber: Material, d_abs: float, active: Material, d_act: float) -> SamplingMedium:
    """Effective medium of absorber (thickness ``d_abs`` mm) + active (``d_act`` mm) layers.

    Lengths follow the PDG mixture rules (RPP "Passage of particles through matter", §34.4):
    1/X0 = Σ wᵢ/X0ᵢ and 1/R_M = Σ wᵢ/R_Mᵢ with mass fractions wᵢ and lengths in g/cm², that is
    1/L = Σ vᵢ/Lᵢ with volume (thickness) fractions vᵢ and lengths in mm; λ_int likewise. The
    critical energy follows from R_M = E_s X0/E_c. Pb 2 mm + LAr 4 mm: X0 15.6 mm, R_M 35.5 mm,
    E_c 9.3 MeV; W 2.1 mm + Si 0.5 mm: R_M 11.0 mm (docs/PHYSICS.md §2, §3). Z is mass-weighted, F_s and
    ê are GFlash's (Grindhammer & Peters, hep-ex/0001020). Weighting E_c/X0 by mass fractions with X0
    in mm, as Geant4's ``GFlashSamplingShowerParameterisation`` does, mixes units: it gives 19.1 mm
    and 17.3 MeV for Pb/LAr.
    """
    rho = np.array([to_magnitude(m.density, "g/cm^3") for m in (absorber, active)])
    d = np.array([d_abs, d_act])
    volume = d / d.sum()
    mass = d * rho / np.sum(d * rho)

    def mixed(name: str, units: str) -> float:
        return float(1.0 / np.sum(volume / np.array([to_magnitude(getattr(m, name), units) for m in (absorber, active)])))

    x0_eff, rm_eff = mixed("X0", "mm"), mixed("moliere_radius", "mm")
    # MIP energy-loss share of the active layer (dE/dx ∝ ρ Z/A)
    dedx = rho * np.array([absorber.Z / absorber.A, active.Z / active.A])
    return SamplingMedium(
        X0=x0_eff, moliere_radius=rm_eff, critical_energy=E_S * x0_eff / rm_eff,
        Z=float(np.sum(mass * np.array([absorber.Z, active.Z]))), density=float(np.sum(volume * rho)),
        lambda_int=mixed("lambda_int", "mm"), period=float(d.sum()),
        sampling_fraction=float(d[1] * dedx[1] / np.sum(d * dedx)), F_s=x0_eff / float(d.sum()),
        e_hat=float(1.0 / (1.0 + 0.007 * (absorber.Z - active.Z))),
    )
