"""Computing observables of a store with a progress bar and writing them to a Zarr store or a table.

The output appears atomically: it is written under a hidden temporary name next to ``out`` and
renamed into place when complete, so a killed run leaves no partial output and a rerun starts
clean. The write holds the output's writer lock (:func:`physgen.store.store_lock`).
"""

from __future__ import annotations

import os
import shutil
from contextlib import nullcontext
from pathlib import Path

import xarray as xr

from physgen.errors import PhysgenError, StoreExistsError
from physgen.observables._registry import compute
from physgen.progress import dask_progress
from physgen.schema import EVENT
from physgen.store import store_lock

__all__ = ["columns", "write_observables"]

TABLE_SUFFIXES = (".csv", ".parquet")


def columns(obs: xr.Dataset) -> dict[str, xr.DataArray]:
    """Per-event observables as 1-D columns: ``layer_energy`` (event, layer) → ``layer_energy_0``, …

    Summaries without an ``event`` dim (the average image) are left out.
    """
    out: dict[str, xr.DataArray] = {}
    for name, var in obs.data_vars.items():
        if EVENT not in var.dims:
            continue
        if var.ndim == 1:
            out[str(name)] = var
            continue
        flat = var.stack(_column=[d for d in var.dims if d != EVENT])
        for i, index in enumerate(flat.indexes["_column"]):
            label = "_".join(map(str, index if isinstance(index, tuple) else (index,)))
            out[f"{name}_{label}"] = flat.isel(_column=i, drop=True).rename(f"{name}_{label}").assign_attrs(var.attrs)
    return out


def write_observables(ds: xr.Dataset, names: list[str] | None, out: str | os.PathLike[str] | None, *,
                      overwrite: bool = False, progress: bool = True, lock: bool = True) -> xr.Dataset:
    """Compute ``names`` (default: the schema's list) of ``ds`` and write them to ``out``.

    ``out`` ending in ``.csv`` or ``.parquet`` gets a table of the per-event columns (see
    :func:`columns`); anything else a Zarr store. Returns the computed observables.
    """
    obs = compute(ds, names)
    target = Path(out) if out is not None else None
    if target is not None and not target.parent.is_dir():
        msg = f"cannot write {str(target)!r}: its folder {str(target.parent)!r} does not exist; create it first"
        raise PhysgenError(msg)
    if target is not None and target.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            msg = "writing .parquet needs pyarrow (pip install pyarrow); or write a .csv or a Zarr store"
            raise PhysgenError(msg) from None
    with store_lock(target, enabled=lock) if target is not None else nullcontext():
        if target is not None and target.exists() and not overwrite:
            msg = f"{str(target)!r} already exists; pass --overwrite to replace it"
            raise StoreExistsError(msg)
        with dask_progress(f"observables ({len(obs.data_vars)})", enabled=progress):
            obs = obs.compute()
        if target is not None:
            _write_atomically(obs, target)
    return obs


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _write_atomically(obs: xr.Dataset, target: Path) -> None:
    """Write under ``.NAME.partial`` next to ``target``, then rename it into place."""
    partial = target.with_name(f".{target.name}.partial")
    _remove(partial)  # left by a killed run (we hold the lock, so no one else is writing it)
    if target.suffix in TABLE_SUFFIXES:
        frame = xr.Dataset(columns(obs)).to_dataframe()
        if target.suffix == ".csv":
            frame.to_csv(partial)
        else:
            frame.to_parquet(partial)
    else:
        obs.to_zarr(partial, mode="w", zarr_format=3, consolidated=False)
    if target.exists():
        _remove(target)
    os.replace(partial, target)
