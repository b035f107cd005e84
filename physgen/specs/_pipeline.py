"""Pipeline specs: a named sequence of physgen CLI stages run in one command.

Each step's ``args`` must be keyword arguments of the function behind its verb
(:data:`STEP_FUNCTIONS`), checked when the spec loads: a misspelt argument fails ``physgen specs
validate`` with its key path and a suggestion, before any step runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, PositiveFloat, ValidationInfo, model_validator

from physgen.specs._base import SpecModel
from physgen.specs._options import OptionErrors, checking_plugins

__all__ = ["STEP_FUNCTIONS", "PipelineStep", "PipelineSpec", "step_function"]

STEP_FUNCTIONS: dict[str, tuple[str, str]] = {
    "simulate": ("physgen.sim", "simulate"),
    "import": ("physgen.io", "import_files"),
    "observables": ("physgen.pipeline._runner", "observables_of_store"),
    "train": ("physgen.train", "train"),
    "generate": ("physgen.generate", "generate"),
    "reweight": ("physgen.reweight", "reweight"),
    "evaluate": ("physgen.report", "evaluate"),
    "export": ("physgen.zoo", "export_checkpoint"),
    "quality": ("physgen.pipeline", "quality"),
}
"""Pipeline verb → (module, function) called with the step's ``args`` as keywords."""


def step_function(verb: str) -> Callable[..., Any]:
    """The function behind ``verb``; ImportError/AttributeError when this installation lacks it."""
    module_name, attr = STEP_FUNCTIONS[verb]
    return getattr(importlib.import_module(module_name), attr)


class PipelineStep(SpecModel):
    """One stage: a CLI verb (``simulate``, ``train``, ``generate``, ``reweight``, ``evaluate``...) or a
    quality-run stage (``export`` a shipped checkpoint, ``quality`` figures of merit) and its arguments."""

    run: Literal["simulate", "import", "train", "generate", "reweight", "evaluate", "observables", "export", "quality"]
    args: dict[str, Any] = Field(default_factory=dict)
    time_limit_s: PositiveFloat | None = Field(
        None, description="stop the step after this many seconds and go on with what it committed "
                          "(training: its last checkpoint and selected snapshots)")


class PipelineSpec(SpecModel):
    kind: Literal["pipeline"] = "pipeline"
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    steps: list[PipelineStep] = Field(min_length=1)

    @model_validator(mode="after")
    def _arguments_fit(self, info: ValidationInfo):
        """Every step's ``args`` are keywords of its function."""
        if not checking_plugins(info):
            return self
        errors = OptionErrors("pipeline steps")
        for i, step in enumerate(self.steps):
            try:
                func = step_function(step.run)
            except (ImportError, AttributeError):
                module, attr = STEP_FUNCTIONS[step.run]
                errors.add(("steps", i, "run"), f"needs {module}.{attr}, which this installation does not provide")
                continue
            errors.call(func, step.args, ("steps", i, "args"))
        errors.raise_any()
        return self
