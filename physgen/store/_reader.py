"""Opening stores lazily as dask-backed ``xarray.Dataset`` s, and validating them."""

from __future__ import annotations

import os
from typing import Any

import dask
import dask.array as da
import numpy as np
import pint
import xarray as xr

from physgen.progress import event_progress
from physgen.schema import EVENT
from physgen.store._url import ATTR, normalise_url, open_physgen_group
from physgen.units import ureg

__all__ = ["open_store", "read_provenance", "validate_store"]


def read_provenance(url: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``physgen`` root attributes of a store (provenance and commit counter)."""
    return open_physgen_group(normalise_url(url), mode="r")[1]


def open_store(url: str | os.PathLike[str], *, chunks: dict[str, int] | None = None) -> xr.Dataset:
    """Open a store lazily: dask arrays chunked as on disk, only committed events visible.

    Each per-event array is cut to the committed event count on its own, so a store whose
    last append was interrupted (arrays of different lengths on disk) opens at its last
    commit. ``chunks={"event": n}`` re-chunks the dask arrays without touching the store.
    """
    url = normalise_url(url)
    group, meta = open_physgen_group(url, mode="r")
    committed = int(meta["committed_events"])
    event_chunks = (chunks or {}).get(EVENT)
    # schema variables, then variables added later (weights), in commit order; arrays left by an
    # interrupted add_variable are not listed and stay hidden
    visible = [*meta.get("schema", {}), *meta.get("extra_variables", {})]
    coords, data_vars = {}, {}
    for name, array in group.arrays():
        dims = tuple(array.metadata.dimension_names or ())
        attrs = dict(array.attrs)
        if dims == (name,) and EVENT not in dims:
            coords[name] = xr.Variable(dims, array[...], attrs)
        elif dims and dims[0] == EVENT and name in visible:
            data = da.from_zarr(array)[:committed]
            if event_chunks:
                data = data.rechunk({0: event_chunks})
            data_vars[name] = xr.Variable(dims, data, attrs)
    ds = xr.Dataset({name: data_vars[name] for name in visible if name in data_vars}, coords=coords,
                    attrs={ATTR: meta})
    ds.encoding["source"] = url
    return ds


def validate_store(url: str | os.PathLike[str], *, check_values: bool = True, progress: bool = False) -> list[str]:
    """Problems found in a store (empty list: valid). Opening failures raise :class:`StoreError`.

    ``check_values`` reads every schema variable once, chunk by chunk (``progress``: with an events/s bar),
    for NaN/inf and values outside ``valid_range``."""
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
        if var.chunks and any(len(c) > 1 for c in var.chunks[1:]):
            problems.append(f"variable {name!r} is chunked along non-event dims: {var.chunks}")
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
        problems += _value_problems(ds, meta, progress=progress, label=os.fspath(url))
    return problems


def _value_problems(ds: xr.Dataset, meta: dict[str, Any], *, progress: bool, label: str) -> list[str]:
    """NaN/inf and out-of-range values of the numeric schema variables, in one pass over the events."""
    n_events = int(ds.sizes.get(EVENT, 0))
    names = [n for n in meta.get("schema", {}) if np.issubdtype(ds[n].dtype, np.number)]
    if not n_events or not names:
        return []
    low, high = dict.fromkeys(names, np.inf), dict.fromkeys(names, -np.inf)
    step = max(int(meta.get("chunk_events") or n_events), 1)
    with event_progress(f"validate {label}", total=n_events, enabled=progress) as advance:
        for start in range(0, n_events, step):
            part = ds[names].isel({EVENT: slice(start, start + step)})
            lows, highs = dask.compute({n: part[n].min(skipna=False) for n in names},
                                       {n: part[n].max(skipna=False) for n in names})
            for n in names:  # a NaN anywhere (min/max with skipna=False) stays NaN
                low[n] = min(low[n], float(lows[n])) if not np.isnan(lows[n]) else np.nan
                high[n] = max(high[n], float(highs[n])) if not np.isnan(highs[n]) else np.nan
            advance(min(step, n_events - start))
    problems = []
    for n in names:
        valid = ds[n].attrs.get("valid_range")
        if not (np.isfinite(low[n]) and np.isfinite(high[n])):
            problems.append(f"variable {n!r} holds NaN or inf")
        elif valid is not None and (low[n] < valid[0] or high[n] > valid[1]):
            problems.append(f"variable {n!r}: values [{low[n]:g}, {high[n]:g}] outside valid_range {valid}")
    return problems
