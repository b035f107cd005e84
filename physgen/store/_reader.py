"""Opening stores lazily as dask-backed ``xarray.Dataset`` s, and validating them.

Whatever is wrong with a store on disk — damaged metadata, a commit counter that does not fit
the arrays, a damaged or missing chunk — is a :class:`physgen.errors.StoreError` naming the store,
the variable (or file) and the events, never a traceback or silently wrong values.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import dask
import dask.array as da
import numpy as np
import pint
import xarray as xr
import zarr
from dask.base import tokenize

from physgen.progress import event_progress
from physgen.errors import StoreError
from physgen.schema import EVENT
from physgen.store._chunks import EVERY_CHUNK_WRITTEN, CheckedArray, check_present, missing_chunks
from physgen.store._url import ATTR, EXTRA, normalise_url, open_physgen_group
from physgen.units import ureg

__all__ = ["open_store", "read_provenance", "validate_store"]


def read_provenance(url: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``physgen`` root attributes of a store (provenance and commit counter)."""
    return open_physgen_group(normalise_url(url), mode="r")[1]


def _members(group: zarr.Group, meta: dict[str, Any], url: str) -> tuple[dict[str, zarr.Array], bool]:
    """Every array of the store, and whether it carries the every-chunk-written mark; a damaged array
    ``zarr.json`` is a :class:`StoreError` naming the file."""
    try:
        with warnings.catch_warnings():  # "not recognized as a component": a lost array is reported below
            warnings.filterwarnings("ignore", "Object at .* is not recognized", category=UserWarning)
            members = dict(group.members())
    except Exception as exc:  # JSON or metadata errors of one member; find which to name it
        expected = [*meta.get("schema", {}), *meta.get(EXTRA, {})]
        expected += [d for v in meta.get("schema", {}).values() for d in v.get("dims", [])]
        for name in dict.fromkeys(expected):
            try:
                group[name]
            except KeyError:
                continue
            except Exception as inner:
                msg = f"{url}/{name}/zarr.json is damaged ({type(inner).__name__}: {inner})"
                raise StoreError(msg) from None
        msg = f"cannot list the arrays of {url!r}: a member's metadata is damaged ({type(exc).__name__}: {exc})"
        raise StoreError(msg) from None
    arrays = {name: node for name, node in members.items() if isinstance(node, zarr.Array)}
    return arrays, isinstance(members.get(EVERY_CHUNK_WRITTEN), zarr.Group)


def _event_data(array: zarr.Array, url: str, name: str, committed: int, meta: dict[str, Any],
                every_chunk: bool) -> da.Array:
    if array.shape[0] < committed:
        msg = (f"{url}: physgen.committed_events is {committed} but variable {name!r} holds only {array.shape[0]} "
               f"events; the root metadata or the array's zarr.json is damaged")
        raise StoreError(msg)
    checked = CheckedArray(array, url, name, check_missing=every_chunk)
    token = tokenize(url, name, array.shape, array.chunks, str(array.dtype), meta.get("created"), committed)
    return da.from_array(checked, chunks=array.chunks, name=f"physgen-{name}-{token}", lock=False, fancy=False,
                         meta=np.empty((0,) * array.ndim, dtype=array.dtype))[:committed]


def open_store(url: str | os.PathLike[str], *, chunks: dict[str, int] | None = None) -> xr.Dataset:
    """Open a store lazily: dask arrays chunked as on disk, only committed events visible.

    Each per-event array is cut to the committed event count on its own, so a store whose
    last append was interrupted (arrays of different lengths on disk) opens at its last
    commit. ``chunks={"event": n}`` re-chunks the dask arrays without touching the store.
    Consolidated metadata (which xarray writes by default) is not read: the arrays' own
    metadata is, so a store opens the same with or without it.
    """
    url = normalise_url(url)
    group, meta = open_physgen_group(url, mode="r")
    committed = int(meta["committed_events"])
    event_chunks = (chunks or {}).get(EVENT)
    # schema variables, then variables added later (weights), in commit order; arrays left by an
    # interrupted add_variable are not listed and stay hidden
    visible = [*meta.get("schema", {}), *meta.get(EXTRA, {})]
    coords, data_vars = {}, {}
    arrays, every_chunk = _members(group, meta, url)
    for name, array in arrays.items():
        dims = tuple(array.metadata.dimension_names or ())
        attrs = dict(array.attrs)
        if dims == (name,) and EVENT not in dims:
            try:
                values = array[...]
            except Exception as exc:
                msg = f"{url}: coordinate {name!r} cannot be read ({type(exc).__name__}: {exc})"
                raise StoreError(msg) from None
            if every_chunk and values.size and not np.any(values):
                check_present(url, name, array, tuple(slice(0, n) for n in array.shape))
            coords[name] = xr.Variable(dims, values, attrs)
        elif dims and dims[0] == EVENT and name in visible:
            data = _event_data(array, url, name, committed, meta, every_chunk)
            if event_chunks:
                data = data.rechunk({0: event_chunks})
            data_vars[name] = xr.Variable(dims, data, attrs)
    lost = [name for name in visible if name not in data_vars]
    if lost:
        msg = (f"{url}: committed variables {lost} are missing or not per-event arrays (a deleted or damaged "
               f"{lost[0]}/zarr.json?); the store is damaged")
        raise StoreError(msg)
    ds = xr.Dataset({name: data_vars[name] for name in visible}, coords=coords, attrs={ATTR: meta})
    ds.encoding["source"] = url
    return ds


def validate_store(url: str | os.PathLike[str], *, check_values: bool = True, progress: bool = False) -> list[str]:
    """Problems found in a store (empty list: valid). Opening failures raise :class:`StoreError`.

    Checks provenance, schema (dims, shapes, dtypes, chunking), units, that every chunk of the
    committed events exists on disk (in stores physgen wrote itself, see :mod:`physgen.store._chunks`)
    and, with ``check_values``, reads every committed chunk once, event block by event block
    (``progress``: with an events/s bar): a damaged chunk (Zstd checksum), NaN/inf or values outside
    a variable's ``valid_range`` are problems.
    """
    url = normalise_url(url)
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
    for name, expected in meta.get(EXTRA, {}).items():
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
    group, _ = open_physgen_group(url, mode="r")
    arrays, every_chunk = _members(group, meta, url)
    if every_chunk:
        for name in ds.variables:
            n_events = ds.sizes[EVENT] if name in ds.data_vars else None
            for chunk in missing_chunks(url, str(name), arrays[str(name)], n_events):
                problems.append(f"chunk file {chunk} is missing (deleted?); its events would read as zeros")
    if check_values and not problems:
        problems += _value_problems(ds, [*meta.get("schema", {}), *meta.get(EXTRA, {})], progress=progress,
                                    label=url, step=int(meta.get("chunk_events") or 0))
    return problems


def _value_problems(ds: xr.Dataset, names: list[str], *, progress: bool, label: str, step: int) -> list[str]:
    """Damaged chunks, NaN/inf and values outside ``valid_range`` of the numeric variables ``names``, in
    one pass over the events in blocks of ``step``; a variable with a damaged chunk is reported once."""
    n_events = int(ds.sizes.get(EVENT, 0))
    names = [n for n in names if np.issubdtype(ds[n].dtype, np.number)]
    if not n_events or not names:
        return []
    low, high = dict.fromkeys(names, np.inf), dict.fromkeys(names, -np.inf)
    damaged: dict[str, str] = {}
    step = max(step or n_events, 1)
    with event_progress(f"validate {label}", total=n_events, enabled=progress) as advance:
        for start in range(0, n_events, step):
            part = ds[names].isel({EVENT: slice(start, start + step)})
            for n, (lo, hi) in _block_extrema(part, [n for n in names if n not in damaged], damaged).items():
                low[n] = min(low[n], lo) if not np.isnan(lo) else np.nan  # a NaN anywhere stays NaN
                high[n] = max(high[n], hi) if not np.isnan(hi) else np.nan
            advance(min(step, n_events - start))
    problems = []
    for n in names:
        valid = ds[n].attrs.get("valid_range")
        if n in damaged:
            problems.append(damaged[n])
        elif not (np.isfinite(low[n]) and np.isfinite(high[n])):
            problems.append(f"variable {n!r} holds NaN or inf")
        elif valid is not None and (low[n] < valid[0] or high[n] > valid[1]):
            problems.append(f"variable {n!r}: values [{low[n]:g}, {high[n]:g}] outside valid_range {valid}")
    return problems


def _block_extrema(part: xr.Dataset, names: list[str], damaged: dict[str, str]) -> dict[str, tuple[float, float]]:
    """``(min, max)`` of each of ``names`` in one event block (NaN when it holds one), read together; when a
    chunk cannot be read, variable by variable, recording the unreadable ones in ``damaged``."""
    try:
        lows, highs = dask.compute({n: part[n].min(skipna=False) for n in names},
                                   {n: part[n].max(skipna=False) for n in names})
        return {n: (float(lows[n]), float(highs[n])) for n in names}
    except StoreError:
        if len(names) == 1:
            raise
    extrema = {}
    for n in names:
        try:
            extrema.update(_block_extrema(part, [n], damaged))
        except StoreError as exc:
            damaged[n] = str(exc)
    return extrema
