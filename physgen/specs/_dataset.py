"""Dataset specs: what produces a store (simulator or importer), for which detector/features,
under which event conditions, with which seed, chunking and compression."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from physgen import plugins
from physgen.errors import SchemaError
from physgen.specs._base import SpecModel
from physgen.specs._options import OptionErrors, checking_plugins
from physgen.units import check_units

MAX_EVENTS = 10**10
"""Most events a dataset spec may ask for (a run of 10¹⁰ events is far beyond any store physgen makes)."""

__all__ = ["MAX_EVENTS", "Uniform", "Fixed", "Normal", "LogUniform", "Choice", "Distribution", "Producer",
           "DatasetSpec"]


class _Dist(SpecModel):
    units: str = ""

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        raise NotImplementedError

    @model_validator(mode="after")
    def _units_parse(self):
        check_units(self.units)
        return self


class Uniform(_Dist):
    distribution: Literal["uniform"] = "uniform"
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self):
        if not self.low <= self.high:
            msg = f"uniform: low {self.low} must not exceed high {self.high}"
            raise ValueError(msg)
        return self

    def sample(self, rng, n):
        return rng.uniform(self.low, self.high, n)


class LogUniform(Uniform):
    distribution: Literal["loguniform"] = "loguniform"  # type: ignore[assignment]

    @model_validator(mode="after")
    def _positive(self):
        if self.low <= 0:
            msg = f"loguniform: low must be > 0, got {self.low}"
            raise ValueError(msg)
        return self

    def sample(self, rng, n):
        return np.exp(rng.uniform(np.log(self.low), np.log(self.high), n))


class Fixed(_Dist):
    distribution: Literal["fixed"] = "fixed"
    value: float

    def sample(self, rng, n):
        return np.full(n, self.value)


class Normal(_Dist):
    distribution: Literal["normal"] = "normal"
    mean: float
    std: float = Field(ge=0)

    def sample(self, rng, n):
        return rng.normal(self.mean, self.std, n)


class Choice(_Dist):
    distribution: Literal["choice"] = "choice"
    values: list[float] = Field(min_length=1)
    probabilities: list[Annotated[float, Field(ge=0)]] | None = None

    @model_validator(mode="after")
    def _probabilities(self):
        if self.probabilities is not None:
            if len(self.probabilities) != len(self.values) or abs(sum(self.probabilities) - 1) > 1e-9:
                msg = "choice: probabilities must match values in length and sum to 1"
                raise ValueError(msg)
        return self

    def sample(self, rng, n):
        return rng.choice(np.asarray(self.values), size=n, p=self.probabilities)


Distribution = Annotated[Uniform | LogUniform | Fixed | Normal | Choice, Field(discriminator="distribution")]


class Producer(SpecModel):
    """A simulator or importer by registry name, with its options (checked against the plug-in's
    ``Options`` model when the dataset spec loads)."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class DatasetSpec(SpecModel):
    """A dataset: its producer, detector and feature schema (by name), conditions, size and seed."""

    kind: Literal["dataset"] = "dataset"
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    simulator: Producer | None = None
    importer: Producer | None = None
    detector: str | None = Field(None, description="name of a detector spec")
    features: str | None = Field(None, description="name of a feature-schema spec")
    conditions: dict[str, Distribution] = Field(default_factory=dict)
    events: int = Field(10_000, gt=0, le=MAX_EVENTS)
    seed: int = Field(0, ge=0, lt=2**63)
    chunk_events: int | None = Field(None, gt=0, le=10_000_000)
    compression: str = Field("zstd", description=(
        "codec chain of the store's chunks, by name (physgen.store.COMPRESSIONS): 'zstd' (the default, smallest) "
        "for precious references, 'lz4' for training stores read every epoch"))

    @field_validator("compression")
    @classmethod
    def _known_compression(cls, name: str) -> str:
        from physgen.store._compression import check_compression  # the store package imports the specs

        try:
            return check_compression(name)
        except SchemaError as exc:  # the message as it is, without pydantic's "Value error, " prefix
            raise PydanticCustomError("unknown_compression", "{message}", {"message": str(exc)}) from None

    @model_validator(mode="after")
    def _one_producer(self):
        if (self.simulator is None) == (self.importer is None):
            msg = "exactly one of 'simulator' or 'importer' must be given"
            raise ValueError(msg)
        if self.detector is None and self.features is None:
            msg = "at least one of 'detector' or 'features' must be given"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _producer_options(self, info: ValidationInfo):
        """The simulator or importer exists and takes these options."""
        if not checking_plugins(info):
            return self
        role, registry = ("simulator", plugins.SIMULATORS) if self.simulator else ("importer", plugins.IMPORTERS)
        errors = OptionErrors(f"{role} options")
        plugin = errors.plugin(registry, self.producer.name, (role, "name"))
        if plugin is not None:
            errors.options(plugin.Options, self.producer.options, (role, "options"))
        errors.raise_any()
        return self

    @property
    def producer(self) -> Producer:
        return self.simulator or self.importer  # type: ignore[return-value]

    def sample_conditions(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        """Draw ``n`` values of every condition, in the order of the spec."""
        return {name: dist.sample(rng, n) for name, dist in self.conditions.items()}
