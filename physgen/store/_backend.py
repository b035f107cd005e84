"""An xarray backend: ``xr.open_dataset(url, engine="physgen")`` opens a physgen store lazily.

It is :func:`physgen.open_store` behind xarray's plug-in interface (entry point
``physgen = "physgen.store._backend:PhysgenBackendEntrypoint"`` in the ``xarray.backends`` group,
see ``pyproject.toml``): dask arrays chunked as on disk, only committed events, units and
provenance in the attributes, variables left by an interrupted write hidden. ``drop_variables``
works as for every backend; xarray's ``chunks=`` re-chunks the result.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import xarray as xr
from xarray.backends import BackendEntrypoint

from physgen.store._reader import open_store

__all__ = ["PhysgenBackendEntrypoint"]


class PhysgenBackendEntrypoint(BackendEntrypoint):
    """Open physgen stores with ``engine="physgen"`` (paths and fsspec URLs)."""

    description = "physgen event stores (Zarr v3 with committed-event counter, units and provenance)"
    url = "https://github.com/physgen/physgen"
    open_dataset_parameters = ("filename_or_obj", "drop_variables")

    def open_dataset(self, filename_or_obj: str | os.PathLike[Any], *, drop_variables: str | Iterable[str] | None = None
                     ) -> xr.Dataset:
        ds = open_store(os.fspath(filename_or_obj))
        if drop_variables is not None:
            ds = ds.drop_vars([drop_variables] if isinstance(drop_variables, str) else list(drop_variables),
                              errors="ignore")
        return ds

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """Never guessed: a physgen store is also a Zarr store, which xarray's zarr engine claims; ask for
        ``engine="physgen"`` to see only committed events."""
        return False
