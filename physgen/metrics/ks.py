"""Kolmogorov–Smirnov statistic of (weighted) samples."""

from __future__ import annotations

import numpy as np

from physgen.metrics._samples import as_sample, as_weights

__all__ = ["ks_statistic"]


def _ecdf(x: np.ndarray, w: np.ndarray, at: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(w[order])]) / w.sum()
    return cum[np.searchsorted(x[order], at, side="right")]


def ks_statistic(a, b, *, weights_a=None, weights_b=None) -> float:
    """sup_x |F_a(x) − F_b(x)| of the (weighted) empirical CDFs; equals ``scipy.stats.ks_2samp``'s
    statistic for unit weights."""
    a, b = as_sample(a, "first sample"), as_sample(b, "second sample")
    wa, wb = as_weights(weights_a, a, "weights_a"), as_weights(weights_b, b, "weights_b")
    at = np.concatenate([a, b])
    return float(np.max(np.abs(_ecdf(a, wa, at) - _ecdf(b, wb, at))))
