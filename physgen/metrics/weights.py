"""Statistics of weighted samples: effective sample size and the dilution r of paper 004."""

from __future__ import annotations

import numpy as np

from physgen.metrics._samples import as_sample, as_weights

__all__ = ["effective_sample_size", "dilution", "weighted_mean_error"]


def effective_sample_size(weights) -> float:
    """Kish's N_eff = (Σw)² / Σw²; N for unit weights."""
    w = np.asarray(weights, dtype=np.float64).ravel()
    w = as_weights(w, w)
    return float(w.sum() ** 2 / np.sum(w**2))


def weighted_mean_error(x, weights=None) -> float:
    """Statistical uncertainty of the (weighted) mean: √(Σ wᵢ² (xᵢ − x̄_w)²) / Σ wᵢ (σ/√N for unit weights, up to N/(N−1))."""
    x = as_sample(x)
    w = as_weights(weights, x)
    mean = np.sum(w * x) / w.sum()
    return float(np.sqrt(np.sum(w**2 * (x - mean) ** 2)) / w.sum())


def dilution(reference, generated, weights=None) -> float:
    """r = (uncertainty of the weighted mean of ``generated``) / (uncertainty of the mean of ``reference``).

    Paper 004 (sec. III): r ≈ 1 for equal-size unweighted samples; r² approximates the ratio of
    the effective numbers of events of the reference and the weighted sample. NaN when the
    reference is constant (its mean has no uncertainty).
    """
    reference_error = weighted_mean_error(reference)
    return weighted_mean_error(generated, weights) / reference_error if reference_error > 0 else float("nan")
