"""Snapshot selection: score a generated validation sample against held-out reference events with
the metric that ``training.selection.metric`` names in the model spec.

The metric comes from :mod:`physgen.metrics`' registry (``get_metric(name)``, signature
``metric(reference_ds, generated_ds, **options) -> float``, lower is better), so a snapshot is
ranked with exactly the code ``physgen evaluate`` reports (paper 002: ``ks_sum``, the KS sum of
M_ll − M_Z, φ_miss and Iso1). ``selection.options`` are passed through as keyword arguments; the
metric's name and options were checked against its signature when the model spec loaded
(``physgen.specs``), not epochs later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import xarray as xr

from physgen.metrics import get_metric
from physgen.specs import SelectionSpec

__all__ = ["generated_dataset", "score", "selection_metric"]


def selection_metric(selection: SelectionSpec) -> Callable[[xr.Dataset, xr.Dataset], float]:
    """The registered metric of ``selection`` with its options bound."""
    metric = get_metric(selection.metric)
    return lambda reference, generated: float(metric(reference, generated, **selection.options))


def generated_dataset(reference: xr.Dataset, values: Mapping[str, np.ndarray]) -> xr.Dataset:
    """``values`` (one array per variable of ``reference``) laid out like ``reference``: same dims,
    coordinates, units and store attributes, so observables and metrics see a store-like dataset."""
    return reference.copy(data={name: np.asarray(values[name]).astype(reference[name].dtype)
                                for name in reference.data_vars})


def score(selection: SelectionSpec, reference: xr.Dataset, generated: Mapping[str, np.ndarray]) -> float:
    """The selection metric of ``generated`` (arrays by variable name) against ``reference``."""
    return selection_metric(selection)(reference, generated_dataset(reference, generated))
