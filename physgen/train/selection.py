"""Snapshot-selection metrics by name: ``training.selection.metric`` in a model spec.

:func:`get_metric` first looks in :mod:`physgen.metrics` (when that room provides a
``get_metric``), then in the metrics shipped here. A metric takes two samples as
``dict[name -> numpy array]`` (reference, generated) and options; lower is better.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

import numpy as np
from scipy.stats import ks_2samp

from physgen.errors import SpecError

__all__ = ["get_metric", "ks_sum", "sample_variable"]

Metric = Callable[..., float]


def _phi_miss(sample: dict[str, np.ndarray]) -> np.ndarray:
    return np.arctan2(sample["met_py"], sample["met_px"])


def _m_ll(sample: dict[str, np.ndarray]) -> np.ndarray:
    from physgen.models import dimuon_mass

    return dimuon_mass({k: np.asarray(v, dtype=np.float64) for k, v in sample.items()}, xp=np)


_DERIVED: dict[str, Callable[[dict[str, np.ndarray]], np.ndarray]] = {"m_ll": _m_ll, "phi_miss": _phi_miss}
"""Derived quantities the Z→μμ selection needs (paper 002) until physgen.observables provides them."""


def sample_variable(sample: dict[str, np.ndarray], name: str) -> np.ndarray:
    """A stored variable of ``sample`` (flattened per event) or a derived quantity by name."""
    if name in sample:
        return np.asarray(sample[name]).reshape(len(sample[name]), -1).sum(axis=1) if np.ndim(sample[name]) > 1 \
            else np.asarray(sample[name])
    if name in _DERIVED:
        return _DERIVED[name](sample)
    msg = f"selection: unknown variable {name!r}; available: {sorted(sample)} and derived {sorted(_DERIVED)}"
    raise SpecError(msg)


def ks_sum(reference: dict[str, np.ndarray], generated: dict[str, np.ndarray],
           variables: list[str] | None = None) -> float:
    """Sum of two-sample Kolmogorov–Smirnov statistics over ``variables`` (paper 002's snapshot ranking:
    M_ll − M_Z, φ_miss and Iso1; the shift by M_Z does not change a KS statistic)."""
    names = variables or sorted(set(reference) & set(generated))
    return float(sum(ks_2samp(sample_variable(reference, n), sample_variable(generated, n)).statistic
                     for n in names))


_METRICS: dict[str, Metric] = {"ks_sum": ks_sum}


def get_metric(name: str) -> Metric:
    """The selection metric ``name``: from :mod:`physgen.metrics` if it has one, else shipped here."""
    try:
        metrics = importlib.import_module("physgen.metrics")
    except ImportError:
        metrics = None
    lookup = getattr(metrics, "get_metric", None)
    if lookup is not None:
        try:
            return lookup(name)
        except (KeyError, LookupError, ValueError):
            pass
    if name not in _METRICS:
        msg = f"unknown selection metric {name!r}; shipped: {sorted(_METRICS)}"
        raise SpecError(msg)
    return _METRICS[name]
