"""Paths and fsspec URLs → zarr stores (``memory://``, ``file://``, ``s3://``… all work)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from typing import Any

import fsspec
import zarr
import zarr.errors
import zarr.storage

from physgen.errors import StoreError

__all__ = ["ATTR", "normalise_url", "zarr_store", "open_root", "open_physgen_group", "store_exists", "remove_store"]

ATTR = "physgen"
"""Root attribute holding provenance and the commit counter."""


def normalise_url(url: str | os.PathLike[str]) -> str:
    url = os.fspath(url)
    return url if "://" in url else str(Path(url).expanduser().absolute())


def zarr_store(url: str, *, read_only: bool) -> zarr.abc.store.Store:
    url = normalise_url(url)
    if "://" not in url:
        return zarr.storage.LocalStore(url, read_only=read_only)
    if url.startswith("file://"):
        return zarr.storage.LocalStore(url.removeprefix("file://"), read_only=read_only)
    url_to_fs(url)  # a clear error for an unknown protocol or a missing fsspec back end
    return zarr.storage.FsspecStore.from_url(url, read_only=read_only)


def url_to_fs(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """fsspec's file system and path of ``url``; an unknown protocol or a back end that is not
    installed (``s3://`` without s3fs) is a :class:`StoreError`."""
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as exc:
        msg = f"{url!r}: this URL needs a package that is not installed ({exc})"
        raise StoreError(msg) from None
    except ValueError as exc:  # "Protocol not known: foo"
        msg = f"{url!r}: {exc}; use a path or a URL of a known protocol (file://, s3://, gs:// …)"
        raise StoreError(msg) from None


def open_root(url: str, *, mode: str) -> zarr.Group:
    if mode == "w":
        return zarr.open_group(zarr_store(url, read_only=False), mode="w", zarr_format=3)
    store = zarr_store(url, read_only=mode == "r")
    return zarr.open_group(store, mode=mode, zarr_format=3)


def open_physgen_group(url: str, *, mode: str) -> tuple[zarr.Group, dict[str, Any]]:
    """Open the root group of a physgen store and its ``physgen`` attributes, or raise StoreError."""
    try:
        group = open_root(url, mode=mode)
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
    return group, dict(meta)


def store_exists(url: str) -> bool:
    url = normalise_url(url)
    fs, path = url_to_fs(url)
    return bool(fs.exists(path)) and bool(fs.exists(f"{path.rstrip('/')}/zarr.json") or fs.ls(path))


def remove_store(url: str) -> None:
    url = normalise_url(url)
    if "://" not in url:
        shutil.rmtree(url)
        return
    fs, path = url_to_fs(url)
    fs.rm(path, recursive=True)
