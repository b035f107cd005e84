"""Classifier inputs of one store: named store variables or derived observables, read in blocks.

An input name is a variable of the store or, failing that, an observable computed lazily by
``physgen.observables.compute(ds, names)`` (a mapping name → ``xr.DataArray`` with ``event``
first). Vector inputs (``dctr_mlp``) are flattened and concatenated per event (the 30 layer
energies of an ILD shower give 30 columns); image inputs (``dctr_cnn3d``) are one variable of
three cell dims. Small inputs are loaded once and kept in memory; large ones (showers) are
read block by block, so memory stays bounded by the block size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import xarray as xr

from physgen.errors import SchemaError, SpecError
from physgen.observables import compute, observable_names
from physgen.schema import EVENT
from physgen.specs import Transform

__all__ = ["EventSource", "check_compatible"]

Layout = Literal["vector", "image"]


def _apply(values: np.ndarray, transforms: Sequence[Transform], name: str) -> np.ndarray:
    """Elementwise input transforms of a model spec: ``log1p`` and ``scale`` (``options.factor``)."""
    for t in transforms:
        if t.name == "log1p":
            values = np.log1p(np.clip(values, 0, None))
        elif t.name == "scale":
            values = values * float(t.options.get("factor", 1.0))
        else:
            msg = f"transform {t.name!r} of input {name!r} is not supported by DCTR; expected 'log1p' or 'scale'"
            raise SpecError(msg)
    return values


def _resolve(ds: xr.Dataset, names: Sequence[str], label: str) -> list[xr.DataArray]:
    """Store variables by name; other names are computed as observables (lazily)."""
    found = {n: ds[n] for n in names if n in ds.data_vars}
    missing = [n for n in names if n not in found]
    unknown = [n for n in missing if n not in observable_names(ds)]
    if unknown:
        msg = (f"inputs {unknown} are neither variables of the {label} store (it has {sorted(map(str, ds.data_vars))}) "
               f"nor observables computable from it ({', '.join(observable_names(ds)) or 'none'})")
        raise SchemaError(msg)
    if missing:
        computed = compute(ds, missing)
        found |= {n: computed[n] for n in missing}
    arrays = [found[n] for n in names]
    for name, array in zip(names, arrays, strict=True):
        if not array.dims or array.dims[0] != EVENT or not np.issubdtype(array.dtype, np.number):
            msg = f"input {name!r} of the {label} store must be numeric with dims (event, ...), got {array.dims} {array.dtype}"
            raise SchemaError(msg)
    return arrays


class EventSource:
    """The classifier inputs of one store as float32 blocks ``read(start, stop)`` of events."""

    def __init__(self, ds: xr.Dataset, names: Sequence[str], *, layout: Layout,
                 transforms: dict[str, list[Transform]] | None = None, label: str = "",
                 cache_bytes: int = 512 * 2**20):
        self.names = list(names)
        self.label = label
        self.arrays = _resolve(ds, self.names, label)
        self.transforms = transforms or {}
        self.n_events = int(ds.sizes.get(EVENT, 0))
        if layout == "image":
            if len(self.arrays) != 1 or self.arrays[0].ndim != 4:
                shapes = {n: a.dims for n, a in zip(self.names, self.arrays, strict=True)}
                msg = f"an image classifier needs one input variable with dims (event, z, y, x); got {shapes}"
                raise SpecError(msg)
            self.shape = tuple(self.arrays[0].shape[1:])
            self.dims = tuple(map(str, self.arrays[0].dims[1:]))
        else:
            self.shape = (sum(int(np.prod(a.shape[1:], dtype=np.int64)) for a in self.arrays),)
            self.dims = ("feature",)
        self.layout = layout
        per_event = int(np.prod(self.shape, dtype=np.int64)) * 4
        self._cache = self._load(0, self.n_events) if self.n_events * per_event <= cache_bytes else None

    def signature(self) -> dict[str, tuple]:
        """Dims, per-event shape and units of every input (must agree between the two stores)."""
        return {n: (a.dims, a.shape[1:], a.attrs.get("units")) for n, a in zip(self.names, self.arrays, strict=True)}

    def read(self, start: int, stop: int) -> np.ndarray:
        if self._cache is not None:
            return self._cache[start:stop]
        return self._load(start, stop)

    def _load(self, start: int, stop: int) -> np.ndarray:
        parts = []
        for name, array in zip(self.names, self.arrays, strict=True):
            values = np.asarray(array.isel({EVENT: slice(start, stop)}).values, dtype=np.float32)
            values = _apply(values, self.transforms.get(name, []), name)
            parts.append(values if self.layout == "image" else values.reshape(stop - start, -1))
        out = parts[0] if self.layout == "image" else np.concatenate(parts, axis=1)
        if not np.all(np.isfinite(out)):
            msg = f"inputs {self.names} of the {self.label} store hold NaN or inf in events [{start}, {stop})"
            raise SchemaError(msg)
        return out.astype(np.float32, copy=False)


def check_compatible(reference: EventSource, generated: EventSource) -> None:
    """Both stores must give the classifier inputs of identical dims, shapes and units."""
    ref, gen = reference.signature(), generated.signature()
    differing = [f"{n}: reference {ref[n]} vs generated {gen[n]}" for n in ref if ref[n] != gen[n]]
    if differing:
        msg = "the two stores have different schemas for the classifier inputs: " + "; ".join(differing)
        raise SchemaError(msg)
    for source in (reference, generated):
        if source.n_events < 10:
            msg = f"the {source.label} store has {source.n_events} events; DCTR needs at least 10"
            raise SchemaError(msg)
