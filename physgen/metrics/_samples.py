"""Checking samples and their weights before a metric reads them."""

from __future__ import annotations

import numpy as np

from physgen.errors import PhysgenError

__all__ = ["as_sample", "as_weights"]


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
