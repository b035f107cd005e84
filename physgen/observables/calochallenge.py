"""High-level observables of cylindrical (CaloChallenge 2022) calorimeter stores, as the challenge's
``code/HighLevelFeatures.py`` defines them (Krause et al., arXiv:2410.21611; ``XMLHandler.py`` for
the voxel positions).

Voxels are flattened layer-major, then α, then r (``physgen.geometry``'s ``voxel`` coordinate).
Each voxel sits at the middle of its radial bin, r = rᵢ + (rᵢ₊₁ − rᵢ)/2, and the middle of its
angular bin, α = centre of the n_α equal bins of [−π, π]; its "η" and "φ" positions (in mm, the
challenge's Δη/Δφ axes) are r cos α and r sin α. Per layer (dim ``layer``, coordinate = the
detector's layer numbers, so columns are named as the challenge's ``E layer 12``):

- ``layer_energy``: Σ E of the layer; ``total_energy``: Σ E of all voxels;
  ``total_over_incident``: E_tot / E_inc (pint converts units);
- ``centroid_r`` / ``width_r``: Σ r E / Σ E and √(Σ r² E / Σ E − centroid²), every layer;
- ``centroid_eta`` / ``width_eta`` and ``centroid_phi`` / ``width_phi``: the same in η and φ, only
  for layers binned in α (n_α > 1), as the challenge (dim ``alpha_layer``);
- ``sparsity_calochallenge`` (1 − the fraction of voxels above the threshold, the challenge's
  "sparsity") and ``sparsity_calogan`` (the fraction above, CaloGAN's "sparsity").

Centres and widths divide by ΣE + 1e-16 as the challenge does (0 for an empty layer).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from physgen.observables._kinds import conversion_factor, cylindrical_showers, is_cylindrical, threshold
from physgen.observables._registry import observable
from physgen.schema import EVENT

__all__ = [
    "CHALLENGE_EPSILON", "CYLINDRICAL_STATS", "centroid_eta", "centroid_phi", "centroid_r", "cylindrical_summary", "layer_energy",
    "sparsity_calochallenge", "sparsity_calogan", "total_energy", "total_over_incident", "voxel_positions",
    "width_eta", "width_phi", "width_r",
]

CYLINDRICAL_STATS = ("energy", "sum_eta", "sum_eta2", "sum_phi", "sum_phi2", "sum_r", "sum_r2", "active")
"""Per-layer sums from which every observable of this module follows (one pass over the voxels)."""


def _midpoints(edges: np.ndarray) -> np.ndarray:
    return edges[:-1] + (edges[1:] - edges[:-1]) / 2  # the challenge's get_midpoint, operation for operation


def _table(rows: list[np.ndarray]) -> np.ndarray:
    """Rows of different lengths as one array padded with NaN (indexed by (layer, bin))."""
    out = np.full((len(rows), max(len(r) for r in rows)), np.nan)
    for i, row in enumerate(rows):
        out[i, :len(row)] = row
    return out


def voxel_positions(ds: xr.Dataset) -> dict[str, np.ndarray]:
    """Per voxel: ``layer`` (index of its layer), ``r``, ``eta``, ``phi`` (mm) and ``n_alpha`` of its layer."""
    attrs = ds["voxel"].attrs
    layer, alpha_bin, r_bin = (np.asarray(attrs[k], dtype=int) for k in ("layer_bin", "alpha_bin", "r_bin"))
    n_alpha = np.array([alpha_bin[layer == i].max() + 1 for i in range(layer.max() + 1)])
    r_mid = _table([_midpoints(np.asarray(edges, dtype=float)) for edges in attrs["r_edges_mm"]])
    alpha_mid = _table([_midpoints(np.linspace(-np.pi, np.pi, n + 1)) for n in n_alpha])
    r, alpha = r_mid[layer, r_bin], alpha_mid[layer, alpha_bin]
    return {"layer": layer, "r": r, "eta": r * np.cos(alpha), "phi": r * np.sin(alpha), "n_alpha": n_alpha}


def _summary_kernel(showers: np.ndarray, eta: np.ndarray, phi: np.ndarray, r: np.ndarray, starts: np.ndarray,
                    cut: float) -> np.ndarray:
    """(..., voxel) energies → (..., layer, 8): the sums of :data:`CYLINDRICAL_STATS` per layer."""
    e = showers.astype(np.float64)
    terms = [e, e * eta, e * eta**2, e * phi, e * phi**2, e * r, e * r**2, (showers > cut).astype(np.float64)]
    return np.stack([np.add.reduceat(t, starts, axis=-1) for t in terms], axis=-1)


def _layer_coord(ds: xr.Dataset) -> xr.DataArray:
    attrs = ds["voxel"].attrs
    n_layers = max(attrs["layer_bin"]) + 1
    ids = attrs.get("layer_ids") or list(range(n_layers))
    return xr.DataArray(np.asarray(ids, dtype=int), dims="layer", attrs={"long_name": "detector layer number"})


def _units(ds: xr.Dataset) -> str:
    return cylindrical_showers(ds).attrs.get("units", "MeV")


def cylindrical_summary(ds: xr.Dataset) -> xr.DataArray:
    """Per-layer sums (dims event, layer, stat); voxels above the detector threshold (0 when the
    spec sets none, as the challenge) count as active."""
    showers = cylindrical_showers(ds)
    where = voxel_positions(ds)
    starts = np.flatnonzero(np.diff(where["layer"], prepend=-1))
    summary = xr.apply_ufunc(
        _summary_kernel, showers, kwargs={"eta": where["eta"], "phi": where["phi"], "r": where["r"], "starts": starts,
                                          "cut": threshold(ds, _units(ds))},
        input_core_dims=[["voxel"]], output_core_dims=[["layer", "stat"]], dask="parallelized",
        output_dtypes=[np.float64],
        dask_gufunc_kwargs={"output_sizes": {"layer": len(starts), "stat": len(CYLINDRICAL_STATS)}, "allow_rechunk": True},
    )
    return summary.assign_coords(layer=_layer_coord(ds), stat=list(CYLINDRICAL_STATS))


def _stat(ds: xr.Dataset, name: str) -> xr.DataArray:
    return cylindrical_summary(ds).sel(stat=name, drop=True)


def _safe_ratio(num: xr.DataArray, den: xr.DataArray) -> xr.DataArray:
    return xr.where(den > 0, num / den.where(den > 0, 1.0), 0.0)


CHALLENGE_EPSILON = 1e-16
"""Added to ΣE in the challenge's centre and width denominators (an empty layer gives 0)."""


def _moments(ds: xr.Dataset, axis: str) -> tuple[xr.DataArray, xr.DataArray]:
    """Σ x E / (ΣE + ε) and √(Σ x² E / (ΣE + ε) − centre²), the challenge's arithmetic (its ε also
    leaves a width of ~1e-5 mm, not 0, for a layer with one voxel)."""
    energy = _stat(ds, "energy") + CHALLENGE_EPSILON
    mean = _stat(ds, f"sum_{axis}") / energy
    second = _stat(ds, f"sum_{axis}2") / energy
    return mean, np.sqrt((second - mean**2).clip(min=0.0))


def _alpha_binned(ds: xr.Dataset, values: xr.DataArray) -> xr.DataArray:
    """Only the layers binned in α (the challenge computes η/φ centres and widths for those alone), along
    their own dim ``alpha_layer`` (coordinate: the layer numbers) so they never align with NaN-padding."""
    binned = voxel_positions(ds)["n_alpha"] > 1
    return values.isel(layer=np.flatnonzero(binned)).rename(layer="alpha_layer")


def _has_alpha_bins(ds: xr.Dataset) -> bool:
    """a cylindrical calorimeter with at least one layer binned in alpha"""
    return is_cylindrical(ds) and bool(np.any(voxel_positions(ds)["n_alpha"] > 1))


@observable("layer_energy", units=None, long_name="energy per layer", requires=is_cylindrical)
def layer_energy(ds: xr.Dataset) -> xr.DataArray:
    return _stat(ds, "energy").assign_attrs(units=_units(ds))


@observable("total_energy", units=None, long_name="total deposited energy (sum of all voxels)", requires=is_cylindrical)
def total_energy(ds: xr.Dataset) -> xr.DataArray:
    return layer_energy(ds).sum("layer").assign_attrs(units=_units(ds))


def _has_incident_energy(ds: xr.Dataset) -> bool:
    """a cylindrical calorimeter with a per-event 'incident_energy' feature"""
    return is_cylindrical(ds) and "incident_energy" in ds.data_vars and ds["incident_energy"].dims == (EVENT,)


@observable("total_over_incident", units="dimensionless", long_name="deposited over incident energy E_tot/E_inc",
            requires=_has_incident_energy)
def total_over_incident(ds: xr.Dataset) -> xr.DataArray:
    incident = ds["incident_energy"].astype("float64")
    factor = conversion_factor(_units(ds), incident.attrs.get("units", "MeV"))
    return _safe_ratio(total_energy(ds) * factor, incident)


@observable("centroid_r", units="mm", long_name="energy-weighted centre in r per layer", requires=is_cylindrical)
def centroid_r(ds: xr.Dataset) -> xr.DataArray:
    return _moments(ds, "r")[0]


@observable("width_r", units="mm", long_name="energy-weighted width in r per layer", requires=is_cylindrical)
def width_r(ds: xr.Dataset) -> xr.DataArray:
    return _moments(ds, "r")[1]


@observable("centroid_eta", units="mm", long_name="energy-weighted centre in eta (r cos alpha) per alpha-binned layer",
            requires=_has_alpha_bins)
def centroid_eta(ds: xr.Dataset) -> xr.DataArray:
    return _alpha_binned(ds, _moments(ds, "eta")[0])


@observable("width_eta", units="mm", long_name="energy-weighted width in eta (r cos alpha) per alpha-binned layer",
            requires=_has_alpha_bins)
def width_eta(ds: xr.Dataset) -> xr.DataArray:
    return _alpha_binned(ds, _moments(ds, "eta")[1])


@observable("centroid_phi", units="mm", long_name="energy-weighted centre in phi (r sin alpha) per alpha-binned layer",
            requires=_has_alpha_bins)
def centroid_phi(ds: xr.Dataset) -> xr.DataArray:
    return _alpha_binned(ds, _moments(ds, "phi")[0])


@observable("width_phi", units="mm", long_name="energy-weighted width in phi (r sin alpha) per alpha-binned layer",
            requires=_has_alpha_bins)
def width_phi(ds: xr.Dataset) -> xr.DataArray:
    return _alpha_binned(ds, _moments(ds, "phi")[1])


def _n_voxels(ds: xr.Dataset) -> xr.DataArray:
    return xr.DataArray(np.bincount(voxel_positions(ds)["layer"]).astype(float), dims="layer")


@observable("sparsity_calogan", units="dimensionless",
            long_name="fraction of voxels above threshold per layer (CaloGAN's sparsity)", requires=is_cylindrical)
def sparsity_calogan(ds: xr.Dataset) -> xr.DataArray:
    return _stat(ds, "active") / _n_voxels(ds)


@observable("sparsity_calochallenge", units="dimensionless",
            long_name="fraction of voxels at or below threshold per layer (the CaloChallenge's sparsity)",
            requires=is_cylindrical)
def sparsity_calochallenge(ds: xr.Dataset) -> xr.DataArray:
    return 1.0 - sparsity_calogan(ds)
