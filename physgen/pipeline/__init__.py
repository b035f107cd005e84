"""Pipelines: run the steps of a pipeline spec (simulate → train → generate → reweight → evaluate, or a
quality run: references → train → export → generate → quality) through physgen's Python APIs, in one
command (``physgen run PIPELINE``), keeping a record of each step's cost in ``WORKDIR/pipeline.json``."""

from physgen.pipeline._quality import Figure, observable_summary, quality, quality_table
from physgen.pipeline._runner import PIPELINE_RECORD, STEP_FUNCTIONS, hardware, read_record, run_pipeline

__all__ = [
    "Figure", "PIPELINE_RECORD", "STEP_FUNCTIONS", "hardware", "observable_summary", "quality", "quality_table",
    "read_record", "run_pipeline",
]


def __dir__() -> list[str]:
    return __all__
