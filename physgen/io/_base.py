"""The importer plug-in interface, its registry, and the generic streaming import driver.

An importer names the dataset spec that describes its store (detector + features), the
HDF5 layout it expects (checked before anything is written), and how one slice of events
of a file becomes a batch of store variables. :func:`import_files` streams every file in
slices of the store's chunk size (memory independent of file size), records each source
file's name and sha256 in the provenance, and resumes from the store's committed count.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import h5py
import numpy as np
from pydantic import BaseModel

from physgen.errors import InputFileError, StoreError
from physgen.plugins import IMPORTERS
from physgen.progress import event_progress
from physgen.provenance import file_sha256
from physgen.specs import NoOptions, shipped_spec_dir
from physgen.store import ResolvedDataset, create_store, normalise_url, resolve_dataset

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


def import_files(fmt: str, files: list[str | os.PathLike[str]], out: str | os.PathLike[str], *,
                 mode: str = "create", progress: bool = True) -> str:
    """Import HDF5 ``files`` of format ``fmt`` into the store ``out``; return its URL.

    ``mode``: ``"create"``, ``"overwrite"`` or ``"resume"`` (continue after the store's
    committed events; the source files and their checksums must be the same).
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
        writer = create_store(url, dataset.schema, chunk_events=dataset.chunk_events, provenance=provenance, mode=mode)
        if writer.provenance["producer"].get("sources") != sources:
            msg = f"cannot resume {url!r}: it was imported from other files {writer.provenance['producer'].get('sources')}"
            raise StoreError(msg)
        done, chunk = writer.committed_events, dataset.chunk_events
        with event_progress(f"import {fmt}", total=sum(counts), completed=done, enabled=progress) as advance:
            offset = 0
            for f, n in zip(handles, counts):
                for start in range(max(done - offset, 0), n, chunk):
                    stop = min(start + chunk, n)
                    writer.append(importer.read(f, start, stop, dataset))
                    advance(stop - start)
                offset += n
        return url
    finally:
        for f in handles:
            f.close()
