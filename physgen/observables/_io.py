"""Computing observables of a store with a progress bar and writing them to a Zarr store or a table."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import xarray as xr

from physgen.errors import PhysgenError, StoreExistsError
from physgen.observables._registry import compute
from physgen.progress import dask_progress
from physgen.schema import EVENT

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
                      overwrite: bool = False, progress: bool = True) -> xr.Dataset:
    """Compute ``names`` (default: the schema's list) of ``ds`` and write them to ``out``.

    ``out`` ending in ``.csv`` or ``.parquet`` gets a table of the per-event columns (see
    :func:`columns`); anything else a Zarr store. Returns the computed observables.
    """
    obs = compute(ds, names)
    target = Path(out) if out is not None else None
    if target is not None and target.exists() and not overwrite:
        msg = f"{str(target)!r} already exists; pass --overwrite to replace it"
        raise StoreExistsError(msg)
    if target is not None and target.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            msg = "writing .parquet needs pyarrow (pip install pyarrow); or write a .csv or a Zarr store"
            raise PhysgenError(msg) from None
    with dask_progress(f"observables ({len(obs.data_vars)})", enabled=progress):
        obs = obs.compute()
    if target is None:
        return obs
    if target.suffix in TABLE_SUFFIXES:
        frame = xr.Dataset(columns(obs)).to_dataframe()
        if target.suffix == ".csv":
            frame.to_csv(target)
        else:
            frame.to_parquet(target)
    else:
        if target.exists():
            shutil.rmtree(target)
        obs.to_zarr(target, mode="w", zarr_format=3, consolidated=False)
    return obs
