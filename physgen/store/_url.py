"""Paths and fsspec URLs → zarr stores (``memory://``, ``file://``, ``s3://``… all work)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import fsspec
import zarr
import zarr.storage

__all__ = ["normalise_url", "zarr_store", "open_root", "store_exists", "remove_store"]


def normalise_url(url: str | os.PathLike[str]) -> str:
    url = os.fspath(url)
    return url if "://" in url else str(Path(url).expanduser().absolute())


def zarr_store(url: str, *, read_only: bool) -> zarr.abc.store.Store:
    url = normalise_url(url)
    if "://" not in url:
        return zarr.storage.LocalStore(url, read_only=read_only)
    if url.startswith("file://"):
        return zarr.storage.LocalStore(url.removeprefix("file://"), read_only=read_only)
    return zarr.storage.FsspecStore.from_url(url, read_only=read_only)


def open_root(url: str, *, mode: str) -> zarr.Group:
    if mode == "w":
        return zarr.open_group(zarr_store(url, read_only=False), mode="w", zarr_format=3)
    store = zarr_store(url, read_only=mode == "r")
    return zarr.open_group(store, mode=mode, zarr_format=3)


def store_exists(url: str) -> bool:
    url = normalise_url(url)
    fs, path = fsspec.core.url_to_fs(url)
    return bool(fs.exists(path)) and bool(fs.exists(f"{path.rstrip('/')}/zarr.json") or fs.ls(path))


def remove_store(url: str) -> None:
    url = normalise_url(url)
    if "://" not in url:
        shutil.rmtree(url)
        return
    fs, path = fsspec.core.url_to_fs(url)
    fs.rm(path, recursive=True)
