"""The registry of named observables: a decorator that records one implementation per
detector kind, lookup by name for a given dataset, and lazy evaluation into a Dataset.

A name may have several implementations (``layer_energy`` exists for layered and for voxel
calorimeters); the first one whose requirements the dataset meets is used, so callers and
feature-schema specs refer to observables by name only.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Hashable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass

import xarray as xr

from physgen.errors import SchemaError
from physgen.plugins import OBSERVABLES

__all__ = ["Observable", "observable", "get_observable", "observable_names", "compute", "default_observables", "shared"]

Requirement = Sequence[str] | Callable[[xr.Dataset], bool]


@dataclass(frozen=True)
class Observable:
    """One implementation of a named observable.

    ``requires`` is a list of variable names the dataset must hold, or a predicate on the
    dataset (e.g. "is a layered calorimeter"); ``units=None`` means the function sets the
    units itself from its inputs (an energy sum keeps the cells' units). ``per_event`` is
    False for summaries such as the average image.
    """

    name: str
    func: Callable[[xr.Dataset], xr.DataArray]
    units: str | None
    long_name: str
    requires: Requirement
    per_event: bool = True

    def applies_to(self, ds: xr.Dataset) -> bool:
        if callable(self.requires):
            return bool(self.requires(ds))
        return all(name in ds.variables for name in self.requires)

    def describe_requirement(self) -> str:
        if callable(self.requires):
            return (self.requires.__doc__ or self.requires.__name__).strip().splitlines()[0]
        return f"variables {list(self.requires)}"

    def __call__(self, ds: xr.Dataset) -> xr.DataArray:
        out = self.func(ds)
        units = self.units if self.units is not None else out.attrs.get("units")
        if units is None:
            msg = f"observable {self.name!r} ({self.func.__module__}) returned no units"
            raise RuntimeError(msg)
        attrs = {"units": units, "long_name": self.long_name}
        out = out.rename(self.name)
        out.attrs = attrs
        return out


def observable(name: str, *, units: str | None, long_name: str, requires: Requirement,
               per_event: bool = True) -> Callable:
    """Register ``f(ds) -> DataArray`` as an implementation of the observable ``name``
    (:data:`physgen.plugins.OBSERVABLES`; a plug-in package's ``physgen.observables`` entry point
    names the module holding its decorated functions).

    ``f`` must be pure and lazy: xarray operations or ``xr.apply_ufunc(..., dask="parallelized")``,
    never ``.values`` or ``.compute()``.
    """

    def register(func: Callable[[xr.Dataset], xr.DataArray]) -> Callable[[xr.Dataset], xr.DataArray]:
        entry = Observable(name, func, units, long_name, requires, per_event)
        OBSERVABLES.setdefault(name, []).append(entry)

        @functools.wraps(func)
        def wrapped(ds: xr.Dataset) -> xr.DataArray:
            return entry(ds)

        return wrapped

    return register


def observable_names(ds: xr.Dataset | None = None) -> list[str]:
    """All registered names, or those computable from ``ds``."""
    return sorted(n for n, impls in OBSERVABLES.items() if ds is None or any(i.applies_to(ds) for i in impls))


def get_observable(name: str, ds: xr.Dataset | None = None) -> Observable:
    """The implementation of ``name`` for ``ds`` (or the first one registered when ``ds`` is None)."""
    impls = OBSERVABLES.get(name)
    if ds is None:
        return impls[0]
    for impl in impls:
        if impl.applies_to(ds):
            return impl
    needs = "; or ".join(i.describe_requirement() for i in impls)
    msg = f"observable {name!r} cannot be computed from this dataset (variables {sorted(ds.data_vars)}): it needs {needs}"
    raise SchemaError(msg)


_SHARED: ContextVar[dict | None] = ContextVar("physgen_observables_shared", default=None)


@contextlib.contextmanager
def _sharing() -> Iterator[None]:
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def shared(key: Hashable, build: Callable[[], object]) -> object:
    """``build()``, made once per :func:`compute` call for ``key``: an intermediate that several
    observables are views of (the calorimeter shower table) is then built once, not once per observable
    (for a lazy dataset the graph would be the same, its construction ×16 is not free; an in-memory one
    would run the kernel ×16). Outside :func:`compute` it is simply ``build()``."""
    cache = _SHARED.get()
    if cache is None:
        return build()
    if key not in cache:
        cache[key] = build()
    return cache[key]


def compute(ds: xr.Dataset, names: Iterable[str] | None = None) -> xr.Dataset:
    """The observables ``names`` (default: :func:`default_observables`) of ``ds``, lazily, as one Dataset."""
    names = list(default_observables(ds) if names is None else names)
    with _sharing():
        return xr.Dataset({name: get_observable(name, ds)(ds) for name in names})


def default_observables(ds: xr.Dataset) -> list[str]:
    """The ``observables:`` list of the store's feature schema, else every per-event observable that applies."""
    features = ds.physgen.features if "physgen" in ds.attrs else None
    if features is not None and features.observables:
        return list(features.observables)
    return [n for n in observable_names(ds) if get_observable(n, ds).per_event]
