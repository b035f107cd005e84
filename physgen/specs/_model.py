"""Model specs: an architecture from the registry, its hyperparameters, the store variables
it reads and writes, their transforms, and the training recipe.

``hyperparameters``, ``training.options`` and every transform's ``options`` are checked when the
spec loads against the models the architecture and the transforms declare
(:data:`physgen.plugins.ARCHITECTURES`, :data:`physgen.plugins.TRANSFORMS`), as are the snapshot
metric's name and options (:data:`physgen.plugins.METRICS`) and the network names of
``training.optimizers``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, ValidationInfo, model_validator

from physgen import plugins
from physgen.errors import did_you_mean
from physgen.specs._base import SpecModel
from physgen.specs._options import OptionErrors, checking_plugins

__all__ = ["Transform", "DataSpec", "OptimizerSpec", "SelectionSpec", "TrainingOptions", "TrainingSpec", "ModelSpec"]


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
    event_weights: bool = Field(
        True, description="draw training events with probability ∝ the store's event weight (its feature of role "
                          "weight) when they are not all equal; false: every event once per epoch, weights ignored")

    @property
    def variables(self) -> list[str]:
        """Every variable the model reads: inputs, conditions and labels, in that order, once each."""
        return list(dict.fromkeys(self.inputs + self.conditions + self.labels))

    @model_validator(mode="after")
    def _transforms_of_read_variables(self):
        errors = OptionErrors("data.transforms")
        for name in self.transforms:
            if name not in self.variables:
                hint = did_you_mean(name, self.variables, listing="the model reads")
                errors.add(("transforms", name), f"transforms a variable the model does not read{hint}", name)
        errors.raise_any()
        return self


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


class TrainingOptions(BaseModel):
    """``training.options`` every architecture takes: how the training loop (``physgen.train``) runs.

    Architectures that need more (DCTR's weight clipping) extend it; see their ``TrainingOptions``.
    """

    model_config = ConfigDict(extra="forbid")
    num_workers: NonNegativeInt = Field(0, description="data-loader worker processes (0: read-ahead threads)")
    buffer_events: PositiveInt | None = Field(None, description="shuffle buffer rows (default max(16·batch, 65 536))")
    read_cache_mib: NonNegativeInt = Field(
        1024, description="keep the decoded training events in memory from the first epoch on, up to this many "
        "MiB (read-ahead threads only; 0: read the store every epoch)")
    log_every: PositiveInt = Field(10, description="steps between lines of metrics.jsonl")
    amp: bool = Field(True, description="bfloat16 autocast on CUDA")
    threads: PositiveInt | None = Field(None, description="torch intra-op threads while training (tiny nets: 1)")
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$",
                        description="auto (CUDA when available), cpu, cuda or cuda:N; --device overrides")


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
    options: dict[str, Any] = Field(default_factory=dict, description="the architecture's TrainingOptions")


class ModelSpec(SpecModel):
    kind: Literal["model"] = "model"
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    architecture: str
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    data: DataSpec
    training: TrainingSpec = TrainingSpec()
    dataset: str | None = Field(None, description="dataset spec the model is meant for")

    @model_validator(mode="after")
    def _plugin_options(self, info: ValidationInfo):
        """The architecture, transforms and selection metric exist and take the options given."""
        if not checking_plugins(info):
            return self
        errors = OptionErrors("model options")
        recipe = errors.plugin(plugins.ARCHITECTURES, self.architecture, ("architecture",))
        if recipe is not None:
            errors.options(recipe.Hyperparameters, self.hyperparameters, ("hyperparameters",))
            errors.options(recipe.TrainingOptions, self.training.options, ("training", "options"))
            networks = recipe.network_names
            for name in self.training.optimizers:
                if networks and name not in networks:
                    errors.unknown_key(("training", "optimizers", name),
                                       did_you_mean(name, networks, listing=f"{self.architecture}'s networks are"))
        for variable, chain in self.data.transforms.items():
            for i, transform in enumerate(chain):
                loc = ("data", "transforms", variable, i)
                cls = errors.plugin(plugins.TRANSFORMS, transform.name, (*loc, "name"))
                if cls is not None:
                    errors.options(cls.Options, transform.options, (*loc, "options"))
        selection = self.training.selection
        if selection is not None:
            metric = errors.plugin(plugins.METRICS, selection.metric, ("training", "selection", "metric"))
            if metric is not None:  # a physgen.metrics.Metric: func(comparison, *, option=…)
                errors.call(metric.func, selection.options, ("training", "selection", "options"), positional=1)
        errors.raise_any()
        return self
