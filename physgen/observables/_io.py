"""Computing observables of a store with an events/s progress bar and writing them atomically to a
Zarr store or a table.

Names may be registered observables or variables stored in the dataset (``x`` of a toy store);
without names, the feature schema's ``observables:`` list, else every observable that applies,
else the store's per-event scalar variables, so every store kind has a default.

Outputs go through fsspec (a path, ``file://``, ``s3://`` …). They are written under a temporary
sibling name (``obs.zarr.partial-<pid>``) and renamed into place only once complete, so a killed
or failing run (a full disk) never leaves a partial output under the requested name; leftovers of
killed runs are removed by the next run writing the same output. The write holds the output's
writer lock (:func:`physgen.store.store_lock`), so two runs never write one output at once.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass

import fsspec
import xarray as xr

from physgen.errors import PhysgenError, SchemaError, StoreExistsError, did_you_mean
from physgen.observables._registry import compute, default_observables, observable_names
from physgen.progress import event_progress
from physgen.schema import EVENT
from physgen.store import store_lock

__all__ = ["OUTPUT_FORMATS", "Output", "columns", "compute_observables", "default_names", "resolve_output",
           "write_observables"]

OUTPUT_FORMATS = {".csv": "csv", ".parquet": "parquet", ".zarr": "zarr", "": "zarr"}
"""Output suffix → format; a name without a suffix is a Zarr store."""
PARTIAL = ".partial-"
"""Infix of the temporary name an output is written under before it is renamed into place."""


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


def default_names(ds: xr.Dataset) -> list[str]:
    """The schema's observables, else every per-event observable that applies, else the stored per-event
    scalar variables (the coordinates of a toy, the incident energy of a CaloChallenge store)."""
    names = default_observables(ds)
    return names or [str(n) for n, v in ds.data_vars.items() if v.dims == (EVENT,)]


def _select(ds: xr.Dataset, names: list[str]) -> xr.Dataset:
    """The named observables and stored variables of ``ds``, lazily (an observable wins over a variable)."""
    known, computable = set(observable_names()), set(observable_names(ds))
    unknown = [n for n in names if n not in known and n not in ds.data_vars]
    if unknown:
        choices = sorted(set(observable_names(ds)) | {str(n) for n in ds.data_vars})
        hint = did_you_mean(unknown[0], choices, listing="observables and variables of this store")
        msg = f"{unknown[0]!r} is neither an observable nor a variable of this store{hint}"
        raise PhysgenError(msg)
    derived = [n for n in names if n in known and (n not in ds.data_vars or n in computable)]
    out = compute(ds, derived)
    for name in names:
        if name not in out:
            out[name] = ds[name]
    return out[names]


@dataclass(frozen=True)
class Output:
    """Where and how observables are written: an fsspec file system, the final path, the format."""

    fs: fsspec.AbstractFileSystem
    path: str
    format: str
    url: str

    @property
    def local(self) -> bool:
        return "file" in self.fs.protocol or "local" in self.fs.protocol

    def partial(self) -> str:
        return f"{self.path}{PARTIAL}{os.getpid()}"


def resolve_output(out: str | os.PathLike[str], *, overwrite: bool = False) -> Output:
    """Check an output location before any work: a known format, a known URL protocol, an existing local
    folder, and no existing output unless ``overwrite``."""
    url = os.fspath(out)
    suffix = posixpath.splitext(url.rstrip("/"))[1].lower()
    if suffix not in OUTPUT_FORMATS:
        msg = (f"--out {url!r}: physgen does not write {suffix!r} files; use FILE.csv, FILE.parquet or a Zarr "
               f"store (FOLDER.zarr or a name without suffix)")
        raise PhysgenError(msg)
    try:
        fs, path = fsspec.core.url_to_fs(url)
    except ImportError as exc:
        msg = f"--out {url!r}: this URL needs a package that is not installed ({exc})"
        raise PhysgenError(msg) from None
    except ValueError as exc:
        msg = f"--out {url!r}: {exc}; use a path or a URL of a known protocol (file://, s3://, gs:// …)"
        raise PhysgenError(msg) from None
    output = Output(fs, path, OUTPUT_FORMATS[suffix], url)
    if OUTPUT_FORMATS[suffix] == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            msg = "writing .parquet needs pyarrow (pip install pyarrow); or write a .csv or a Zarr store"
            raise PhysgenError(msg) from None
    if fs.exists(path) and not overwrite:
        msg = f"{url!r} already exists; pass --overwrite to replace it"
        raise StoreExistsError(msg)
    parent = posixpath.dirname(path)
    if output.local and not fs.isdir(parent):
        msg = f"cannot write {url!r}: its folder {parent!r} does not exist; create it first"
        raise PhysgenError(msg)
    return output


def _remove(fs: fsspec.AbstractFileSystem, path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        if fs.isdir(path):
            fs.rm(path, recursive=True)
        else:
            fs.rm(path)


def _remove_leftovers(output: Output) -> None:
    """Temporary outputs of earlier runs of the same output whose process is gone (killed)."""
    parent, stem = posixpath.split(output.path)
    with contextlib.suppress(FileNotFoundError, OSError):
        for entry in output.fs.ls(parent, detail=False):
            name = posixpath.basename(entry.rstrip("/"))
            if name.startswith(stem + PARTIAL):
                pid = name.rsplit("-", 1)[-1]
                if not (output.local and pid.isdigit() and _alive(int(pid))):
                    _remove(output.fs, entry)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


@contextlib.contextmanager
def _atomic(output: Output) -> Iterator[str]:
    """Yield a temporary URL to write; on success it replaces the output, on any failure it is removed."""
    _remove_leftovers(output)
    partial = output.partial()
    _remove(output.fs, partial)
    target = partial if output.local else output.fs.unstrip_protocol(partial)
    try:
        yield target
        if output.fs.exists(output.path):
            _remove(output.fs, output.path)
        output.fs.mv(partial, output.path, recursive=output.format == "zarr")
    except OSError as exc:
        _remove(output.fs, partial)
        msg = f"writing {output.url!r} failed ({exc.strerror or exc}); nothing was written there"
        raise PhysgenError(msg) from None
    except BaseException:
        _remove(output.fs, partial)
        raise


def _event_blocks(ds: xr.Dataset) -> list[slice]:
    n = int(ds.sizes.get(EVENT, 0))
    sizes = [v.chunks[0] for v in ds.data_vars.values() if v.chunks and v.dims[:1] == (EVENT,)]
    step = max(int(sizes[0][0]), 1) if sizes and sizes[0] else max(n, 1)
    return [slice(start, min(start + step, n)) for start in range(0, n, step)]


def compute_observables(ds: xr.Dataset, names: list[str] | None = None, *, progress: bool = True) -> xr.Dataset:
    """``names`` (default: :func:`default_names`) of ``ds`` computed in blocks of the store's chunks,
    with a progress bar counting events; summaries without an ``event`` dim come last, in one pass."""
    names = list(default_names(ds) if names is None else names)
    if not names:
        msg = "this store has no observables and no per-event variables to compute"
        raise SchemaError(msg)
    lazy = _select(ds, names)
    per_event = [n for n in names if EVENT in lazy[n].dims]
    summaries = [n for n in names if n not in per_event]
    parts = []
    with event_progress(f"observables ({len(names)})", total=int(ds.sizes.get(EVENT, 0)), enabled=progress) as advance:
        for block in _event_blocks(ds):
            parts.append(lazy[per_event].isel({EVENT: block}).compute())
            advance(block.stop - block.start)
    result = xr.concat(parts, EVENT) if parts else lazy[per_event].compute()
    if summaries:
        result = result.merge(lazy[summaries].compute())
    for name in names:
        result[name].attrs = dict(lazy[name].attrs)
    return result[names]


def write_observables(ds: xr.Dataset, names: list[str] | None, out: str | os.PathLike[str] | None, *,
                      overwrite: bool = False, progress: bool = True, lock: bool = True) -> xr.Dataset:
    """Compute ``names`` (default: :func:`default_names`) of ``ds`` and, when ``out`` is given, write them.

    ``out`` ending in ``.csv`` or ``.parquet`` gets a table of the per-event columns (see
    :func:`columns`); ``.zarr`` or no suffix a Zarr store; other suffixes are refused. The output is
    checked before the computation and written atomically (see the module docstring). Returns the
    computed observables. ``lock=False`` skips the output's writer lock (``--no-lock``, object stores).
    """
    output = resolve_output(out, overwrite=overwrite) if out is not None else None
    if output is None:
        return compute_observables(ds, names, progress=progress)
    with store_lock(output.url, enabled=lock):
        obs = compute_observables(ds, names, progress=progress)
        with _atomic(output) as target:
            if output.format == "zarr":
                obs.to_zarr(target, mode="w", zarr_format=3, consolidated=False)
            else:
                frame = xr.Dataset(columns(obs)).to_dataframe()
                with output.fs.open(output.partial(), "w" if output.format == "csv" else "wb") as handle:
                    if output.format == "csv":
                        frame.to_csv(handle)
                    else:
                        frame.to_parquet(handle)
    return obs
