"""Observables of voxel calorimeters (ILD, paper 004, docs/PHYSICS.md §3).

Layer energies, widths (second moments in x and y per layer), sparsity and the other
per-layer shower shapes are shared with layered calorimeters (:mod:`.calo`); this module
adds the hit count above the MIP threshold, the visible energy, the longitudinal centroid,
the radial profile and the 33 high-level features of the DCTR classifier of paper 004.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from physgen.observables._kinds import is_voxel, threshold, voxel_energy
from physgen.observables._registry import observable
from physgen.observables.calo import layer_energy

__all__ = ["n_hits", "visible_energy", "longitudinal_centroid", "radial_profile", "dctr_features_33", "RING_COUNT"]

CELLS = ("z", "y", "x")
RING_COUNT = 15
"""Radial-profile rings, each one cell pitch wide, around the grid centre (the beam axis)."""


def _units(ds: xr.Dataset) -> str:
    return voxel_energy(ds).attrs.get("units", "MeV")


@observable("n_hits", units="dimensionless", long_name="number of cells above the threshold (MIP cut)",
            requires=is_voxel)
def n_hits(ds: xr.Dataset) -> xr.DataArray:
    energy = voxel_energy(ds)
    return (energy > threshold(ds, _units(ds))).sum(CELLS).astype("int32")


@observable("visible_energy", units=None, long_name="visible energy (sum of all cells)", requires=is_voxel)
def visible_energy(ds: xr.Dataset) -> xr.DataArray:
    return voxel_energy(ds).astype("float64").sum(CELLS).assign_attrs(units=_units(ds))


@observable("longitudinal_centroid", units="dimensionless", long_name="longitudinal centroid Σ i·E_i / Σ E_i (layer index)",
            requires=is_voxel)
def longitudinal_centroid(ds: xr.Dataset) -> xr.DataArray:
    e = layer_energy(ds)
    index = xr.DataArray(np.arange(e.sizes["layer"], dtype=float), dims="layer")
    total = e.sum("layer")
    return xr.where(total > 0, (index * e).sum("layer") / total.where(total > 0, 1.0), 0.0)


@observable("radial_profile", units=None, long_name="energy in rings of one cell pitch around the grid centre",
            requires=is_voxel)
def radial_profile(ds: xr.Dataset) -> xr.DataArray:
    """Energy summed over layers in rings r ∈ [k·pitch, (k+1)·pitch), k < RING_COUNT (last ring open).

    The coordinate ``r`` is the ring's centre rounded to 0.1 mm (the pitch comes from the cell edges, whose
    floating-point sums would otherwise name the columns ``radial_profile_73.77600000000012``)."""
    energy = voxel_energy(ds)
    x, y = ds["x"].astype("float64"), ds["y"].astype("float64")
    pitch = float(np.abs(np.diff(ds["x"].attrs.get("edges", [0.0, 1.0])[:2]))[0])
    ring = np.minimum(np.floor(np.hypot(x, y) / pitch), RING_COUNT - 1)
    onehot = (ring == xr.DataArray(np.arange(RING_COUNT), dims="r")).astype("float64")
    profile = xr.dot(energy.astype("float64").sum("z"), onehot, dim=("y", "x"))
    r_centre = xr.DataArray(np.round((np.arange(RING_COUNT) + 0.5) * pitch, 1), dims="r", attrs={"units": "mm"})
    return profile.assign_coords(r=r_centre).assign_attrs(units=_units(ds))


@observable("dctr_features_33", units="dimensionless",
            long_name="33 DCTR features: n_hits, longitudinal centroid, visible energy, 30 layer energies (energies in cell units)",
            requires=is_voxel)
def dctr_features_33(ds: xr.Dataset) -> xr.DataArray:
    """The high-level inputs of paper 004's DCTR classifier, along dim ``feature`` (labels as coordinate)."""
    layers = layer_energy(ds)
    scalars = {"n_hits": n_hits(ds).astype("float64"), "longitudinal_centroid": longitudinal_centroid(ds),
               "visible_energy": visible_energy(ds)}
    columns = [value.expand_dims(feature=[label]) for label, value in scalars.items()]
    labels = [f"layer_energy_{i}" for i in range(layers.sizes["layer"])]
    columns.append(layers.rename(layer="feature").assign_coords(feature=labels))
    return xr.concat(columns, dim="feature", coords="minimal", compat="override").transpose("event", "feature")
