"""Paths and fsspec URLs → zarr stores (``memory://``, ``file://``, ``s3://``… all work).

Groups are always opened with ``use_consolidated=False``: the arrays' own ``zarr.json`` files are
the truth, so a consolidated member list written by xarray or zarr (and gone stale when physgen
appended events or added a variable) is never read. :func:`write_root_attrs` is the one place
physgen writes the root attributes; it refreshes the consolidated metadata of stores that carry it.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import fsspec
import zarr
import zarr.errors
import zarr.storage

from physgen.errors import StoreError

__all__ = [
    "ATTR", "EXTRA", "filesystem", "has_consolidated_metadata", "is_local", "local_path", "normalise_url",
    "open_physgen_group", "open_root", "remove_store", "store_exists", "write_root_attrs", "zarr_store",
]

ATTR = "physgen"
"""Root attribute holding provenance and the commit counter."""

EXTRA = "extra_variables"
"""Key of the root ``physgen`` attributes listing committed extra variables: ``{name: record}``."""


def normalise_url(url: str | os.PathLike[str]) -> str:
    url = os.fspath(url)
    if not url.strip():
        msg = f"a store needs a path or URL, got {url!r}"
        raise StoreError(msg)
    return url if "://" in url else str(Path(url).expanduser().absolute())


def is_local(url: str) -> bool:
    """A path on this machine's file system (plain path or ``file://``)."""
    return "://" not in url or url.startswith("file://")


def local_path(url: str) -> Path:
    return Path(normalise_url(url).removeprefix("file://"))


def filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """The fsspec file system and path of ``url``; :class:`StoreError` for an unknown or uninstalled protocol."""
    try:
        return fsspec.core.url_to_fs(normalise_url(url))
    except ImportError as exc:
        protocol = url.split("://", 1)[0]
        msg = f"{url!r}: {protocol}:// URLs need an extra package: {exc} (e.g. pip install s3fs for s3://)"
        raise StoreError(msg) from None
    except ValueError as exc:
        protocol = url.split("://", 1)[0]
        msg = f"{url!r}: unknown URL protocol {protocol!r} ({exc}); use a path, file://, memory://, s3://, gs://…"
        raise StoreError(msg) from None


def zarr_store(url: str, *, read_only: bool) -> zarr.abc.store.Store:
    url = normalise_url(url)
    if is_local(url):
        return zarr.storage.LocalStore(local_path(url), read_only=read_only)
    filesystem(url)  # a clear error for an unknown protocol or a missing package
    return zarr.storage.FsspecStore.from_url(url, read_only=read_only)


def open_root(url: str, *, mode: str) -> zarr.Group:
    if mode == "w":
        return zarr.open_group(zarr_store(url, read_only=False), mode="w", zarr_format=3)
    store = zarr_store(url, read_only=mode == "r")
    return zarr.open_group(store, mode=mode, zarr_format=3, use_consolidated=False)


def open_physgen_group(url: str, *, mode: str) -> tuple[zarr.Group, dict[str, Any]]:
    """Open the root group of a physgen store and its ``physgen`` attributes, or raise StoreError.

    The commit counter and chunk size are checked here, so every reader and writer sees a
    non-negative integer count or a clear error naming the store.
    """
    try:
        group = open_root(url, mode=mode)
    except StoreError:
        raise
    except (FileNotFoundError, zarr.errors.GroupNotFoundError, zarr.errors.NodeTypeValidationError):
        msg = f"no physgen store at {url!r}"
        raise StoreError(msg) from None
    except Exception as exc:  # corrupt metadata surfaces as JSON/value errors from zarr
        msg = f"cannot open {url!r} as a Zarr store: {url}/zarr.json is damaged ({type(exc).__name__}: {exc})"
        raise StoreError(msg) from None
    meta = group.attrs.get(ATTR)
    if not isinstance(meta, dict) or "committed_events" not in meta:
        msg = f"{url!r} is a Zarr group but not a physgen store (no '{ATTR}' attributes)"
        raise StoreError(msg)
    for key, least in (("committed_events", 0), ("chunk_events", 1)):
        value = meta.get(key)
        if key in meta and (isinstance(value, bool) or not isinstance(value, int) or value < least):
            msg = (f"{url}/zarr.json: physgen.{key} must be an integer ≥ {least}, got {value!r}; the store's "
                   f"root metadata is damaged")
            raise StoreError(msg)
    return group, dict(meta)


def has_consolidated_metadata(url: str) -> bool:
    """Whether the root ``zarr.json`` carries a consolidated member list (xarray's ``to_zarr`` default)."""
    fs, path = filesystem(url)
    try:
        root = json.loads(fs.cat_file(f"{path.rstrip('/')}/zarr.json"))
    except (FileNotFoundError, ValueError):
        return False
    return isinstance(root, dict) and root.get("consolidated_metadata") is not None


def write_root_attrs(group: zarr.Group, meta: dict[str, Any], *, consolidated: bool) -> zarr.Group:
    """Write ``meta`` as the root ``physgen`` attributes (one atomic write: this is the commit).

    ``group`` was opened without consolidated metadata, so the write drops a stale member list;
    with ``consolidated`` (the store carried one) a fresh list is written right after, so xarray
    and zarr, which read it, see every array and its current shape. A kill between the two writes
    leaves a store without consolidated metadata, which every reader lists correctly.
    """
    group.attrs[ATTR] = meta
    if consolidated:
        with warnings.catch_warnings():  # "consolidated metadata is not part of the Zarr v3 spec"
            warnings.simplefilter("ignore")
            zarr.consolidate_metadata(group.store, zarr_format=3)
    return group


def store_exists(url: str) -> bool:
    fs, path = filesystem(url)
    return bool(fs.exists(path)) and bool(fs.exists(f"{path.rstrip('/')}/zarr.json") or fs.ls(path))


def remove_store(url: str) -> None:
    url = normalise_url(url)
    if is_local(url):
        shutil.rmtree(local_path(url))
        return
    fs, path = filesystem(url)
    fs.rm(path, recursive=True)
