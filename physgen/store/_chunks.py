"""Reading chunks safely: a damaged chunk is an error naming the store, variable and events, and a
chunk missing on disk is found instead of being read as zeros.

Zarr reads a chunk key that does not exist as the array's fill value (0), so a deleted chunk file
would silently turn into events of zeros. physgen writes every chunk (``write_empty_chunks``) and
marks the stores it writes so with an empty Zarr group named :data:`EVERY_CHUNK_WRITTEN`; in such a
store every chunk of the committed events exists on disk and a missing one is damage. (The mark is
a group, not an attribute, because a copy made with ``xarray.Dataset.to_zarr`` copies attributes
but not groups — and rightly drops the mark, since xarray skips all-zero chunks.)
:func:`missing_chunks` lists missing chunks (one listing per variable, for ``store validate``);
:class:`CheckedArray`, the array dask reads through, checks the chunks behind a block only when the
block is all zeros — the only case a missing chunk can hide in — so normal reads cost nothing extra.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import zarr

from physgen.errors import StoreError
from physgen.store._url import filesystem

__all__ = ["CheckedArray", "EVERY_CHUNK_WRITTEN", "check_present", "chunk_keys", "missing_chunks", "read_error"]

EVERY_CHUNK_WRITTEN = "_physgen_every_chunk_written"
"""Name of the empty group that marks a store whose arrays hold every chunk (``write_empty_chunks``)."""


def _chunk_ranges(chunks: tuple[int, ...], selection: tuple[slice, ...]) -> list[range]:
    ranges = []
    for size, sl in zip(chunks, selection, strict=True):
        ranges.append(range(sl.start // size, -(-sl.stop // size)) if sl.stop > sl.start else range(0))
    return ranges


def chunk_keys(array: Any, selection: tuple[slice, ...]) -> list[tuple[str, tuple[slice, ...]]]:
    """The chunk keys (``c/3/0/0``) behind ``selection`` (one slice per dim), with each chunk's region."""
    chunks = array.chunks
    keys = []
    for index in itertools.product(*_chunk_ranges(chunks, selection)):
        region = tuple(slice(i * c, (i + 1) * c) for i, c in zip(index, chunks, strict=True))
        keys.append((array.metadata.encode_chunk_key(index), region))
    return keys


def _describe(region: tuple[slice, ...], n_events: int | None = None) -> str:
    stop = region[0].stop if n_events is None else min(region[0].stop, n_events)
    return f"events {region[0].start}:{stop}"


def read_error(url: str, name: str, where: str, exc: Exception) -> StoreError:
    """The error for a chunk that cannot be read (zstd, codec or shape errors from zarr)."""
    msg = (f"{url}: variable {name!r}, {where}: a chunk cannot be read ({type(exc).__name__}: {exc}); "
           f"the store is damaged (run physgen store validate)")
    return StoreError(msg)


def check_present(url: str, name: str, array: Any, selection: tuple[slice, ...]) -> None:
    """:class:`StoreError` if a chunk behind ``selection`` of ``array`` (sync or async zarr) is missing on disk."""
    fs, root = filesystem(url)
    for key, region in chunk_keys(array, selection):
        if not fs.exists(f"{root.rstrip('/')}/{name}/{key}"):
            msg = (f"{url}: variable {name!r}, {_describe(region)}: chunk file {name}/{key} is missing "
                   f"(deleted?); its events would read as zeros (run physgen store validate)")
            raise StoreError(msg)


def missing_chunks(url: str, name: str, array: zarr.Array, n_events: int | None = None) -> list[str]:
    """Files of the chunks holding the first ``n_events`` events of ``array`` (all of it if ``None``: a
    coordinate) that are missing on disk."""
    n_events = array.shape[0] if n_events is None else n_events
    if n_events == 0:
        return []
    fs, root = filesystem(url)
    folder = f"{root.rstrip('/')}/{name}"
    prefix = folder.lstrip("/") + "/"  # a zip file system lists its members without the leading "/"
    try:
        present = {p.lstrip("/").removeprefix(prefix) for p in fs.find(folder)}
    except FileNotFoundError:
        present = set()
    whole = (slice(0, n_events), *(slice(0, n) for n in array.shape[1:]))
    return [f"{url}/{name}/{key} ({_describe(region, n_events)})"
            for key, region in chunk_keys(array, whole) if key not in present]


class CheckedArray:
    """The view of one store array that dask reads: read errors become :class:`StoreError` s naming the
    store, variable and events; an all-zero block is checked for missing chunks (``check_missing``)."""

    def __init__(self, array: zarr.Array, url: str, name: str, *, check_missing: bool):
        self.array, self.url, self.name, self.check_missing = array, url, name, check_missing
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim

    def _slices(self, key: Any) -> tuple[slice, ...] | None:
        """``key`` as one bounded slice per dim (integers as length-one slices); ``None`` for fancy keys."""
        key = tuple(key) if isinstance(key, tuple) else (key,)
        key += (slice(None),) * (self.ndim - len(key))
        out = []
        for k, n in zip(key, self.shape, strict=False):
            if isinstance(k, (int, np.integer)):
                k = slice(int(k) % n if n else 0, int(k) % n + 1 if n else 0)
            if not isinstance(k, slice) or k.step not in (None, 1):
                return None
            out.append(slice(*k.indices(n)[:2]))
        return tuple(out)

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            data = self.array[key]
        except Exception as exc:  # a damaged chunk: zstd, codec or shape errors from zarr
            selection = self._slices(key)
            raise read_error(self.url, self.name, _describe(selection) if selection else "some events", exc) from None
        if self.check_missing and np.size(data) and not np.any(data):
            selection = self._slices(key)
            if selection is not None:
                check_present(self.url, self.name, self.array, selection)
        return data
