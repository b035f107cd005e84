"""Creating Zarr v3 stores from a schema and appending events atomically.

Commit protocol: an append first grows every array and writes the new events, then
raises ``physgen.committed_events`` in the root attributes. Readers see only the first
``committed_events`` events, so a process killed during an append leaves the store
readable at its last commit; :func:`open_writer` in ``resume`` mode trims whatever an
interrupted append wrote beyond that point before continuing. Every chunk is written, even
an all-zero one (``write_empty_chunks``), so a chunk missing on disk is detectable damage (see
:mod:`physgen.store._chunks`), and every chunk carries a content checksum (every codec chain of
:mod:`physgen.store._compression` ends in one), so a flipped bit is a read error rather than a wrong
value. A store keeps the compression it was created with: a resume appends through the arrays' own codecs. A write that fails (disk full, read-only) is a :class:`StoreError`;
the store keeps its committed events.

Callers hold the store's writer lock (:func:`physgen.store.store_lock`) around a whole run:
``create_store`` and ``open_writer`` do not take it, since a writer object has no end of life.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import zarr

from physgen.errors import SchemaError, StoreError, StoreExistsError
from physgen.provenance import package_version
from physgen.schema import EVENT, StoreSchema, VariableSchema
from physgen.store._chunks import EVERY_CHUNK_WRITTEN
from physgen.store._compression import DEFAULT_COMPRESSION, check_compression, compressors
from physgen.store._lock import holds_lock
from physgen.store._url import (
    ATTR,
    has_consolidated_metadata,
    is_local,
    local_path,
    open_physgen_group,
    open_root,
    remove_store,
    store_exists,
    write_root_attrs,
)

__all__ = ["StoreWriter", "create_store", "open_writer", "FORMAT_VERSION"]

FORMAT_VERSION = 1

WRITE_CONFIG = {"array.write_empty_chunks": True}

Mode = Literal["create", "overwrite", "resume"]


def physgen_version() -> str:
    return package_version("physgen")


@contextmanager
def writing(url: str, committed: int) -> Iterator[None]:
    """Turn an operating-system write error (disk full, read-only, permissions) into a :class:`StoreError`."""
    try:
        yield
    except OSError as exc:
        what = exc.strerror or str(exc)
        where = f" ({exc.filename})" if exc.filename else ""
        msg = (f"cannot write {url!r}: {what}{where}; the store keeps its {committed} committed events — "
               f"fix the cause and rerun with --resume")
        raise StoreError(msg) from None


def _variable_schema_dict(v: VariableSchema) -> dict[str, Any]:
    return {"dims": list(v.dims), "shape": list(v.shape), "dtype": v.dtype, "units": v.units}


class StoreWriter:
    """Appends batches of events to an open store; every :meth:`append` is one atomic commit."""

    def __init__(self, group: zarr.Group, schema: StoreSchema, url: str):
        self.group = group
        self.schema = schema
        self.url = url
        self._meta: dict[str, Any] = dict(group.attrs[ATTR])
        self._consolidated = has_consolidated_metadata(url)
        with zarr.config.set(WRITE_CONFIG):  # the array config is fixed when an array is opened
            self._arrays = {v.name: group[v.name] for v in schema.variables}

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
        with writing(self.url, start):
            for var in self.schema.variables:
                self._write_variable(var, start, np.asarray(batch[var.name]).astype(var.dtype, copy=False))
            self._commit(committed_events=stop)
        return stop

    def _write_variable(self, var: VariableSchema, start: int, data: np.ndarray) -> None:
        """Grow one array to ``start + len(data)`` events and write them (not yet visible to readers)."""
        array = self._arrays[var.name]
        array.resize((start + len(data), *var.shape))
        array[start:] = data

    def update_provenance(self, **fields: Any) -> None:
        """Merge ``fields`` into the provenance attributes (one atomic write of the root metadata)."""
        with writing(self.url, self.committed_events):
            self._commit(**fields)

    def record_run(self, action: str, provenance: dict[str, Any], consistent: tuple[str, ...] = ()) -> None:
        """Record a run that writes into this store (``create``, ``overwrite`` or ``resume``).

        A resume must not mix runs into committed events: its ``seed`` and every provenance field named
        in ``consistent`` (dotted paths such as ``producer.checkpoint_sha256``) must equal the stored
        ones, it must not ask for fewer events than an earlier run did (``requested_events``), and a
        seeded run cannot extend a store whose last chunk is partial (chunk ``i`` is seeded by its index,
        so the result would differ from a single run; imports, unseeded, continue from any event). Nothing is recorded when a resume is refused.
        The top-level provenance then describes this run, and ``history`` lists every run that
        touched the store, in order, with the committed count it started from.
        """
        done, meta = self.committed_events, self._meta
        if action == "resume" and done:
            for key in ("seed", *consistent):
                new, old = _field(provenance, key), _field(meta, key)
                if new is not _MISSING and old is not _MISSING and new != old:
                    msg = (f"cannot resume {self.url!r} with {key} {new!r}: its {done} committed events were made "
                           f"with another {key} ({old!r}); resume with the same, or use --overwrite")
                    raise StoreError(msg)
            asked, before = provenance.get("requested_events"), meta.get("requested_events")
            seeded = provenance.get("seed") is not None  # an import's slices do not depend on their chunk
            if seeded and asked is not None and asked > done and done % self.chunk_events:
                msg = (f"cannot extend {self.url!r} from {done} to {asked} events: its last chunk is partial "
                       f"({done} is not a multiple of {self.chunk_events}), so the result would differ from a "
                       f"single run with the same seed; write a new store or use --overwrite")
                raise StoreError(msg)
            floor = max(int(before or 0), done)
            if asked is not None and asked < floor:
                msg = (f"cannot resume {self.url!r} for {asked} events: it was started for {before} and holds "
                       f"{done}; a resume continues a request and never shrinks it (ask for at least {floor}, "
                       f"or use --overwrite)")
                raise StoreError(msg)
        fields = {k: v for k, v in provenance.items() if k != "specs"}
        entry = {"action": action, "time": _now(), "physgen_version": physgen_version(), "committed_events": done,
                 **fields}
        self._commit(**fields, history=[*meta.get("history", []), entry])

    def _commit(self, **fields: Any) -> None:
        self._meta.update(fields)
        self.group = write_root_attrs(self.group, self._meta, consolidated=self._consolidated)

    def _trim_uncommitted(self) -> None:
        """Drop what an interrupted append wrote: events beyond the commit and (holding the lock, so no
        other writer's) temporary ``*.partial`` files of a local store's interrupted atomic writes."""
        with writing(self.url, self.committed_events):
            for var in self.schema.variables:
                array = self._arrays[var.name]
                if array.shape[0] != self.committed_events:
                    array.resize((self.committed_events, *var.shape))
            if is_local(self.url) and holds_lock(self.url):
                for leftover in local_path(self.url).rglob("*.partial"):
                    leftover.unlink(missing_ok=True)


def create_store(
    url: str,
    schema: StoreSchema,
    *,
    chunk_events: int,
    provenance: dict[str, Any],
    mode: Mode = "create",
    consistent: tuple[str, ...] = (),
    compression: str = DEFAULT_COMPRESSION,
) -> StoreWriter:
    """Create (or reopen with ``mode="resume"``) a store for ``schema`` at ``url``.

    ``compression`` names the codec chain of every array (:data:`physgen.store._compression.COMPRESSIONS`);
    it is recorded in the provenance, and a resume must ask for the store's own (it keeps its codecs).

    ``provenance`` must hold the producing spec texts under ``"specs"``; on resume their
    hashes must match those already stored, so a store is never extended with data from
    another spec, and the seed and the ``consistent`` fields must match too (see
    :meth:`StoreWriter.record_run`).
    """
    if chunk_events <= 0:
        msg = f"chunk_events must be positive, got {chunk_events}"
        raise StoreError(msg)
    provenance = {**provenance, "compression": check_compression(compression)}
    exists = store_exists(url)
    if exists and mode == "resume":
        writer = open_writer(url, schema=schema, expect_specs=provenance.get("specs"), expect_compression=compression)
        writer.record_run("resume", provenance, consistent)
        return writer
    if exists and mode == "create":
        msg = f"store {url!r} already exists; pass --resume to continue it or --overwrite to replace it"
        raise StoreExistsError(msg)
    if exists and mode == "overwrite":
        if not _is_physgen_store(url):
            msg = f"refusing to overwrite {url!r}: it exists and is not a physgen store"
            raise StoreExistsError(msg)
        with writing(url, 0):
            remove_store(url)
    with writing(url, 0):
        return _create(url, schema, chunk_events, provenance, "overwrite" if exists else "create")


def _create(url: str, schema: StoreSchema, chunk_events: int, provenance: dict[str, Any], action: str) -> StoreWriter:
    group = open_root(url, mode="w")
    codecs = compressors(provenance["compression"])
    for dim, (values, attrs) in schema.coords.items():
        values = np.asarray(values)
        coord = group.create_array(dim, shape=values.shape, dtype=values.dtype, dimension_names=(dim,),
                                   attributes=dict(attrs), compressors=codecs,
                                   fill_value=0, config={"write_empty_chunks": True})
        coord[...] = values
    for var in schema.variables:
        group.create_array(
            var.name,
            shape=(0, *var.shape),
            chunks=(chunk_events, *var.shape),
            dtype=var.dtype,
            compressors=codecs,
            fill_value=0,
            dimension_names=(EVENT, *var.dims),
            attributes=var.attrs,
        )
    group.create_group(EVERY_CHUNK_WRITTEN, attributes={
        "description": "physgen wrote every chunk of this store's arrays: a missing chunk file is damage"})
    meta = {
        "format_version": FORMAT_VERSION,
        "committed_events": 0,
        "chunk_events": int(chunk_events),
        "physgen_version": physgen_version(),
        "created": _now(),
        "schema": {v.name: _variable_schema_dict(v) for v in schema.variables},
        **provenance,
    }
    group.attrs[ATTR] = meta
    writer = StoreWriter(group, schema, url)
    writer.record_run(action, provenance)
    return writer


_MISSING = object()


def _field(meta: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(meta, dict) or part not in meta:
            return _MISSING
        meta = meta[part]
    return meta


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _is_physgen_store(url: str) -> bool:
    try:
        open_physgen_group(url, mode="r")
    except StoreError:  # anything unreadable is not ours to delete
        return False
    return True


def open_writer(url: str, *, schema: StoreSchema, expect_specs: dict[str, Any] | None = None,
                expect_compression: str | None = None) -> StoreWriter:
    """Reopen an existing store for appending, trimming events of an interrupted append.

    ``expect_compression``: refuse unless the store was created with this compression (stores made before
    compression was recorded were all written with the default), since appends keep the arrays' codecs.
    """
    group, meta = open_physgen_group(url, mode="r+")
    stored_compression = meta.get("compression", DEFAULT_COMPRESSION)
    if expect_compression is not None and expect_compression != stored_compression:
        msg = (f"cannot resume {url!r} with compression {expect_compression!r}: it was created with "
               f"{stored_compression!r}, which its appended chunks keep; resume with compression "
               f"{stored_compression!r}, or use --overwrite")
        raise StoreError(msg)
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
