"""The importer plug-in interface, its registry, and the generic streaming import driver.

An importer names the dataset spec that describes its store (detector + features), the
HDF5 layout it expects (checked before anything is written), and how one slice of events
of a file becomes a batch of store variables. :func:`import_files` streams every file in
slices of the store's chunk size (memory independent of file size), records each source
file's name and sha256 in the provenance, and resumes from the store's committed count.
Every slice is checked before it is written: a slice that cannot be read (a damaged HDF5
chunk) or values that no detector gives (NaN or inf, negative energies: anything outside a
variable's ``valid_range``) stop the import with an :class:`InputFileError` naming the file,
the variable and the event; a store this import created is then removed, so nothing half-made
is left behind. The import holds the store's writer lock.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import h5py
import numpy as np
from pydantic import BaseModel

from physgen.errors import InputFileError, PhysgenError, StoreError
from physgen.plugins import IMPORTERS
from physgen.progress import event_progress
from physgen.provenance import file_sha256
from physgen.schema import StoreSchema
from physgen.specs import NoOptions, shipped_spec_dir
from physgen.store import (
    ResolvedDataset,
    create_store,
    normalise_url,
    read_provenance,
    remove_store,
    resolve_dataset,
    store_exists,
    store_lock,
)

__all__ = ["Importer", "Key", "register_importer", "get_importer", "importer_names", "import_files", "sha256"]

@dataclass(frozen=True)
class Key:
    """An HDF5 dataset an importer reads: path, shape after the event axis, dtype kind(s)."""

    path: str
    shape: tuple[int, ...]
    kinds: str = "f"  # numpy dtype kinds accepted: f float, i/u integer, b bool
    required: bool = True

    def describe(self) -> str:
        kinds = {"f": "float", "i": "int", "u": "uint", "b": "bool"}
        return f"{self.path!r} of shape (N, {', '.join(map(str, self.shape))}) and {'/'.join(kinds[k] for k in self.kinds)} dtype"


class Importer(ABC):
    """Base class of importers; subclasses set ``name``, ``dataset`` and implement the two hooks."""

    name: ClassVar[str]
    dataset: ClassVar[str]
    """Name of the shipped dataset spec describing the store (``importer: {name: <name>}``)."""
    Options: ClassVar[type[BaseModel]] = NoOptions
    """``importer.options`` of a dataset spec (checked when the spec loads; the shipped importers take none)."""

    def resolve(self, files: list[h5py.File]) -> ResolvedDataset:
        """The dataset whose schema the files fill (some formats pick it from the files)."""
        return resolve_dataset(str(shipped_spec_dir() / "datasets" / f"{self.dataset}.yaml"))

    @abstractmethod
    def keys(self, dataset: ResolvedDataset) -> list[Key]:
        """The HDF5 datasets read, with the shapes and dtypes they must have."""

    @abstractmethod
    def read(self, f: h5py.File, start: int, stop: int, dataset: ResolvedDataset) -> dict[str, np.ndarray]:
        """Events ``start:stop`` of ``f`` as store variables (exact values, no processing)."""

    def filled(self, f: h5py.File, dataset: ResolvedDataset) -> set[str]:
        """Variables :meth:`read` fills with a placeholder (e.g. NaN) because ``f`` lacks them: not value-checked."""
        return set()


def register_importer(cls: type[Importer]) -> type[Importer]:
    """Class decorator: make ``cls`` available as ``physgen import <cls.name>`` (:data:`physgen.plugins.IMPORTERS`)."""
    return IMPORTERS.register(cls.name, cls)


def importer_names() -> list[str]:
    return IMPORTERS.names()


def get_importer(name: str) -> Importer:
    return IMPORTERS.get(name)()


def sha256(path: str | os.PathLike[str]) -> str:
    """Hex sha256 of a file (as the import provenance records it)."""
    return file_sha256(path, prefixed=False)


def _open(path: Path) -> h5py.File:
    if not path.is_file():
        msg = f"{path}: no such file"
        raise InputFileError(msg)
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        msg = f"{path}: not a readable HDF5 file ({exc})"
        raise InputFileError(msg) from None


def check_layout(path: Path, f: h5py.File, keys: list[Key], fmt: str) -> int:
    """Number of events in ``f``; :class:`InputFileError` naming the expected layout otherwise."""
    n_events = None
    for key in keys:
        if key.path not in f:
            if not key.required:
                continue
            msg = f"{path}: missing {key.describe()} expected by the {fmt!r} format"
            raise InputFileError(msg)
        obj = f[key.path]
        if not isinstance(obj, h5py.Dataset) or obj.shape[1:] != key.shape or obj.dtype.kind not in key.kinds:
            got = f"shape {obj.shape}, dtype {obj.dtype}" if isinstance(obj, h5py.Dataset) else "a group"
            msg = f"{path}: expected {key.describe()} for the {fmt!r} format, got {got}"
            raise InputFileError(msg)
        if n_events is not None and obj.shape[0] != n_events:
            msg = f"{path}: {key.path!r} has {obj.shape[0]} events but the other datasets have {n_events}"
            raise InputFileError(msg)
        n_events = obj.shape[0]
    return n_events or 0


def check_values(path: Path, batch: dict[str, np.ndarray], schema: StoreSchema, start: int,
                 skip: Collection[str] = ()) -> None:
    """:class:`InputFileError` naming ``path``, the variable and the event if a float variable of ``batch``
    (events ``start…`` of the file) holds NaN or inf, or a value lies outside its ``valid_range``."""
    for var in schema.variables:
        if var.name in skip or var.name not in batch:
            continue
        values = np.asarray(batch[var.name])
        flat = values.reshape(len(values), -1)
        bad = ~np.isfinite(flat) if values.dtype.kind == "f" else np.zeros(flat.shape, bool)
        what = "NaN or inf"
        if not bad.any() and var.valid_range is not None:
            lo, hi = var.valid_range
            bad = (flat < lo) | (flat > hi)
            what = f"a value outside [{lo:g}, {hi:g}]"
        if bad.any():
            event, cell = np.argwhere(bad)[0]
            where = "" if flat.shape[1] == 1 else f" (cell {np.unravel_index(cell, values.shape[1:])})"
            msg = (f"{path}: event {start + event}: {var.name!r} holds {what}: {flat[event, cell]!r}{where}; "
                   f"physgen imports only physical values")
            raise InputFileError(msg)


def _read(importer: Importer, path: Path, f: h5py.File, start: int, stop: int,
          dataset: ResolvedDataset) -> dict[str, np.ndarray]:
    try:
        return importer.read(f, start, stop, dataset)
    except PhysgenError:
        raise
    except (OSError, ValueError, KeyError) as exc:  # h5py: "filter returned failure" for a damaged chunk
        msg = f"{path}: events {start}:{stop} cannot be read ({type(exc).__name__}: {exc}); the file is damaged"
        raise InputFileError(msg) from None


def import_files(fmt: str, files: list[str | os.PathLike[str]], out: str | os.PathLike[str], *,
                 mode: str = "create", progress: bool = True, lock: bool = True) -> str:
    """Import HDF5 ``files`` of format ``fmt`` into the store ``out``; return its URL.

    ``mode``: ``"create"``, ``"overwrite"`` or ``"resume"`` (continue after the store's
    committed events; the source files and their checksums must be the same). ``lock=False``
    skips the store's writer lock (``--no-lock``).
    """
    importer = get_importer(fmt)
    if not files:
        msg = "no input files given"
        raise InputFileError(msg)
    paths = [Path(p) for p in files]
    handles = [_open(p) for p in paths]
    try:
        dataset = importer.resolve(handles)
        keys = importer.keys(dataset)
        counts = [check_layout(p, f, keys, fmt) for p, f in zip(paths, handles)]
        sources = [{"file": p.name, "sha256": sha256(p), "events": n} for p, n in zip(paths, counts)]
        provenance = {"specs": dataset.spec_texts(), "seed": None, "requested_events": sum(counts),
                      "producer": {"kind": "importer", "name": fmt, "sources": sources}}
        url = normalise_url(out)
        with store_lock(url, enabled=lock):
            if mode == "resume" and store_exists(url):  # checked before the store records this run
                before = read_provenance(url).get("producer", {}).get("sources")
                if before != sources:
                    msg = f"cannot resume {url!r}: it was imported from other files {before}"
                    raise StoreError(msg)
            writer = create_store(url, dataset.schema, chunk_events=dataset.chunk_events, provenance=provenance,
                                  mode=mode, compression=dataset.spec.compression)
            try:
                _stream(importer, fmt, paths, handles, counts, writer, dataset, progress)
            except InputFileError as exc:
                if mode == "resume":
                    raise
                remove_store(url)  # made by this call: leave nothing half-imported behind
                msg = f"{exc}; nothing was imported"
                raise InputFileError(msg) from None
        return url
    finally:
        for f in handles:
            f.close()


def _stream(importer, fmt, paths, handles, counts, writer, dataset, progress) -> None:
    done, chunk = writer.committed_events, dataset.chunk_events
    with event_progress(f"import {fmt}", total=sum(counts), completed=done, enabled=progress) as advance:
        offset = 0
        for path, f, n in zip(paths, handles, counts):
            filled = importer.filled(f, dataset)
            for start in range(max(done - offset, 0), n, chunk):
                stop = min(start + chunk, n)
                batch = _read(importer, path, f, start, stop, dataset)
                check_values(path, batch, dataset.schema, start, filled)
                writer.append(batch)
                advance(stop - start)
            offset += n
