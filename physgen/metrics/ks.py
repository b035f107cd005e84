"""Kolmogorov–Smirnov statistics of (weighted) samples and the KS sum of paper 002."""

from __future__ import annotations

import numpy as np

from physgen.metrics._samples import as_sample, as_weights

__all__ = ["ks_statistic", "ks_sum"]


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


def ks_sum(pairs, *, weights_b=None) -> float:
    """Σ of KS statistics over ``pairs`` of (reference, generated) samples.

    Paper 002 ranks GAN snapshots by the sum over M_ll − M_Z, φ_miss and Iso1.
    """
    return float(sum(ks_statistic(a, b, weights_b=weights_b) for a, b in pairs))
