"""Checking and binning samples: common binning of two (weighted) samples, unit-normalised histograms."""

from __future__ import annotations

import numpy as np

from physgen.errors import PhysgenError

__all__ = ["as_sample", "as_weights", "common_edges", "normalised_histogram"]


def as_sample(x, name: str = "sample") -> np.ndarray:
    """A finite 1-D float64 array, or a clear error."""
    x = np.asarray(x, dtype=np.float64).ravel()
    if x.size == 0:
        msg = f"{name} is empty; a metric needs at least one value"
        raise PhysgenError(msg)
    if not np.all(np.isfinite(x)):
        msg = f"{name} holds {np.count_nonzero(~np.isfinite(x))} NaN or infinite values"
        raise PhysgenError(msg)
    return x


def as_weights(w, x: np.ndarray, name: str = "weights") -> np.ndarray:
    """Weights matching ``x`` (ones when ``w`` is None); non-negative with a positive sum."""
    if w is None:
        return np.ones_like(x)
    w = np.asarray(w, dtype=np.float64).ravel()
    if w.shape != x.shape:
        msg = f"{name}: expected {x.size} weights (one per value), got {w.size}"
        raise PhysgenError(msg)
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        msg = f"{name} must be finite, non-negative and not all zero"
        raise PhysgenError(msg)
    return w


def common_edges(a: np.ndarray, b: np.ndarray, bins: int | np.ndarray = 50) -> np.ndarray:
    """Equal-width bin edges spanning both samples (or ``bins`` itself when it is an array of edges)."""
    if np.ndim(bins) == 1:
        return np.asarray(bins, dtype=np.float64)
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return np.linspace(lo, hi, int(bins) + 1)


def normalised_histogram(x: np.ndarray, edges: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Histogram of ``x`` on ``edges`` (values outside go to the end bins) normalised to unit sum."""
    clipped = np.clip(x, edges[0], edges[-1])
    counts, _ = np.histogram(clipped, bins=edges, weights=weights)
    total = counts.sum()
    return counts / total if total > 0 else counts
