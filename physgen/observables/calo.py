"""Shower-shape observables of calorimeters read out in layers (PHYSICS.md §2, §9).

They work on both layered calorimeters (CaloGAN: each layer its own cell grid) and voxel
calorimeters (ILD: one ``z`` slice per layer): per-layer quantities carry a ``layer`` dim.
Energies keep the cells' units (MeV in the shipped detectors); positions are cell centres
in mm; the layer index i = 0, 1, … is the longitudinal coordinate of shower depth
(Σ i·E_i / E_tot, as the CaloGAN analysis).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from physgen.observables._kinds import (
    conversion_factor, is_layered, is_voxel, layer_arrays, layer_depths_mm, threshold, voxel_energy,
)
from physgen.observables._registry import observable
from physgen.schema import EVENT

__all__ = [
    "STATS", "layer_summary", "is_calorimeter", "layer_energy", "total_energy", "energy_fraction", "total_over_incident",
    "shower_depth", "shower_depth_width", "depth", "lateral_depth", "centroid_x", "centroid_y", "width_x", "width_y",
    "sparsity_calogan", "sparsity_calochallenge", "e_ratio", "longitudinal_profile",
]

STATS = ("energy", "sum_x", "sum_x2", "sum_y", "sum_y2", "active", "hottest", "second")
"""Per-layer sums from which every shower shape follows (one pass over the cells)."""


def is_calorimeter(ds: xr.Dataset) -> bool:
    """a layered or voxel calorimeter"""
    return is_layered(ds) or is_voxel(ds)


def _energy_units(ds: xr.Dataset) -> str:
    cells = layer_arrays(ds)[0] if is_layered(ds) else voxel_energy(ds)
    return cells.attrs.get("units", "MeV")


def _summary_kernel(cells: np.ndarray, y: np.ndarray, x: np.ndarray, cut: float) -> np.ndarray:
    """(..., n_y, n_x) cells → (..., 8): ΣE, ΣxE, Σx²E, ΣyE, Σy²E, cells above ``cut``, two hottest cells."""
    along_x, along_y = cells.sum(axis=-2, dtype=np.float64), cells.sum(axis=-1, dtype=np.float64)
    flat = cells.reshape(*cells.shape[:-2], -1)
    top2 = np.partition(flat, flat.shape[-1] - 2, axis=-1)[..., -2:] if flat.shape[-1] > 1 else \
        np.concatenate([np.zeros_like(flat), flat], axis=-1)
    def weighted(profile, position):  # einsum, not BLAS matmul: no thread pool to fight dask's threads
        return np.einsum("...i,i->...", profile, position)

    return np.stack([along_x.sum(axis=-1), weighted(along_x, x), weighted(along_x, x**2), weighted(along_y, y),
                     weighted(along_y, y**2), np.count_nonzero(cells > cut, axis=(-2, -1)), top2[..., 1],
                     top2[..., 0]], axis=-1)


def _layer_summary(cells: xr.DataArray, ydim: str, xdim: str, cut: float) -> xr.DataArray:
    return xr.apply_ufunc(
        _summary_kernel, cells, cells[ydim].astype("float64"), cells[xdim].astype("float64"),
        kwargs={"cut": cut}, input_core_dims=[[ydim, xdim], [ydim], [xdim]], output_core_dims=[["stat"]],
        dask="parallelized", output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"stat": len(STATS)}, "allow_rechunk": True},
    ).assign_coords(stat=list(STATS))


def layer_summary(ds: xr.Dataset) -> xr.DataArray:
    """Per-layer sums (dims event, layer, stat) of a layered or voxel calorimeter, cells above the
    detector threshold counted as active. Every observable of this module derives from it, so dask
    reads and reduces each layer once however many of them are computed together."""
    cut = threshold(ds, _energy_units(ds))
    if is_layered(ds):
        parts = [_layer_summary(cells, cells.dims[1], cells.dims[2], cut) for cells in layer_arrays(ds)]
        return xr.concat(parts, dim=ds["layer"], coords="minimal", compat="override").transpose(EVENT, "layer", "stat")
    energy = voxel_energy(ds)
    return _layer_summary(energy, "y", "x", cut).rename(z="layer").drop_vars(["y", "x"], errors="ignore")


def _stat(ds: xr.Dataset, name: str) -> xr.DataArray:
    return layer_summary(ds).sel(stat=name, drop=True)


def _n_cells(ds: xr.Dataset) -> xr.DataArray:
    sizes = [cells.shape[1] * cells.shape[2] for cells in layer_arrays(ds)] if is_layered(ds) else \
        [voxel_energy(ds).shape[2] * voxel_energy(ds).shape[3]] * voxel_energy(ds).shape[1]
    return xr.DataArray(np.asarray(sizes, dtype=float), dims="layer")


def _layer_index(energy: xr.DataArray) -> xr.DataArray:
    return xr.DataArray(np.arange(energy.sizes["layer"], dtype=float), dims="layer")


def _safe_ratio(num: xr.DataArray, den: xr.DataArray) -> xr.DataArray:
    """num/den, 0 where den is 0 (an empty shower or layer)."""
    return xr.where(den > 0, num / den.where(den > 0, 1.0), 0.0)


@observable("layer_energy", units=None, long_name="energy per layer", requires=is_calorimeter)
def layer_energy(ds: xr.Dataset) -> xr.DataArray:
    """E_i = Σ cells of layer i (overflow excluded)."""
    return _stat(ds, "energy").assign_attrs(units=_energy_units(ds))


@observable("total_energy", units=None, long_name="total deposited energy (sum of layers)", requires=is_calorimeter)
def total_energy(ds: xr.Dataset) -> xr.DataArray:
    return layer_energy(ds).sum("layer").assign_attrs(units=_energy_units(ds))


@observable("energy_fraction", units="dimensionless", long_name="fraction of the energy per layer E_i/E_tot",
            requires=is_calorimeter)
def energy_fraction(ds: xr.Dataset) -> xr.DataArray:
    e = layer_energy(ds)
    return _safe_ratio(e, e.sum("layer"))


def _has_incident_energy(ds: xr.Dataset) -> bool:
    """a calorimeter with a per-event incident 'energy' feature"""
    return is_calorimeter(ds) and "energy" in ds.data_vars and ds["energy"].dims == (EVENT,)


@observable("total_over_incident", units="dimensionless", long_name="deposited over incident energy E_tot/E_inc",
            requires=_has_incident_energy)
def total_over_incident(ds: xr.Dataset) -> xr.DataArray:
    """Units converted with pint: cells in MeV, incident ``energy`` in GeV in the shipped specs."""
    incident = ds["energy"].astype("float64")
    factor = conversion_factor(_energy_units(ds), incident.attrs.get("units", "GeV"))
    return _safe_ratio(total_energy(ds) * factor, incident)


def _depth_moments(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
    e = layer_energy(ds)
    i = _layer_index(e)
    total = e.sum("layer")
    mean = _safe_ratio((i * e).sum("layer"), total)
    second = _safe_ratio((i**2 * e).sum("layer"), total)
    return mean, np.sqrt((second - mean**2).clip(min=0.0))


@observable("shower_depth", units="dimensionless", long_name="shower depth Σ i·E_i / E_tot (layer index)",
            requires=is_calorimeter)
def shower_depth(ds: xr.Dataset) -> xr.DataArray:
    return _depth_moments(ds)[0]


@observable("shower_depth_width", units="dimensionless", long_name="width of the shower depth (layer index)",
            requires=is_calorimeter)
def shower_depth_width(ds: xr.Dataset) -> xr.DataArray:
    """√(Σ i² E_i / E_tot − depth²)."""
    return _depth_moments(ds)[1]


@observable("depth", units="dimensionless", long_name="deepest layer with a cell above threshold (layer index)",
            requires=is_calorimeter)
def depth(ds: xr.Dataset) -> xr.DataArray:
    """d = max{i : layer i has a cell above threshold} (CaloGAN, Paganini et al., arXiv:1705.02355);
    −1 for a shower without any such cell."""
    active = _stat(ds, "active") > 0
    index = _layer_index(active)
    return xr.where(active, index, -1.0).max("layer")


@observable("lateral_depth", units=None, long_name="lateral depth Σ i·E_i (layer index × energy)",
            requires=is_calorimeter)
def lateral_depth(ds: xr.Dataset) -> xr.DataArray:
    """l_d = Σᵢ i·Eᵢ (CaloGAN, arXiv:1705.02355); divided by E_tot it is the shower depth."""
    e = layer_energy(ds)
    return (_layer_index(e) * e).sum("layer").assign_attrs(units=_energy_units(ds))


def _register_moments(axis: str) -> tuple[Callable, Callable]:
    """Energy-weighted centroid and width (second moment) of the cell centres along ``axis`` per layer."""

    def moments(ds: xr.Dataset) -> tuple[xr.DataArray, xr.DataArray]:
        summary = layer_summary(ds)
        energy = summary.sel(stat="energy", drop=True)
        mean = _safe_ratio(summary.sel(stat=f"sum_{axis}", drop=True), energy)
        second = _safe_ratio(summary.sel(stat=f"sum_{axis}2", drop=True), energy)
        return mean, np.sqrt((second - mean**2).clip(min=0.0))

    @observable(f"centroid_{axis}", units="mm", long_name=f"energy-weighted centroid in {axis} per layer",
                requires=is_calorimeter)
    def centroid(ds: xr.Dataset) -> xr.DataArray:
        return moments(ds)[0]

    @observable(f"width_{axis}", units="mm", long_name=f"energy-weighted width (second moment) in {axis} per layer",
                requires=is_calorimeter)
    def spread(ds: xr.Dataset) -> xr.DataArray:
        """√(Σ x² E / Σ E − centroid²)."""
        return moments(ds)[1]

    return centroid, spread


centroid_x, width_x = _register_moments("x")
centroid_y, width_y = _register_moments("y")


@observable("sparsity_calogan", units="dimensionless",
            long_name="fraction of cells above threshold per layer (CaloGAN's sparsity)", requires=is_calorimeter)
def sparsity_calogan(ds: xr.Dataset) -> xr.DataArray:
    """The CaloGAN paper's "sparsity": the fraction of a layer's cells with energy (above the threshold)."""
    return _stat(ds, "active") / _n_cells(ds)


@observable("sparsity_calochallenge", units="dimensionless",
            long_name="fraction of cells at or below threshold per layer (the CaloChallenge's sparsity)",
            requires=is_calorimeter)
def sparsity_calochallenge(ds: xr.Dataset) -> xr.DataArray:
    """The CaloChallenge's "sparsity" (``HighLevelFeatures._calculate_sparsity``): 1 − the CaloGAN one."""
    return 1.0 - sparsity_calogan(ds)


@observable("e_ratio", units="dimensionless", long_name="E_ratio (E1 − E2)/(E1 + E2) of the two hottest cells per layer",
            requires=is_calorimeter)
def e_ratio(ds: xr.Dataset) -> xr.DataArray:
    """0 for an empty layer."""
    e1, e2 = _stat(ds, "hottest"), _stat(ds, "second")
    return _safe_ratio(e1 - e2, e1 + e2)


@observable("longitudinal_profile", units=None, long_name="energy per unit depth of each layer",
            requires=is_calorimeter)
def longitudinal_profile(ds: xr.Dataset) -> xr.DataArray:
    """E_i / thickness_i (energy per mm), with the layer-centre depth (mm) as coordinate ``layer_depth``."""
    e = layer_energy(ds)
    edges = layer_depths_mm(ds, "layer" if is_layered(ds) else "z")
    thickness = xr.DataArray(np.diff(edges), dims="layer")
    centre = xr.DataArray(0.5 * (edges[1:] + edges[:-1]), dims="layer", attrs={"units": "mm"})
    return (e / thickness).assign_coords(layer_depth=centre).assign_attrs(units=f"{_energy_units(ds)}/mm")
