"""The simulator plug-in interface and registry.

A simulator turns a resolved dataset spec into events: ``simulate(n, seed)`` returns one
array per variable of the dataset's store schema, exactly ``n`` events. Its options are a
pydantic model (``Options``), checked when the dataset spec loads, so an impossible spec fails
``physgen specs validate`` before any event is written. Simulators live in
:data:`physgen.plugins.SIMULATORS`; third-party ones register through the ``physgen.simulators``
entry-point group.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel

from physgen.plugins import SIMULATORS
from physgen.specs import NoOptions, parse_plugin_options
from physgen.store import ResolvedDataset

__all__ = ["Simulator", "register_simulator", "get_simulator", "simulator_names", "parse_options"]


class Simulator(ABC):
    """Base class of reference simulators; subclasses set ``name`` and implement :meth:`simulate`."""

    name: ClassVar[str]
    Options: ClassVar[type[BaseModel]] = NoOptions
    parallel_by_default: ClassVar[bool] = False
    """True for expensive simulators: the driver then uses every core unless told otherwise."""

    def __init__(self, dataset: ResolvedDataset):
        self.dataset = dataset
        self.options = parse_options(self.Options, dataset)

    @abstractmethod
    def simulate(self, n_events: int, seed: np.random.SeedSequence) -> dict[str, np.ndarray]:
        """Exactly ``n_events`` events, one array per schema variable, reproducible from ``seed``."""

    def producer(self) -> dict[str, Any]:
        """Provenance of the producer: name, versions, settings."""
        return {"kind": "simulator", "name": self.name}

    @classmethod
    def physics(cls, producer: dict[str, Any]) -> dict[str, Any]:
        """The part of a :meth:`producer` record that decides the simulated events: what a shipped
        model's reference is compared by to tell whether it is outdated. All of it by default."""
        return producer


def parse_options(model: type[BaseModel], dataset: ResolvedDataset) -> BaseModel:
    """``simulator.options`` of a dataset spec as ``model``; errors name the spec file and key."""
    return parse_plugin_options(model, dataset.spec.producer.options, source=dataset.dataset.source, loc=("simulator", "options"))


def register_simulator(cls: type[Simulator]) -> type[Simulator]:
    """Class decorator: make ``cls`` available to dataset specs as ``simulator: {name: cls.name}``."""
    return SIMULATORS.register(cls.name, cls)


def simulator_names() -> list[str]:
    return SIMULATORS.names()


def get_simulator(name: str) -> type[Simulator]:
    return SIMULATORS.get(name)
