"""Separation power ⟨S²⟩ between two histograms (docs/PHYSICS.md §8)."""

from __future__ import annotations

import numpy as np

from physgen.metrics._samples import as_sample, as_weights, common_edges, normalised_histogram

__all__ = ["separation_power", "separation_power_hist"]


def separation_power_hist(p: np.ndarray, q: np.ndarray) -> float:
    """⟨S²⟩ = ½ Σᵢ (pᵢ − qᵢ)² / (pᵢ + qᵢ) over bins with pᵢ + qᵢ > 0, for unit-normalised p, q.

    0 for identical histograms, 1 for histograms without common bins. Known as triangular
    discrimination; TMVA's ``GetSeparation``; the CaloChallenge "chi2"; eq. 15 of paper 004.
    """
    p, q = np.asarray(p, float), np.asarray(q, float)
    p, q = p / p.sum(), q / q.sum()
    both = (p + q) > 0
    return float(0.5 * np.sum((p[both] - q[both]) ** 2 / (p[both] + q[both])))


def separation_power(a, b, *, bins: int | np.ndarray = 50, weights_a=None, weights_b=None) -> float:
    """⟨S²⟩ of two (weighted) samples histogrammed on a common binning spanning both."""
    a, b = as_sample(a, "first sample"), as_sample(b, "second sample")
    wa, wb = as_weights(weights_a, a, "weights_a"), as_weights(weights_b, b, "weights_b")
    edges = common_edges(a, b, bins)
    return separation_power_hist(normalised_histogram(a, edges, wa), normalised_histogram(b, edges, wb))
