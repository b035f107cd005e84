"""One sentence per metric of ``metrics.json``, for the report: what it measures, which value is good,
and where it comes from. Keys carrying a weight name (``s2_mean_dctr_weight``) match a pattern."""

from __future__ import annotations

import re

__all__ = ["COLUMN_METRICS", "SUMMARY_METRICS", "explain"]

SUMMARY_METRICS: dict[str, str] = {
    "s2_mean": "Separation power ⟨S²⟩ = ½ Σ (p − q)² / (p + q) of the normalised 50-bin histograms, averaged over "
               "the observables: 0 for identical, 1 for disjoint distributions (TMVA; the CaloChallenge's χ²).",
    "ks_sum": "Sum over the observables of the Kolmogorov–Smirnov statistic, the largest gap between the two "
              "cumulative distributions: 0 when every distribution agrees.",
    "w1_mean": "1D Wasserstein-1 (earth mover's) distance per observable in units of the reference's standard "
               "deviation, averaged: 0 when the distributions agree (JetNet's W1 metrics).",
    "c2st_auc": "Area under the ROC curve of a classifier trained to tell reference from generated events, on "
                "held-out events: 0.5 means indistinguishable, 1 fully separable (CaloChallenge 2022).",
    "c2st_jsd": "Jensen–Shannon divergence in bits, 1 − BCE/ln 2 of the calibrated classifier on held-out events: "
                "0 for indistinguishable samples, 1 for disjoint ones.",
    "c2st_temperature": "Temperature T of the classifier's calibration (temperature scaling): its logits divided "
                        "by T give calibrated probabilities; far from 1 means the raw classifier was over- or "
                        "under-confident.",
    "fpd": "Fréchet physics distance: the Fréchet distance between Gaussians fitted to the standardised observables "
           "of both samples (JetNet's FPD); 0 for equal means and covariances.",
    "kpd": "Kernel physics distance: unbiased MMD² with a degree-4 polynomial kernel on the standardised "
           "observables (JetNet's KPD); consistent with 0 when the samples agree.",
    "ks_sum_paper002": "Sum of the KS statistics of M_ll, φ_miss and the leading muon's isolation, the snapshot "
                       "selection figure of paper 002: lower is better.",
    "emd_minimax": "Paper 000's model-selection score: the larger, over signal and background, of the 2D earth "
                   "mover's distances between the (jet mass, τ21) distributions; lower is better.",
}
"""Summary keys without a weight name."""

_WEIGHTED_SUMMARY: list[tuple[str, str]] = [
    (r"s2_mean_ratio_(?P<w>.+)", "⟨S²⟩ with the generated events weighted by {w} over the unweighted ⟨S²⟩: below 1 "
                                 "the weights bring the generator closer to the reference (paper 004)."),
    (r"s2_ratio_median_(?P<w>.+)", "Median over the observables of S² weighted by {w} over S² unweighted."),
    (r"s2_mean_(?P<w>.+)", "⟨S²⟩ with the generated events weighted by {w}."),
    (r"dilution_median_(?P<w>.+)", "Median over the observables of the dilution r: the uncertainty of a mean of the "
                                   "generated events weighted by {w} over that of the reference (paper 004); "
                                   "larger r means the weights cost statistical power."),
    (r"effective_sample_size_(?P<w>.+)", "Kish's effective number of generated events, (Σw)²/Σw², with the weights "
                                         "{w}: the number of unweighted events of equal statistical power."),
    (r"ks_sum_(?P<w>.+)", "KS sum with the generated events weighted by {w}."),
    (r"weight_correlation_(?P<w>.+)", "Pearson correlation per event between the two weights named in {w}."),
]

COLUMN_METRICS: dict[str, str] = {
    "s2": "separation power S² of the two 50-bin histograms (0 identical, 1 disjoint)",
    "w1": "Wasserstein-1 distance, in the observable's units",
    "ks": "Kolmogorov–Smirnov statistic",
    "mean_reference": "mean of the reference",
    "mean_generated": "mean of the generated events",
}
"""Per-observable keys without a weight name."""

_WEIGHTED_COLUMN: list[tuple[str, str]] = [
    (r"s2_ratio_(?P<w>.+)", "S² weighted by {w} over S² unweighted"),
    (r"s2_(?P<w>.+)", "S² with the generated events weighted by {w}"),
    (r"dilution_(?P<w>.+)", "dilution r of the weights {w} (uncertainty of the weighted mean over the reference's)"),
    (r"ks_(?P<w>.+)", "KS statistic with the generated events weighted by {w}"),
]


def explain(key: str, *, column: bool = False) -> str | None:
    """The sentence for a summary key (``column``: a per-observable key), or None when none is known."""
    fixed, patterns = (COLUMN_METRICS, _WEIGHTED_COLUMN) if column else (SUMMARY_METRICS, _WEIGHTED_SUMMARY)
    if key in fixed:
        return fixed[key]
    for pattern, text in patterns:
        match = re.fullmatch(pattern, key)
        if match:
            return text.format(w=match["w"])
    return None
