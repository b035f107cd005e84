"""Binned two-sample comparisons on the reference's binning (:mod:`physgen.metrics.histograms`):
the separation power ⟨S²⟩ (docs/PHYSICS.md §8) and the χ² homogeneity test of weighted histograms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats

from physgen.metrics._samples import as_sample
from physgen.metrics.histograms import bin_fractions, binning_edges, fill

__all__ = ["Chi2Test", "chi2_test", "separation_power", "separation_power_hist"]

_CALOCHALLENGE_EPSILON = 1e-16
"""Added to pᵢ + qᵢ by the challenge's ``_separation_power`` (``code/evaluate_plotting_helper.py``)."""


def separation_power_hist(p: np.ndarray, q: np.ndarray) -> float:
    """⟨S²⟩ = ½ Σᵢ (pᵢ − qᵢ)² / (pᵢ + qᵢ) over bins with pᵢ + qᵢ > 0, for unit-normalised p, q.

    0 for identical histograms, 1 for histograms without common bins. Known as triangular
    discrimination; TMVA's ``GetSeparation``; the CaloChallenge "chi2"; eq. 15 of paper 004
    (Diefenbacher et al. 2020, arXiv:2009.03796). Inputs are normalised here, so raw counts may
    be passed.
    """
    p, q = np.asarray(p, float), np.asarray(q, float)
    p, q = p / p.sum(), q / q.sum()
    both = (p + q) > 0
    return float(0.5 * np.sum((p[both] - q[both]) ** 2 / (p[both] + q[both])))


def separation_power(reference, generated, *, bins: int | np.ndarray = 50, binning: str = "reference",
                     weights_a=None, weights_b=None) -> float:
    """⟨S²⟩ of two (weighted) samples on ``bins`` edges defined by ``reference`` alone.

    ``binning="reference"``: equal-population bins of the reference; generated values outside its
    range fall in the end bins, so one outlier moves one event's worth of probability into a bin
    as full as any other, not the binning. Two samples of one distribution give ⟨S²⟩ ≈ bins/4 ·
    (1/N₁ + 1/N₂) from counting noise alone. ``binning="reference_width"``: the same on equal-width
    bins. ``binning="calochallenge"``: the challenge's numbers (equal-width bins, values outside
    dropped, fractions normalised inside, 1e-16 in the denominator), to be compared with its
    published tables. See :mod:`physgen.metrics.histograms`.
    """
    reference, generated = as_sample(reference, "reference"), as_sample(generated, "generated")
    edges = binning_edges(reference, bins, binning, weights_a)
    p, _ = bin_fractions(fill(reference, edges, weights_a), binning)
    q, _ = bin_fractions(fill(generated, edges, weights_b), binning)
    if p.sum() == 0 or q.sum() == 0:
        return float("nan")  # no value inside the edges (calochallenge binning): nothing to compare
    if binning == "calochallenge":  # the challenge's sum runs over every bin, denominators kept positive by ε
        return float(0.5 * np.sum((p - q) ** 2 / (p + q + _CALOCHALLENGE_EPSILON)))
    return separation_power_hist(p, q)


@dataclass(frozen=True)
class Chi2Test:
    """χ² of the homogeneity test, its degrees of freedom and p-value."""

    chi2: float
    ndf: int
    p_value: float

    @property
    def chi2_per_ndf(self) -> float:
        return self.chi2 / self.ndf if self.ndf > 0 else float("nan")


def chi2_test(reference, generated, *, bins: int | np.ndarray = 50, binning: str = "reference",
              weights_a=None, weights_b=None) -> Chi2Test:
    """χ² test that two (weighted) histograms come from one distribution (Gagunashvili,
    arXiv:physics/0605123, eq. for two weighted histograms; ROOT ``TH1::Chi2Test`` option "WW"):

        χ² = Σᵢ (W₁ w₂ᵢ − W₂ w₁ᵢ)² / (W₁² s₂ᵢ² + W₂² s₁ᵢ²),   ndf = (bins used) − 1,

    with wᵢ = Σ weights and sᵢ² = Σ weights² in bin i, W the totals. For unit weights it is
    Σ (N₁ n₂ᵢ − N₂ n₁ᵢ)² / (N₁² n₂ᵢ + N₂² n₁ᵢ). Bins empty in both are skipped. Binning as in
    :func:`separation_power` (the reference's edges under the ``binning`` convention; equal-population
    bins keep every expected count large, as the χ² approximation needs).
    """
    reference, generated = as_sample(reference, "reference"), as_sample(generated, "generated")
    edges = binning_edges(reference, bins, binning, weights_a)
    p, var_p = bin_fractions(fill(reference, edges, weights_a), binning)
    q, var_q = bin_fractions(fill(generated, edges, weights_b), binning)
    # in fractions: (W₁ w₂ − W₂ w₁)² / (W₁² s₂² + W₂² s₁²) = (q − p)² / (var_q + var_p)
    used = (var_p + var_q) > 0
    chi2 = float(np.sum((q[used] - p[used]) ** 2 / (var_p[used] + var_q[used])))
    ndf = int(used.sum()) - 1
    return Chi2Test(chi2, ndf, float(scipy.stats.chi2.sf(chi2, ndf)) if ndf > 0 else float("nan"))
