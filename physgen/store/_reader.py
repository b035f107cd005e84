"""Opening stores lazily as dask-backed ``xarray.Dataset`` s, and validating them."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pint
import xarray as xr
import zarr.errors

from physgen.errors import StoreError
from physgen.schema import EVENT
from physgen.store._url import normalise_url, open_root, zarr_store
from physgen.store._writer import ATTR
from physgen.units import ureg

__all__ = ["open_store", "read_provenance", "validate_store"]


def read_provenance(url: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``physgen`` root attributes of a store (provenance and commit counter)."""
    url = normalise_url(url)
    try:
        group = open_root(url, mode="r")
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, zarr.errors.NodeTypeValidationError):
        msg = f"no physgen store at {url!r}"
        raise StoreError(msg) from None
    except Exception as exc:  # corrupt metadata surfaces as JSON/value errors from zarr
        msg = f"cannot open {url!r} as a Zarr store: {exc}"
        raise StoreError(msg) from None
    meta = group.attrs.get(ATTR)
    if not isinstance(meta, dict) or "committed_events" not in meta:
        msg = f"{url!r} is a Zarr group but not a physgen store (no '{ATTR}' attributes)"
        raise StoreError(msg)
    return dict(meta)


def open_store(url: str | os.PathLike[str], *, chunks: dict[str, int] | None = None) -> xr.Dataset:
    """Open a store lazily: dask arrays chunked as on disk, only committed events visible.

    ``chunks`` overrides the dask chunking (e.g. ``{"event": 50_000}``) without touching the store.
    """
    url = normalise_url(url)
    meta = read_provenance(url)
    try:
        ds = xr.open_zarr(zarr_store(url, read_only=True), consolidated=False, zarr_format=3,
                          chunks=chunks if chunks is not None else {}, mask_and_scale=False,
                          drop_variables=_uncommitted_arrays(url, meta))
    except Exception as exc:
        msg = f"cannot open {url!r} with xarray: {exc}"
        raise StoreError(msg) from None
    ds = ds.isel({EVENT: slice(0, int(meta["committed_events"]))}) if EVENT in ds.dims else ds
    ordered = [name for name in (*meta.get("schema", {}), *meta.get("extra_variables", {})) if name in ds.data_vars]
    ds = ds[ordered + [name for name in ds.data_vars if name not in ordered]]
    ds.attrs = {ATTR: meta}
    ds.encoding["source"] = url
    return ds


def _uncommitted_arrays(url: str, meta: dict[str, Any]) -> list[str]:
    """Arrays that are neither in the schema, coordinates, nor committed added variables
    (left by an interrupted :func:`physgen.store.add_variable`): hidden from readers."""
    group = open_root(url, mode="r")
    visible = set(meta.get("schema", {})) | set(meta.get("extra_variables", {}))
    return [name for name in group.array_keys()
            if name not in visible and EVENT in (group[name].metadata.dimension_names or ())]


def validate_store(url: str | os.PathLike[str], *, check_values: bool = True) -> list[str]:
    """Problems found in a store (empty list: valid). Opening failures raise :class:`StoreError`."""
    ds = open_store(url)
    meta = ds.attrs[ATTR]
    problems: list[str] = []
    for key in ("specs", "producer", "physgen_version", "created", "schema", "chunk_events"):
        if key not in meta:
            problems.append(f"provenance lacks {key!r}")
    for name, expected in meta.get("schema", {}).items():
        if name not in ds:
            problems.append(f"variable {name!r} of the schema is missing")
            continue
        var = ds[name]
        if list(var.dims) != [EVENT, *expected["dims"]] or list(var.shape[1:]) != expected["shape"]:
            problems.append(f"variable {name!r}: dims {var.dims} shape {var.shape} do not match the schema {expected}")
        if str(var.dtype) != expected["dtype"]:
            problems.append(f"variable {name!r}: dtype {var.dtype} != schema {expected['dtype']}")
        chunks = var.encoding.get("chunks") or var.encoding.get("preferred_chunks")
        if isinstance(chunks, tuple) and tuple(chunks[1:]) != tuple(var.shape[1:]):
            problems.append(f"variable {name!r} is chunked along non-event dims: {chunks}")
    for name, expected in meta.get("extra_variables", {}).items():
        if name not in ds:
            problems.append(f"added variable {name!r} is committed but missing")
        elif ds[name].dims != (EVENT,) or str(ds[name].dtype) != expected["dtype"]:
            problems.append(f"added variable {name!r}: dims {ds[name].dims} dtype {ds[name].dtype} do not match "
                            f"its record ((event,), {expected['dtype']})")
    for name, var in ds.variables.items():
        units = var.attrs.get("units")
        if units is None:
            problems.append(f"variable {name!r} has no 'units' attribute")
            continue
        try:
            ureg.Unit(units)
        except (pint.errors.UndefinedUnitError, ValueError, AttributeError) as exc:
            problems.append(f"variable {name!r}: units {units!r} do not parse with pint ({exc})")
    if not problems:
        try:
            ds.pint.quantify()
        except Exception as exc:
            problems.append(f"ds.pint.quantify() fails: {exc}")
    if check_values and not problems:
        for name in meta.get("schema", {}):
            var = ds[name]
            valid = var.attrs.get("valid_range")
            if ds.sizes.get(EVENT, 0) == 0 or not np.issubdtype(var.dtype, np.number):
                continue
            lo, hi = (float(var.min().compute()), float(var.max().compute()))
            if not (np.isfinite(lo) and np.isfinite(hi)):
                problems.append(f"variable {name!r} holds NaN or inf")
            elif valid is not None and (lo < valid[0] or hi > valid[1]):
                problems.append(f"variable {name!r}: values [{lo:g}, {hi:g}] outside valid_range {valid}")
    return problems
