"""Plug-in registries: every kind of thing physgen finds by name, in one generic :class:`Registry`.

========================  ===============================  ===========================================
registry                  entry-point group                what a name gives
========================  ===============================  ===========================================
:data:`DETECTOR_KINDS`    ``physgen.detector_kinds``       a :class:`DetectorKind` (``geometry.type``)
:data:`SIMULATORS`        ``physgen.simulators``           a ``physgen.sim.Simulator`` subclass
:data:`IMPORTERS`         ``physgen.importers``            a ``physgen.io.Importer`` subclass
:data:`OBSERVABLES`       ``physgen.observables``          the list of implementations of one observable
:data:`ARCHITECTURES`     ``physgen.architectures``        a ``physgen.models.Recipe`` subclass
:data:`METRICS`           ``physgen.metrics``              ``metric(reference, generated, **options)``
:data:`TRANSFORMS`        ``physgen.transforms``           a ``physgen.train`` transform class
========================  ===============================  ===========================================

Built-in plug-ins register themselves when their module is imported; a registry imports those
modules the first time it is asked for a name, so that ``physgen.specs`` can check the options of
a spec's plug-ins without importing torch or Pythia when it is itself imported.

Other packages add plug-ins with entry points, as xarray discovers its backends
(``xarray.backends.plugins``): the entry points of a group are read once and cached, each names
either the plug-in object (registered under the entry point's name) or a module that registers
its plug-ins when imported. A plug-in that fails to load is a :class:`PhysgenWarning` naming it,
never a crash; a name nobody registered is a :class:`~physgen.errors.SpecError` with a suggestion.
"""

from __future__ import annotations

import functools
import importlib
import types
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from physgen.errors import PhysgenWarning, SpecError, did_you_mean

__all__ = [
    "ARCHITECTURES", "DETECTOR_KINDS", "DetectorKind", "IMPORTERS", "METRICS", "OBSERVABLES", "REGISTRIES",
    "Registry", "SIMULATORS", "TRANSFORMS", "refresh",
]

T = TypeVar("T")


@functools.cache
def _entry_points(group: str) -> tuple[EntryPoint, ...]:
    """The installed entry points of ``group``, read once (``refresh()`` reads them again)."""
    return tuple(entry_points(group=group))


class Registry(Generic[T]):
    """Named plug-ins of one kind: built-ins registered by importing ``builtins``, others from ``group``.

    ``kind`` names the plug-ins in messages (``"simulator"``).
    """

    def __init__(self, kind: str, group: str, builtins: tuple[str, ...]):
        self.kind, self.group, self.builtins = kind, group, builtins
        self._entries: dict[str, T] = {}
        self._loaded = False

    def __repr__(self) -> str:
        return f"<Registry of {self.kind}s ({self.group}): {len(self._entries)} registered>"

    # -- registering ----------------------------------------------------------------------
    def register(self, name: str, obj: T | None = None) -> Any:
        """Register ``obj`` as ``name``; without ``obj``, a decorator doing it (returns the object)."""
        if obj is None:
            return lambda target: self.register(name, target)
        if self._entries.get(name, obj) is not obj:
            msg = f"{self.kind} {name!r} is registered twice ({self._entries[name]!r} and {obj!r})"
            raise ValueError(msg)
        self._entries[name] = obj
        return obj

    def setdefault(self, name: str, default: T) -> T:
        """The entry ``name``, registering ``default`` first when there is none (for lists of implementations)."""
        return self._entries.setdefault(name, default)

    # -- looking up -----------------------------------------------------------------------
    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True  # first, so that a module importing the registry while it loads does not recurse
        for module in self.builtins:
            importlib.import_module(module)
        for ep in _entry_points(self.group):
            try:
                obj = ep.load()
            except Exception as exc:  # a broken plug-in must not break physgen
                msg = (f"{self.kind} plug-in {ep.name!r} ({ep.value}) failed to load and is skipped: "
                       f"{type(exc).__name__}: {exc}")
                warnings.warn(msg, PhysgenWarning, stacklevel=3)
                continue
            if isinstance(obj, types.ModuleType):
                continue  # the module registered its plug-ins when imported
            if ep.name in self._entries and self._entries[ep.name] is not obj:
                msg = (f"{self.kind} plug-in {ep.name!r} ({ep.value}) is skipped: the name is taken by "
                       f"{self._entries[ep.name]!r}")
                warnings.warn(msg, PhysgenWarning, stacklevel=3)
                continue
            self._entries[ep.name] = obj

    def get(self, name: str) -> T:
        """The plug-in ``name``; a :class:`SpecError` with a suggestion when there is none."""
        self._load()
        if name not in self._entries:
            msg = f"unknown {self.kind} {name!r}{did_you_mean(str(name), self._entries)}"
            raise SpecError(msg)
        return self._entries[name]

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def items(self) -> list[tuple[str, T]]:
        self._load()
        return sorted(self._entries.items())

    def reload(self) -> None:
        """Forget the entry points read so far (built-ins stay registered); the next lookup reads them again."""
        self._loaded = False


@dataclass(frozen=True)
class DetectorKind:
    """A detector geometry kind: the spec model of ``geometry: {type: <name>, ...}`` and the function
    building the store variables and coordinates of such a detector (``physgen.geometry``)."""

    model: type
    schema: Callable[[Any], Any]


DETECTOR_KINDS: Registry[DetectorKind] = Registry("detector kind", "physgen.detector_kinds", ("physgen.geometry",))
SIMULATORS: Registry[Any] = Registry("simulator", "physgen.simulators", ("physgen.sim",))
IMPORTERS: Registry[Any] = Registry("import format", "physgen.importers", ("physgen.io",))
OBSERVABLES: Registry[list[Any]] = Registry("observable", "physgen.observables", ("physgen.observables",))
ARCHITECTURES: Registry[Any] = Registry("architecture", "physgen.architectures", ("physgen.models",))
METRICS: Registry[Callable[..., float]] = Registry("metric", "physgen.metrics", ("physgen.metrics",))
TRANSFORMS: Registry[Any] = Registry("transform", "physgen.transforms", ("physgen.train._transforms",))

REGISTRIES: dict[str, Registry[Any]] = {r.kind: r for r in (DETECTOR_KINDS, SIMULATORS, IMPORTERS, OBSERVABLES,
                                                            ARCHITECTURES, METRICS, TRANSFORMS)}
"""Every registry by the kind of plug-in it holds."""


def refresh() -> None:
    """Read the installed entry points again (after installing a plug-in package in a running session)."""
    _entry_points.cache_clear()
    for registry in REGISTRIES.values():
        registry.reload()
