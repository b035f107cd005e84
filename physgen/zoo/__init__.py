"""The model zoo: trained generators shipped inside the package, found by name.

``physgen generate zmumu_gan17_compact --events N --out STORE`` generates from a fresh install with
no training; the store's provenance names the shipped checkpoint, its sha256, the reference it was
trained on and its measured quality. A quality pipeline (``physgen run quality_<system>``) trains,
exports (:func:`export_checkpoint`) and evaluates a generator; :func:`ship` puts the result into the
zoo and :func:`retrain` repeats both for a shipped name when its reference changes.
"""

from physgen.zoo._checkpoint import FORMAT, export_checkpoint, load_checkpoint, read_checkpoint
from physgen.zoo._index import (
    MAX_ZOO_BYTES,
    README_MARKERS,
    ZOO_DIR,
    load_generator,
    quality_table,
    reference_changes,
    retrain,
    ship,
    shipped_model,
    shipped_models,
)

__all__ = [
    "FORMAT", "MAX_ZOO_BYTES", "README_MARKERS", "ZOO_DIR", "export_checkpoint", "load_checkpoint", "load_generator",
    "quality_table", "read_checkpoint", "reference_changes", "retrain", "ship", "shipped_model", "shipped_models",
]


def __dir__() -> list[str]:
    return __all__
