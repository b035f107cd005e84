"""Evaluation reports: ``evaluate(reference, generated, out)`` writes ``metrics.json`` and a
self-contained ``report.html`` (histograms with ratio panels and ⟨S²⟩, weights and dilution,
average images, correlation matrices, metrics tables)."""

from physgen.report._evaluate import BINS, evaluate

__all__ = ["BINS", "evaluate"]


def __dir__() -> list[str]:
    return __all__
