"""Creating Zarr v3 stores from a schema and appending events atomically.

Commit protocol: an append first grows every array and writes the new events, then
raises ``physgen.committed_events`` in the root attributes. Readers see only the first
``committed_events`` events, so a process killed during an append leaves the store
readable at its last commit; :func:`open_writer` in ``resume`` mode trims whatever an
interrupted append wrote beyond that point before continuing.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Literal

import numpy as np
import zarr
from zarr.codecs import ZstdCodec

from physgen.errors import SchemaError, StoreError, StoreExistsError
from physgen.provenance import package_version
from physgen.schema import EVENT, StoreSchema, VariableSchema
from physgen.store._url import ATTR, open_physgen_group, open_root, remove_store, store_exists

__all__ = ["StoreWriter", "create_store", "open_writer", "FORMAT_VERSION"]

FORMAT_VERSION = 1

Mode = Literal["create", "overwrite", "resume"]


def physgen_version() -> str:
    return package_version("physgen")


def _variable_schema_dict(v: VariableSchema) -> dict[str, Any]:
    return {"dims": list(v.dims), "shape": list(v.shape), "dtype": v.dtype, "units": v.units}


class StoreWriter:
    """Appends batches of events to an open store; every :meth:`append` is one atomic commit."""

    def __init__(self, group: zarr.Group, schema: StoreSchema, url: str):
        self.group = group
        self.schema = schema
        self.url = url
        self._meta: dict[str, Any] = dict(group.attrs[ATTR])

    @property
    def committed_events(self) -> int:
        return int(self._meta["committed_events"])

    @property
    def chunk_events(self) -> int:
        return int(self._meta["chunk_events"])

    @property
    def provenance(self) -> dict[str, Any]:
        return dict(self._meta)

    def append(self, batch: dict[str, np.ndarray]) -> int:
        """Write ``batch`` (one array per schema variable, events first) and commit; return the new count."""
        n = self.schema.check_batch({k: np.asarray(v) for k, v in batch.items()})
        if n == 0:
            return self.committed_events
        start, stop = self.committed_events, self.committed_events + n
        for var in self.schema.variables:
            self._write_variable(var, start, np.asarray(batch[var.name]).astype(var.dtype, copy=False))
        self._commit(committed_events=stop)
        return stop

    def _write_variable(self, var: VariableSchema, start: int, data: np.ndarray) -> None:
        """Grow one array to ``start + len(data)`` events and write them (not yet visible to readers)."""
        array = self.group[var.name]
        array.resize((start + len(data), *var.shape))
        array[start:] = data

    def update_provenance(self, **fields: Any) -> None:
        """Merge ``fields`` into the provenance attributes (one atomic write of the root metadata)."""
        self._commit(**fields)

    def _commit(self, **fields: Any) -> None:
        self._meta.update(fields)
        self.group.attrs[ATTR] = self._meta

    def _trim_uncommitted(self) -> None:
        for var in self.schema.variables:
            array = self.group[var.name]
            if array.shape[0] != self.committed_events:
                array.resize((self.committed_events, *var.shape))


def create_store(
    url: str,
    schema: StoreSchema,
    *,
    chunk_events: int,
    provenance: dict[str, Any],
    mode: Mode = "create",
) -> StoreWriter:
    """Create (or reopen with ``mode="resume"``) a store for ``schema`` at ``url``.

    ``provenance`` must hold the producing spec texts under ``"specs"``; on resume their
    hashes must match those already stored, so a store is never extended with data from
    another spec.
    """
    if chunk_events <= 0:
        msg = f"chunk_events must be positive, got {chunk_events}"
        raise StoreError(msg)
    exists = store_exists(url)
    if exists and mode == "resume":
        return open_writer(url, schema=schema, expect_specs=provenance.get("specs"))
    if exists and mode == "create":
        msg = f"store {url!r} already exists; pass --resume to continue it or --overwrite to replace it"
        raise StoreExistsError(msg)
    if exists and mode == "overwrite":
        if not _is_physgen_store(url):
            msg = f"refusing to overwrite {url!r}: it exists and is not a physgen store"
            raise StoreExistsError(msg)
        remove_store(url)
    group = open_root(url, mode="w")
    for dim, (values, attrs) in schema.coords.items():
        values = np.asarray(values)
        coord = group.create_array(dim, shape=values.shape, dtype=values.dtype, dimension_names=(dim,),
                                   attributes=dict(attrs), compressors=None, fill_value=0)
        coord[...] = values
    for var in schema.variables:
        group.create_array(
            var.name,
            shape=(0, *var.shape),
            chunks=(chunk_events, *var.shape),
            dtype=var.dtype,
            compressors=ZstdCodec(level=3),
            fill_value=0,
            dimension_names=(EVENT, *var.dims),
            attributes=var.attrs,
        )
    meta = {
        "format_version": FORMAT_VERSION,
        "committed_events": 0,
        "chunk_events": int(chunk_events),
        "physgen_version": physgen_version(),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "schema": {v.name: _variable_schema_dict(v) for v in schema.variables},
        **provenance,
    }
    group.attrs[ATTR] = meta
    return StoreWriter(group, schema, url)


def _is_physgen_store(url: str) -> bool:
    try:
        open_physgen_group(url, mode="r")
    except StoreError:  # anything unreadable is not ours to delete
        return False
    return True


def open_writer(url: str, *, schema: StoreSchema, expect_specs: dict[str, Any] | None = None) -> StoreWriter:
    """Reopen an existing store for appending, trimming events of an interrupted append."""
    group, meta = open_physgen_group(url, mode="r+")
    if meta.get("extra_variables"):
        msg = (f"cannot append to {url!r}: it has added variables {sorted(meta['extra_variables'])} "
               f"(e.g. weights) that would have no values for new events")
        raise StoreError(msg)
    stored = meta.get("schema", {})
    wanted = {v.name: _variable_schema_dict(v) for v in schema.variables}
    if stored != wanted:
        msg = f"cannot resume {url!r}: its variables {sorted(stored)} do not match the schema {sorted(wanted)}"
        raise SchemaError(msg)
    if expect_specs:
        for role, spec in expect_specs.items():
            have = meta.get("specs", {}).get(role, {}).get("hash")
            if have is not None and have != spec.get("hash"):
                msg = (f"cannot resume {url!r}: it was made from a different {role} spec "
                       f"({have} != {spec.get('hash')}); use --overwrite to start again")
                raise StoreError(msg)
    writer = StoreWriter(group, schema, url)
    writer._trim_uncommitted()
    return writer
