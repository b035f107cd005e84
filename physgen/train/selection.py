"""Snapshot selection: score a generated validation sample against held-out reference events with
the metric that ``training.selection.metric`` names in the model spec.

The metric comes from :mod:`physgen.metrics`' registry (``get_metric(name)``, the same entry
``physgen evaluate`` reports), and a snapshot's score is the metric's distance from its ideal
value, |value − ideal| (lower is better: ``ks_sum`` is paper 002's KS sum of M_ll − M_Z, φ_miss
and Iso1; ``c2st_auc`` scores |AUC − ½|). ``selection.options`` are passed through as keyword
arguments; the metric's name and options were checked against its signature when the model spec
loaded (``physgen.specs``), not epochs later.

A weighted training store (biased generation) gives weighted held-out events: the reference then
keeps its event-weight variable and the metric weighs it (:class:`physgen.metrics.Comparison`), so
a snapshot is scored against the physical distribution, as the training batches are drawn from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import xarray as xr

from physgen.metrics import get_metric
from physgen.specs import SelectionSpec

__all__ = ["generated_dataset", "score", "selection_metric"]


def selection_metric(selection: SelectionSpec) -> Callable[[xr.Dataset, xr.Dataset], float]:
    """The registered metric of ``selection`` with its options bound, scored as |value − ideal|."""
    metric = get_metric(selection.metric)
    return lambda reference, generated: metric.distance(metric(reference, generated, **selection.options))


def generated_dataset(reference: xr.Dataset, values: Mapping[str, np.ndarray]) -> xr.Dataset:
    """``values`` (one array per variable of ``reference``, its event weights aside) laid out like
    ``reference``: same dims, coordinates, units and store attributes, so observables and metrics see a
    store-like dataset. The generated events are unweighted: the reference's weight variable is dropped."""
    weight = reference.physgen.weight_name if "physgen" in reference.attrs else None
    if weight is not None and weight not in values:
        reference = reference.drop_vars(weight)
    return reference.copy(data={name: np.asarray(values[name]).astype(reference[name].dtype)
                                for name in reference.data_vars})


def score(selection: SelectionSpec, reference: xr.Dataset, generated: Mapping[str, np.ndarray]) -> float:
    """The selection metric of ``generated`` (arrays by variable name) against ``reference``."""
    return selection_metric(selection)(reference, generated_dataset(reference, generated))
