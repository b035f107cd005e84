"""Pipelines: run the steps of a pipeline spec (simulate → train → generate → reweight → evaluate)
through physgen's Python APIs, in one command (``physgen run PIPELINE``)."""

from physgen.pipeline._runner import STEP_FUNCTIONS, run_pipeline

__all__ = [
    "STEP_FUNCTIONS", "run_pipeline",
]


def __dir__() -> list[str]:
    return __all__
