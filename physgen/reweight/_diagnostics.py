"""A small weighted separation power for checking DCTR on its own (the official metric lives in
``physgen.metrics``)."""

from __future__ import annotations

import numpy as np

__all__ = ["separation_power"]


def separation_power(reference: np.ndarray, generated: np.ndarray, bins: np.ndarray,
                     weights: np.ndarray | None = None) -> float:
    """⟨S²⟩ = ½ Σᵢ (pᵢ − qᵢ)² / (pᵢ + qᵢ) of unit-normalised histograms on common ``bins``
    (docs/PHYSICS.md §8; TMVA GetSeparation), the generated histogram weighted by ``weights``."""
    p, _ = np.histogram(reference, bins=bins)
    q, _ = np.histogram(generated, bins=bins, weights=weights)
    p, q = p / p.sum(), q / q.sum()
    filled = (p + q) > 0
    return float(0.5 * np.sum((p[filled] - q[filled]) ** 2 / (p[filled] + q[filled])))
