"""Model specs: an architecture from the registry, its hyperparameters, the store variables
it reads and writes, their transforms, and the training recipe."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveInt

from physgen.specs._base import SpecModel

__all__ = ["Transform", "DataSpec", "OptimizerSpec", "SelectionSpec", "TrainingSpec", "ModelSpec"]


class Transform(SpecModel):
    """One invertible transform of a variable before training (``log``, ``scale``, ``smear``...)."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class DataSpec(SpecModel):
    """Which store variables a model reads, in which role, and how they are transformed."""

    inputs: list[str] = Field(min_length=1, description="variables generated (or classified)")
    conditions: list[str] = Field(default_factory=list)
    labels: list[str] = Field(default_factory=list)
    transforms: dict[str, list[Transform]] = Field(default_factory=dict)


class OptimizerSpec(SpecModel):
    name: Literal["adam", "adamw", "adadelta", "sgd", "rmsprop"] = "adam"
    lr: float = Field(2e-4, gt=0)
    betas: tuple[float, float] | None = None
    weight_decay: float = Field(0.0, ge=0)


class SelectionSpec(SpecModel):
    """Snapshot selection: every ``every`` epochs, score ``n_events`` generated events with ``metric``."""

    metric: str
    every: PositiveInt = 1
    n_events: PositiveInt = 10_000
    keep: PositiveInt = 3
    options: dict[str, Any] = Field(default_factory=dict)


class TrainingSpec(SpecModel):
    batch_size: PositiveInt = 256
    epochs: PositiveInt | None = None
    steps: PositiveInt | None = None
    optimizer: OptimizerSpec = OptimizerSpec()
    optimizers: dict[str, OptimizerSpec] = Field(default_factory=dict, description="per-network overrides")
    checkpoint_every: PositiveInt = 1000
    on_nan: Literal["stop", "rollback"] = "stop"
    selection: SelectionSpec | None = None
    validation_fraction: float = Field(0.1, ge=0, lt=1)
    seed: int = 0
    options: dict[str, Any] = Field(default_factory=dict)


class ModelSpec(SpecModel):
    kind: Literal["model"] = "model"
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    architecture: str
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    data: DataSpec
    training: TrainingSpec = TrainingSpec()
    dataset: str | None = Field(None, description="dataset spec the model is meant for")
