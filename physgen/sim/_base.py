"""The simulator plug-in interface and registry.

A simulator turns a resolved dataset spec into events: ``simulate(n, seed)`` returns one
array per variable of the dataset's store schema, exactly ``n`` events. It validates its
options when constructed, so an impossible spec fails before any event is written.
Third-party simulators register through the ``physgen.simulators`` entry-point group.
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from functools import cache
from importlib.metadata import entry_points
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ValidationError

from physgen.errors import PhysgenWarning, SpecError, did_you_mean
from physgen.store import ResolvedDataset

__all__ = ["Simulator", "register_simulator", "get_simulator", "simulator_names", "parse_options"]

_REGISTRY: dict[str, type[Simulator]] = {}


class Simulator(ABC):
    """Base class of reference simulators; subclasses set ``name`` and implement :meth:`simulate`."""

    name: ClassVar[str]
    Options: ClassVar[type[BaseModel] | None] = None
    parallel_by_default: ClassVar[bool] = False
    """True for expensive simulators: the driver then uses every core unless told otherwise."""

    def __init__(self, dataset: ResolvedDataset):
        self.dataset = dataset
        self.options = parse_options(self.Options, dataset) if self.Options else None

    @abstractmethod
    def simulate(self, n_events: int, seed: np.random.SeedSequence) -> dict[str, np.ndarray]:
        """Exactly ``n_events`` events, one array per schema variable, reproducible from ``seed``."""

    def producer(self) -> dict[str, Any]:
        """Provenance of the producer: name, versions, settings."""
        return {"kind": "simulator", "name": self.name}


def parse_options(model: type[BaseModel], dataset: ResolvedDataset) -> BaseModel:
    """Validate ``simulator.options`` of a dataset spec; errors name the spec file and key."""
    try:
        return model.model_validate(dataset.spec.producer.options)
    except ValidationError as exc:
        lines = [
            f"{dataset.dataset.source}: simulator.options.{'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in exc.errors(include_url=False)
        ]
        raise SpecError("\n".join(lines)) from None


def register_simulator(cls: type[Simulator]) -> type[Simulator]:
    """Class decorator: make ``cls`` available to dataset specs as ``simulator: {name: cls.name}``."""
    _REGISTRY[cls.name] = cls
    return cls


@cache
def _load_entry_points() -> None:
    for ep in entry_points(group="physgen.simulators"):
        try:
            ep.load()
        except Exception as exc:  # a broken plug-in must not break physgen
            warnings.warn(f"simulator plug-in {ep.name!r} failed to load: {exc}", PhysgenWarning, stacklevel=2)


def simulator_names() -> list[str]:
    _load_entry_points()
    return sorted(_REGISTRY)


def get_simulator(name: str) -> type[Simulator]:
    _load_entry_points()
    if name not in _REGISTRY:
        msg = f"unknown simulator {name!r}{did_you_mean(name, _REGISTRY)}"
        raise SpecError(msg)
    return _REGISTRY[name]
