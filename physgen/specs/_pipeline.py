"""Pipeline specs: a named sequence of physgen CLI stages run in one command."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, PositiveFloat

from physgen.specs._base import SpecModel

__all__ = ["PipelineStep", "PipelineSpec"]


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
