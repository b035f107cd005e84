"""Recognising what a dataset holds, from dimension names alone (see physgen.geometry):
a jet image ``(event, eta, phi)``, layered calorimeter layers listed in the ``layer``
coordinate's ``names``, a voxel calorimeter ``(event, z, y, x)``, or the flattened
(layer, α, r) voxels ``(event, voxel)`` of a cylindrical (CaloChallenge) calorimeter."""

from __future__ import annotations

import functools

import numpy as np
import xarray as xr
import yaml

from physgen.schema import EVENT
from physgen.specs import parse_spec
from physgen.units import ureg

__all__ = [
    "is_cylindrical", "is_jet_image", "is_layered", "is_voxel", "jet_image", "layer_arrays", "voxel_energy",
    "cylindrical_showers",
    "layer_depths_mm", "conversion_factor", "threshold",
]

IMAGE_DIMS = (EVENT, "eta", "phi")
VOXEL_DIMS = (EVENT, "z", "y", "x")
CYLINDRICAL_DIMS = (EVENT, "voxel")


def _with_dims(ds: xr.Dataset, dims: tuple[str, ...]) -> list[str]:
    return [name for name, var in ds.data_vars.items() if var.dims == dims]


def is_jet_image(ds: xr.Dataset) -> bool:
    """a jet image with dims (event, eta, phi)"""
    return len(_with_dims(ds, IMAGE_DIMS)) == 1


def is_layered(ds: xr.Dataset) -> bool:
    """a layered calorimeter (cell variables named in the 'layer' coordinate's 'names')"""
    names = ds.coords["layer"].attrs.get("names") if "layer" in ds.coords else None
    return bool(names) and all(n in ds.data_vars and ds[n].ndim == 3 for n in names)


def is_voxel(ds: xr.Dataset) -> bool:
    """a voxel calorimeter with dims (event, z, y, x)"""
    return len(_with_dims(ds, VOXEL_DIMS)) == 1


def is_cylindrical(ds: xr.Dataset) -> bool:
    """a cylindrical calorimeter with dims (event, voxel) mapped to (layer, alpha, r) bins"""
    return len(_with_dims(ds, CYLINDRICAL_DIMS)) == 1 and "r_edges_mm" in ds["voxel"].attrs


def cylindrical_showers(ds: xr.Dataset) -> xr.DataArray:
    return ds[_with_dims(ds, CYLINDRICAL_DIMS)[0]]


def jet_image(ds: xr.Dataset) -> xr.DataArray:
    return ds[_with_dims(ds, IMAGE_DIMS)[0]]


def voxel_energy(ds: xr.Dataset) -> xr.DataArray:
    return ds[_with_dims(ds, VOXEL_DIMS)[0]]


def layer_arrays(ds: xr.Dataset) -> list[xr.DataArray]:
    """The cell arrays of a layered calorimeter, front to back."""
    return [ds[name] for name in ds.coords["layer"].attrs["names"]]


def layer_depths_mm(ds: xr.Dataset, dim: str) -> np.ndarray:
    """Depth edges (mm) of the layers along ``dim`` ('layer' or 'z'), from the coordinate's attrs."""
    edges = ds.coords[dim].attrs.get("depth_edges_mm")
    return np.asarray(edges, dtype=float) if edges is not None else np.arange(ds.sizes[dim] + 1, dtype=float)


def conversion_factor(from_units: str, to_units: str) -> float:
    """Multiply a magnitude in ``from_units`` by this to get ``to_units`` (pint)."""
    return float(ureg.Quantity(1.0, from_units or "dimensionless").to(to_units or "dimensionless").magnitude)


def threshold(ds: xr.Dataset, units: str) -> float:
    """The detector's cell threshold (MIP cut) in ``units``; 0 when the store does not say."""
    entry = ds.attrs.get("physgen", {}).get("specs", {}).get("detector")
    return _threshold_of(entry["text"], units) if entry else 0.0


@functools.lru_cache(maxsize=32)
def _threshold_of(detector_text: str, units: str) -> float:
    """Parsed once per spec text: every observable of a store asks again while building its graph."""
    detector = parse_spec(yaml.safe_load(detector_text), source="store provenance (detector)", plugins=False)
    cut = getattr(detector.geometry, "threshold", None)
    return float(cut.to(units).magnitude) if cut is not None else 0.0
