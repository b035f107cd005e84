"""One sentence per key of ``metrics.json`` for the report: what it measures, its ideal value and its
source. Registered metrics explain themselves (:func:`physgen.metrics.get_metric`); this module adds the
keys ``evaluate`` derives from them: uncertainties, per-weight variants, the weight summaries of
paper 004 and the per-observable table."""

from __future__ import annotations

from collections.abc import Sequence

from physgen.metrics import get_metric, metric_names

__all__ = ["COLUMN_KEYS", "WEIGHT_SUMMARIES", "explain"]

COLUMN_KEYS: dict[str, str] = {
    "s2": "separation power S² of the two histograms on 50 bins spanning the reference (0 identical, 1 disjoint)",
    "chi2_ndf": "χ²/ndf of the weighted-histogram homogeneity test (≈ 1 when the samples agree)",
    "ks": "Kolmogorov–Smirnov statistic, the largest gap between the two cumulative distributions (0 identical)",
    "w1": "Wasserstein-1 (earth mover's) distance in the observable's units (0 identical)",
    "mean_reference": "mean of the reference",
    "mean_generated": "mean of the generated events",
}
"""Per-observable keys (the table of ``evaluate``) without a weight name."""

WEIGHT_SUMMARIES: dict[str, str] = {
    "s2_mean_ratio": "⟨S²⟩ with the generated events weighted by {w} over the unweighted ⟨S²⟩: below 1 the "
                     "weights bring the generator closer to the reference (paper 004).",
    "s2_ratio_median": "median over the observables of S² weighted by {w} over S² unweighted (paper 004).",
    "dilution_median": "median over the observables of the dilution r: the uncertainty of a mean of the generated "
                       "events weighted by {w} over that of the reference; larger r means the weights cost "
                       "statistical power (paper 004).",
    "effective_sample_size": "Kish's effective number of generated events (Σw)²/Σw² with the weights {w}: the "
                             "number of unweighted events of equal statistical power.",
}
"""Summaries of one weighting that are not registered metrics (``{key}_{weight name}``)."""

_WEIGHTED_COLUMN = {"s2_ratio": "S² weighted by {w} over S² unweighted",
                    "s2": "S² with the generated events weighted by {w}",
                    "dilution": "dilution r of the weights {w}: uncertainty of the weighted mean over the reference's",
                    "ks": "KS statistic with the generated events weighted by {w}"}


def _registered(name: str) -> str | None:
    if name not in metric_names():
        return None
    metric = get_metric(name)
    return f"{metric.description} Ideal: {metric.ideal:g}. Source: {metric.source}."


def explain(key: str, *, weights: Sequence[str] = (), column: bool = False) -> str | None:
    """The sentence for a summary key of ``metrics.json`` (``column``: a key of the per-observable table),
    or None when none is known; ``weights`` are the weight variables the evaluation used."""
    if key.endswith("_error"):
        base = explain(key.removesuffix("_error"), weights=weights, column=column)
        return f"uncertainty (±) of: {base}" if base else None
    if column:
        if key in COLUMN_KEYS:
            return COLUMN_KEYS[key]
        for w in sorted(weights, key=len, reverse=True):
            base = key.removesuffix(f"_{w}")
            if base != key and base in _WEIGHTED_COLUMN:
                return _WEIGHTED_COLUMN[base].format(w=w)
        return None
    sentence = _registered(key)
    if sentence:
        return sentence
    if key.startswith("weight_correlation_"):
        pair = key.removeprefix("weight_correlation_")
        return f"Pearson correlation, event by event, between the two weights in {pair}."
    for w in sorted(weights, key=len, reverse=True):
        base = key.removesuffix(f"_{w}")
        if base == key:
            continue
        if base in WEIGHT_SUMMARIES:
            return WEIGHT_SUMMARIES[base].format(w=w)
        inner = explain(base)
        if inner:
            return f"{inner} Here with the generated events weighted by {w}."
    return None
