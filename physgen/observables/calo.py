"""Shower-shape observables of calorimeters read out in layers (docs/PHYSICS.md §2, §9).

They work on both layered calorimeters (CaloGAN: each layer its own cell grid) and voxel
calorimeters (ILD: one ``z`` slice per layer): per-layer quantities carry a ``layer`` dim.
Energies keep the cells' units (MeV in the shipped detectors); positions are cell centres
in mm; the layer index i = 0, 1, … is the longitudinal coordinate of shower depth
(Σ i·E_i / E_tot, as the CaloGAN analysis).
"""

from __future__ import annotations

from collections.abc import Callable

import dask.array as da
import numpy as np
import xarray as xr

from physgen.observables._kinds import (
    conversion_factor, is_layered, is_voxel, layer_arrays, layer_depths_mm, threshold, voxel_energy,
)
from physgen.observables._registry import observable, shared
from physgen.schema import EVENT

__all__ = [
    "PER_LAYER", "PER_SHOWER", "STATS", "layer_summary", "shower_table", "is_calorimeter", "layer_energy",
    "total_energy", "energy_fraction", "total_over_incident", "shower_depth", "shower_depth_width", "depth", "lateral_depth", "centroid_x", "centroid_y", "width_x", "width_y",
    "sparsity_calogan", "sparsity_calochallenge", "e_ratio", "longitudinal_profile",
]

STATS = ("energy", "sum_x", "sum_x2", "sum_y", "sum_y2", "active", "hottest", "second")
"""Per-layer sums from which every shower shape follows (one pass over the cells)."""
PER_LAYER = ("layer_energy", "energy_fraction", "centroid_x", "centroid_y", "width_x", "width_y", "sparsity_calogan",
             "sparsity_calochallenge", "e_ratio", "longitudinal_profile")
"""Observables with one value per layer, columns of :func:`shower_table`."""
PER_SHOWER = ("total_energy", "shower_depth", "shower_depth_width", "depth", "lateral_depth", "total_over_incident")
"""Observables with one value per shower, columns of :func:`shower_table` (the last only with an incident energy)."""


def is_calorimeter(ds: xr.Dataset) -> bool:
    """a layered or voxel calorimeter"""
    return is_layered(ds) or is_voxel(ds)


def _energy_units(ds: xr.Dataset) -> str:
    cells = layer_arrays(ds)[0] if is_layered(ds) else voxel_energy(ds)
    return cells.attrs.get("units", "MeV")


def _moment_weights(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(n_y · n_x, 5) float64 columns 1, x, x², y, y² of the cell centres, cells in C order: the energy
    matrix times these gives ΣE, ΣxE, Σx²E, ΣyE, Σy²E of every row in one matrix product."""
    yy, xx = np.meshgrid(np.asarray(y, dtype=np.float64), np.asarray(x, dtype=np.float64), indexing="ij")
    xx, yy = xx.ravel(), yy.ravel()
    return np.stack([np.ones_like(xx), xx, xx**2, yy, yy**2], axis=-1)


BLAS_SERIAL_SIZE = 65_536 * 4
"""Largest m·n·k of a matrix product that OpenBLAS (numpy's BLAS) runs in the calling thread
(``SMP_THRESHOLD_MIN × GEMM_MULTITHREAD_THRESHOLD``): the kernel multiplies blocks of rows this small, so
inside dask's threads it starts no BLAS threads (with 2 BLAS threads per dask thread the observables
took 1.8× the CPU time, the threads spinning)."""


def _summary_kernel(cells: np.ndarray, weights: np.ndarray, cut: float) -> np.ndarray:
    """(..., n_y, n_x) cells → (..., 8): ΣE, ΣxE, Σx²E, ΣyE, Σy²E, cells above ``cut``, two hottest cells.

    The five sums are one float64 matrix product of the ``(showers, cells)`` energy matrix with the
    coordinate columns ``weights`` of :func:`_moment_weights` (BLAS: a third of the time numpy's
    reductions along the short axes of a 12 × 12 layer take, the same float64 sums to rounding).
    Row blocks of at most :data:`BLAS_SERIAL_SIZE` multiply-adds keep BLAS in this thread. Float64, not
    float32: float32 sums would, through the cancellation in Σx²E/ΣE − centroid², leave
    spurious widths of ~0.02 mm in layers with one hot cell. The two hottest cells come from one argmax
    and a second max over the float64 block with the hottest set to −∞ (a quarter of the time of
    ``np.partition``, the same values, ties included)."""
    shape = cells.shape[:-2]
    flat = cells.reshape(-1, cells.shape[-2] * cells.shape[-1])
    summary = np.empty((len(flat), 8), dtype=np.float64)
    summary[:, 5] = np.count_nonzero(flat > cut, axis=-1)
    hottest_at = flat.argmax(axis=-1)
    summary[:, 6] = flat[np.arange(len(flat)), hottest_at]
    rows = max(BLAS_SERIAL_SIZE // weights.size, 1)
    for start in range(0, len(flat), rows):
        block = flat[start:start + rows].astype(np.float64)
        np.matmul(block, weights, out=summary[start:start + rows, :5])
        block[np.arange(len(block)), hottest_at[start:start + rows]] = -np.inf  # the hottest out: max is the second
        block.max(axis=-1, out=summary[start:start + rows, 7])
    if flat.shape[-1] == 1:
        summary[:, 7] = 0.0
    return summary.reshape(*shape, 8)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den, 0 where den is 0 (an empty shower or layer)."""
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def _table_kernel(*arrays: np.ndarray, weights: list[np.ndarray], cut: float, n_cells: np.ndarray,
                  thickness: np.ndarray, incident_factor: float | None) -> np.ndarray:
    """Every shower observable of one block of events in one pass → ``(events, columns)``: the per-layer
    observables of :data:`PER_LAYER` (layer-major blocks), then :data:`PER_SHOWER`.

    ``arrays``: the cells of each layer ``(events, y, x)`` (or the one voxel array ``(events, z, y, x)``)
    and, with ``incident_factor``, the incident energy ``(events,)``; ``weights`` the coordinate
    columns of :func:`_moment_weights` of each layer (of the one (y, x) grid of a voxel array)."""
    layers = len(arrays) - (incident_factor is not None)
    if arrays[0].ndim == 4:  # voxel: the same (y, x) grid for every z layer
        summary = _summary_kernel(arrays[0], weights[0], cut)
    else:
        summary = np.stack([_summary_kernel(c, w, cut) for c, w in zip(arrays[:layers], weights, strict=True)],
                           axis=-2)
    energy, active, hottest, second = summary[..., 0], summary[..., 5], summary[..., 6], summary[..., 7]
    n, n_layers = energy.shape
    table = np.empty((n, len(PER_LAYER) * n_layers + len(PER_SHOWER) - (incident_factor is None)))
    column = dict(zip(PER_LAYER, table[:, :len(PER_LAYER) * n_layers].reshape(n, len(PER_LAYER), n_layers)
                      .transpose(1, 0, 2), strict=True))  # (events, layer) views of the table's layer-major blocks
    total = np.einsum("el->e", energy)  # einsum, not sum(axis=-1): 4× faster along a short axis
    moments = _ratio(summary[..., 1:5], energy[..., None])  # ⟨x⟩, ⟨x²⟩, ⟨y⟩, ⟨y²⟩
    column["layer_energy"][:] = energy
    column["energy_fraction"][:] = _ratio(energy, total[:, None])
    column["centroid_x"][:], column["centroid_y"][:] = moments[..., 0], moments[..., 2]
    column["width_x"][:] = np.sqrt(np.clip(moments[..., 1] - moments[..., 0] ** 2, 0.0, None))
    column["width_y"][:] = np.sqrt(np.clip(moments[..., 3] - moments[..., 2] ** 2, 0.0, None))
    np.divide(active, n_cells, out=column["sparsity_calogan"])
    np.subtract(1.0, column["sparsity_calogan"], out=column["sparsity_calochallenge"])
    column["e_ratio"][:] = _ratio(hottest - second, hottest + second)
    np.divide(energy, thickness, out=column["longitudinal_profile"])
    index = np.arange(n_layers, dtype=np.float64)
    per_shower = table[:, len(PER_LAYER) * n_layers:]
    lateral = np.einsum("el,l->e", energy, index)  # not energy @ index: a BLAS gemv would start threads
    depth_mean = _ratio(lateral, total)
    per_shower[:, 0], per_shower[:, 1], per_shower[:, 4] = total, depth_mean, lateral
    per_shower[:, 2] = np.sqrt(np.clip(_ratio(np.einsum("el,l->e", energy, index**2), total) - depth_mean**2, 0.0, None))
    hit = active[:, ::-1] > 0  # the deepest layer with an active cell: the first hit from the back
    per_shower[:, 3] = np.where(hit.any(axis=-1), n_layers - 1 - hit.argmax(axis=-1), -1)
    if incident_factor is not None:
        per_shower[:, 5] = _ratio(total * incident_factor, arrays[-1].astype(np.float64))
    return table


TABLE_EVENTS = 50_000
"""Events per block of the lazy shower table: whole kernel blocks (the store's event chunks) merged up to
this size, so each observable's column views and reductions are a tenth as many tasks as store chunks
(the table is 50-odd float64 numbers per shower, a 50 000-event block 20 MB)."""


def _table_blocks(*arrays, n_columns: int, **kwargs):
    """:func:`_table_kernel` on numpy arrays, or block by block on dask arrays: one kernel task per event
    chunk (all cells of an event in one block, the incident energy aligned with it), its outputs merged
    into table blocks of about :data:`TABLE_EVENTS` events."""
    if not any(isinstance(a, da.Array) for a in arrays):
        return _table_kernel(*arrays, **kwargs)
    arrays = [da.asarray(a) for a in arrays]
    events = arrays[0].rechunk({d: -1 for d in range(1, arrays[0].ndim)}).chunks[0]
    arrays = [a.rechunk({0: events, **{d: -1 for d in range(1, a.ndim)}}) for a in arrays]
    indexed = [item for i, a in enumerate(arrays) for item in (a, (EVENT, *(f"{i}_{d}" for d in range(1, a.ndim))))]
    table = da.blockwise(_table_kernel, (EVENT, "column"), *indexed, new_axes={"column": n_columns},
                         dtype=np.float64, concatenate=True, **kwargs)
    merge = max(1, TABLE_EVENTS // max(events))
    return table.rechunk({0: tuple(sum(events[i:i + merge]) for i in range(0, len(events), merge))})


def _layer_weights(cells: xr.DataArray, ydim: str, xdim: str) -> np.ndarray:
    return _moment_weights(cells[ydim].values, cells[xdim].values)


def _has_incident_energy(ds: xr.Dataset) -> bool:
    """a calorimeter with a per-event incident 'energy' feature"""
    return is_calorimeter(ds) and "energy" in ds.data_vars and ds["energy"].dims == (EVENT,)


def shower_table(ds: xr.Dataset) -> xr.DataArray:
    """All shower observables of a layered or voxel calorimeter as columns ``(event, column)`` of one
    lazy array: one kernel task per event chunk reads every layer once and computes every column, so
    the graph does not grow with the number of observables asked for (each is a column view of this
    one; dask builds it once per dataset, the keys being deterministic). The kernel outputs are merged
    into blocks of :data:`TABLE_EVENTS` events, so the column views are few tasks too. Cells above the
    detector threshold count as active. Built once per :func:`physgen.observables.compute` call and
    shared by its observables."""
    return shared(("calo.shower_table", id(ds)), lambda: _shower_table(ds))


def _shower_table(ds: xr.Dataset) -> xr.DataArray:
    units = _energy_units(ds)
    cut = threshold(ds, units)
    if is_layered(ds):
        cells = layer_arrays(ds)
        core = [[c.dims[1], c.dims[2]] for c in cells]
        weights = [_layer_weights(c, *dims) for c, dims in zip(cells, core, strict=True)]
        n_cells = np.array([c.shape[1] * c.shape[2] for c in cells], dtype=np.float64)
        edges = layer_depths_mm(ds, "layer")
    else:
        cells = [voxel_energy(ds)]
        core = [["z", "y", "x"]]
        weights = [_layer_weights(cells[0], "y", "x")]
        n_cells = np.full(cells[0].sizes["z"], cells[0].sizes["y"] * cells[0].sizes["x"], dtype=np.float64)
        edges = layer_depths_mm(ds, "z")
    factor = None
    if _has_incident_energy(ds):
        factor = conversion_factor(units, ds["energy"].attrs.get("units", "GeV"))
        cells, core = [*cells, ds["energy"]], [*core, []]
    n_layers = len(n_cells)
    n_columns = len(PER_LAYER) * n_layers + len(PER_SHOWER) - (factor is None)
    return xr.apply_ufunc(
        _table_blocks, *cells,
        kwargs={"weights": weights, "cut": cut, "n_cells": n_cells,
                "thickness": np.diff(edges), "incident_factor": factor, "n_columns": n_columns},
        input_core_dims=core, output_core_dims=[["column"]], dask="allowed",
    )


def _column(ds: xr.Dataset, name: str) -> xr.DataArray:
    """Observable ``name`` of :func:`shower_table`: a per-shower column, or its per-layer block along ``layer``."""
    table = shower_table(ds)
    n_layers = ds.sizes["layer"] if is_layered(ds) else voxel_energy(ds).sizes["z"]
    if name in PER_SHOWER:
        return table.isel(column=len(PER_LAYER) * n_layers + PER_SHOWER.index(name), drop=True)
    start = PER_LAYER.index(name) * n_layers
    return table.isel(column=slice(start, start + n_layers)).rename(column="layer")


def _layer_summary(cells: xr.DataArray, ydim: str, xdim: str, cut: float) -> xr.DataArray:
    return xr.apply_ufunc(
        _summary_kernel, cells, kwargs={"weights": _layer_weights(cells, ydim, xdim), "cut": cut},
        input_core_dims=[[ydim, xdim]], output_core_dims=[["stat"]],
        dask="parallelized", output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"stat": len(STATS)}, "allow_rechunk": True},
    ).assign_coords(stat=list(STATS))


def layer_summary(ds: xr.Dataset) -> xr.DataArray:
    """Per-layer sums (dims event, layer, stat) of a layered or voxel calorimeter, cells above the
    detector threshold counted as active: the sums every shower shape follows from (the observables
    take them from :func:`shower_table`, which computes them in the same kernel)."""
    cut = threshold(ds, _energy_units(ds))
    if is_layered(ds):
        parts = [_layer_summary(cells, cells.dims[1], cells.dims[2], cut) for cells in layer_arrays(ds)]
        return xr.concat(parts, dim=ds["layer"], coords="minimal", compat="override").transpose(EVENT, "layer", "stat")
    energy = voxel_energy(ds)
    return _layer_summary(energy, "y", "x", cut).rename(z="layer").drop_vars(["y", "x"], errors="ignore")


def _layer_coord(ds: xr.Dataset) -> xr.DataArray:
    return ds["layer"] if is_layered(ds) else ds["z"].rename(z="layer")


def _per_layer(ds: xr.Dataset, name: str) -> xr.DataArray:
    return _column(ds, name).assign_coords(layer=_layer_coord(ds))


@observable("layer_energy", units=None, long_name="energy per layer", requires=is_calorimeter)
def layer_energy(ds: xr.Dataset) -> xr.DataArray:
    """E_i = Σ cells of layer i (overflow excluded)."""
    return _per_layer(ds, "layer_energy").assign_attrs(units=_energy_units(ds))


@observable("total_energy", units=None, long_name="total deposited energy (sum of layers)", requires=is_calorimeter)
def total_energy(ds: xr.Dataset) -> xr.DataArray:
    return _column(ds, "total_energy").assign_attrs(units=_energy_units(ds))


@observable("energy_fraction", units="dimensionless", long_name="fraction of the energy per layer E_i/E_tot",
            requires=is_calorimeter)
def energy_fraction(ds: xr.Dataset) -> xr.DataArray:
    return _per_layer(ds, "energy_fraction")


@observable("total_over_incident", units="dimensionless", long_name="deposited over incident energy E_tot/E_inc",
            requires=_has_incident_energy)
def total_over_incident(ds: xr.Dataset) -> xr.DataArray:
    """Units converted with pint: cells in MeV, incident ``energy`` in GeV in the shipped specs."""
    return _column(ds, "total_over_incident")


@observable("shower_depth", units="dimensionless", long_name="shower depth Σ i·E_i / E_tot (layer index)",
            requires=is_calorimeter)
def shower_depth(ds: xr.Dataset) -> xr.DataArray:
    return _column(ds, "shower_depth")


@observable("shower_depth_width", units="dimensionless", long_name="width of the shower depth (layer index)",
            requires=is_calorimeter)
def shower_depth_width(ds: xr.Dataset) -> xr.DataArray:
    """√(Σ i² E_i / E_tot − depth²)."""
    return _column(ds, "shower_depth_width")


@observable("depth", units="dimensionless", long_name="deepest layer with a cell above threshold (layer index)",
            requires=is_calorimeter)
def depth(ds: xr.Dataset) -> xr.DataArray:
    """d = max{i : layer i has a cell above threshold} (CaloGAN, Paganini et al., arXiv:1705.02355);
    −1 for a shower without any such cell."""
    return _column(ds, "depth")


@observable("lateral_depth", units=None, long_name="lateral depth Σ i·E_i (layer index × energy)",
            requires=is_calorimeter)
def lateral_depth(ds: xr.Dataset) -> xr.DataArray:
    """l_d = Σᵢ i·Eᵢ (CaloGAN, arXiv:1705.02355); divided by E_tot it is the shower depth."""
    return _column(ds, "lateral_depth").assign_attrs(units=_energy_units(ds))


def _register_moments(axis: str) -> tuple[Callable, Callable]:
    """Energy-weighted centroid and width (second moment) of the cell centres along ``axis`` per layer."""

    @observable(f"centroid_{axis}", units="mm", long_name=f"energy-weighted centroid in {axis} per layer",
                requires=is_calorimeter)
    def centroid(ds: xr.Dataset) -> xr.DataArray:
        return _per_layer(ds, f"centroid_{axis}")

    @observable(f"width_{axis}", units="mm", long_name=f"energy-weighted width (second moment) in {axis} per layer",
                requires=is_calorimeter)
    def spread(ds: xr.Dataset) -> xr.DataArray:
        """√(Σ x² E / Σ E − centroid²)."""
        return _per_layer(ds, f"width_{axis}")

    return centroid, spread


centroid_x, width_x = _register_moments("x")
centroid_y, width_y = _register_moments("y")


@observable("sparsity_calogan", units="dimensionless",
            long_name="fraction of cells above threshold per layer (CaloGAN's sparsity)", requires=is_calorimeter)
def sparsity_calogan(ds: xr.Dataset) -> xr.DataArray:
    """The CaloGAN paper's "sparsity": the fraction of a layer's cells with energy (above the threshold)."""
    return _per_layer(ds, "sparsity_calogan")


@observable("sparsity_calochallenge", units="dimensionless",
            long_name="fraction of cells at or below threshold per layer (the CaloChallenge's sparsity)",
            requires=is_calorimeter)
def sparsity_calochallenge(ds: xr.Dataset) -> xr.DataArray:
    """The CaloChallenge's "sparsity" (``HighLevelFeatures._calculate_sparsity``): 1 − the CaloGAN one."""
    return _per_layer(ds, "sparsity_calochallenge")


@observable("e_ratio", units="dimensionless", long_name="E_ratio (E1 − E2)/(E1 + E2) of the two hottest cells per layer",
            requires=is_calorimeter)
def e_ratio(ds: xr.Dataset) -> xr.DataArray:
    """0 for an empty layer."""
    return _per_layer(ds, "e_ratio")


@observable("longitudinal_profile", units=None, long_name="energy per unit depth of each layer",
            requires=is_calorimeter)
def longitudinal_profile(ds: xr.Dataset) -> xr.DataArray:
    """E_i / thickness_i (energy per mm), with the layer-centre depth (mm) as coordinate ``layer_depth``."""
    edges = layer_depths_mm(ds, "layer" if is_layered(ds) else "z")
    centre = xr.DataArray(0.5 * (edges[1:] + edges[:-1]), dims="layer", attrs={"units": "mm"})
    return (_per_layer(ds, "longitudinal_profile").assign_coords(layer_depth=centre)
            .assign_attrs(units=f"{_energy_units(ds)}/mm"))
