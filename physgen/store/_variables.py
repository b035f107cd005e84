"""Adding a per-event variable (e.g. DCTR weights) to an existing store, atomically.

Commit protocol, the same idea as event appends: the new array is written in full first,
then committed by recording it under ``physgen.extra_variables`` in the root attributes
(one atomic write of the root metadata). :func:`physgen.store.open_store` shows only
arrays that are in the schema or committed there, so a process killed while adding a
variable leaves the store exactly as it was, and rerunning the same call completes it.
Existing variables are never rewritten. The call holds the store's writer lock.
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import Any

import numpy as np

from physgen.errors import SchemaError, StoreError
from physgen.schema import EVENT
from physgen.store._compression import DEFAULT_COMPRESSION, compressors
from physgen.store._lock import store_lock
from physgen.store._reader import read_provenance
from physgen.store._url import ATTR, EXTRA, has_consolidated_metadata, normalise_url, open_root, write_root_attrs
from physgen.store._writer import writing

__all__ = ["EXTRA", "add_variable"]


def add_variable(
    url: str | os.PathLike[str],
    name: str,
    data: Any,
    *,
    attrs: dict[str, Any],
    provenance: dict[str, Any],
    overwrite: bool = False,
    lock: bool = True,
) -> None:
    """Add the per-event variable ``name`` (dims ``(event,)``) to the store at ``url``.

    ``data`` is any array-like (numpy or dask) with exactly ``committed_events`` entries; it
    is written chunk by chunk. ``attrs`` must hold ``units``; ``provenance`` is recorded with
    the commit. Adding a name that is already committed needs ``overwrite=True``; schema
    variables can never be replaced. With ``overwrite`` the old variable is retracted before
    the new one is written, so an interrupted overwrite leaves the store without it (and
    consistent) until the call is rerun. ``lock=False`` skips the writer lock (object stores).
    """
    url = normalise_url(url)
    with store_lock(url, enabled=lock):
        _add_variable(url, name, data, attrs=attrs, provenance=provenance, overwrite=overwrite)


def _add_variable(url: str, name: str, data: Any, *, attrs: dict[str, Any], provenance: dict[str, Any],
                  overwrite: bool) -> None:
    meta = read_provenance(url)
    if not name.isidentifier():
        msg = f"variable name must be a Python identifier (letters, digits, _), got {name!r}"
        raise StoreError(msg)
    if name in meta.get("schema", {}) or name == EVENT:
        msg = f"{name!r} is a variable of the store's schema; choose another name for the added variable"
        raise StoreError(msg)
    extras = dict(meta.get(EXTRA, {}))
    if name in extras and not overwrite:
        msg = f"store {url!r} already has the added variable {name!r}; choose another name or pass overwrite"
        raise StoreError(msg)
    if "units" not in attrs:
        msg = f"attrs of the added variable {name!r} must hold 'units' (e.g. 'dimensionless'), got {sorted(attrs)}"
        raise SchemaError(msg)
    n_events = int(meta["committed_events"])
    shape = tuple(getattr(data, "shape", np.shape(data)))
    if shape != (n_events,):
        msg = f"added variable {name!r} must have one value per committed event, shape ({n_events},); got {shape}"
        raise SchemaError(msg)
    group = open_root(url, mode="r+")
    _check_no_uncommitted_events(group, meta, url)
    consolidated = has_consolidated_metadata(url)
    with writing(url, n_events):
        if name in extras:
            del extras[name]
            write_root_attrs(group, {**meta, EXTRA: extras}, consolidated=consolidated)
        dtype = np.dtype(getattr(data, "dtype", np.float64))
        _write_array(group, name, data, dtype, chunk_events=int(meta["chunk_events"]), attrs=attrs,
                     compression=meta.get("compression", DEFAULT_COMPRESSION))
        record = {"dims": [], "shape": [], "dtype": str(dtype), "units": attrs["units"],
                  "added": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "provenance": provenance}
        _commit_variable(group, name, record, consolidated=consolidated)


def _check_no_uncommitted_events(group, meta: dict[str, Any], url: str) -> None:
    """An interrupted append leaves schema arrays longer than the commit; the new array would not align."""
    n_events = int(meta["committed_events"])
    longer = [n for n in meta.get("schema", {}) if n in group and group[n].shape[0] != n_events]
    if longer:
        msg = (f"store {url!r} has events of an interrupted append beyond its {n_events} committed events in "
               f"{longer}; resume (or finish) that run before adding variables")
        raise StoreError(msg)


def _write_array(group, name: str, data: Any, dtype: np.dtype, *, chunk_events: int, attrs: dict[str, Any],
                 compression: str) -> None:
    """Write the added array with the store's own compression (its schema arrays' codec chain)."""
    n_events = int(data.shape[0])
    array = group.create_array(name, shape=(n_events,), chunks=(chunk_events,), dtype=dtype,
                               compressors=compressors(compression), fill_value=0,
                               dimension_names=(EVENT,),
                               attributes=dict(attrs), overwrite=True, config={"write_empty_chunks": True})
    for start in range(0, n_events, chunk_events):
        stop = min(start + chunk_events, n_events)
        array[start:stop] = np.asarray(data[start:stop], dtype=dtype)


def _commit_variable(group, name: str, record: dict[str, Any], *, consolidated: bool) -> None:
    meta = dict(group.attrs[ATTR])
    meta[EXTRA] = {**meta.get(EXTRA, {}), name: record}
    entry = {"action": "add_variable", "variable": name, "time": record["added"],
             "committed_events": meta["committed_events"], **record["provenance"]}
    meta["history"] = [*meta.get("history", []), entry]
    write_root_attrs(group, meta, consolidated=consolidated)
