"""From calibrated logits to DCTR weights (paper 004, docs/PHYSICS.md §8): w = exp(logit/T), clipped and
normalised to mean 1. The temperature T itself is fitted by :func:`physgen.metrics.fit_temperature`
(the calibration shared with the classifier two-sample tests)."""

from __future__ import annotations

import numpy as np
import scipy.optimize

from physgen.errors import SpecError

__all__ = ["LOGIT_LIMIT", "clip_and_normalise", "weights_from_logits"]

LOGIT_LIMIT = 50.0
"""|logit/T| is capped here before exp (e^50 ≈ 5e21) so that weights stay finite before clipping."""


def clip_and_normalise(raw: np.ndarray, clip: float) -> np.ndarray:
    """Weights ``min(s·raw, clip)`` with the scale s chosen so that their mean is exactly 1.

    Clipping then normalising would let weights exceed ``clip``; normalising then clipping would
    break the mean. Solving mean(min(s·w, clip)) = 1 for s (monotone in s) satisfies both.
    """
    raw = np.asarray(raw, dtype=np.float64)
    if clip < 1:
        msg = f"clip must be >= 1 so that weights can have mean 1, got {clip}"
        raise SpecError(msg)
    if raw.size == 0 or not np.all(np.isfinite(raw)) or np.any(raw <= 0):
        msg = "raw weights must be finite and positive"
        raise ValueError(msg)
    if raw.max() / raw.mean() <= clip:
        return raw / raw.mean()
    # s lies between 1/mean (mean(min(s·w, clip)) ≤ 1) and clip/min (all weights at clip ≥ 1); raw
    # weights span up to e^±50, so solve for log s, where a fixed tolerance is a relative one
    log_scale = scipy.optimize.brentq(lambda t: np.minimum(np.exp(t) * raw, clip).mean() - 1.0,
                                      -np.log(raw.mean()), np.log(clip / raw.min()), xtol=1e-14)
    return np.minimum(np.exp(log_scale) * raw, clip)


def weights_from_logits(logits: np.ndarray, temperature: float, clip: float) -> np.ndarray:
    """DCTR weights f/(1−f) = exp(logit/T) of the generated events, clipped at ``clip`` with mean 1."""
    raw = np.exp(np.clip(np.asarray(logits, dtype=np.float64) / temperature, -LOGIT_LIMIT, LOGIT_LIMIT))
    return clip_and_normalise(raw, clip)
