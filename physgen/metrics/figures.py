"""Figures of merit of quality runs — one summary number of a distribution (mean, RMS, peak position,
mean per bin of a condition, average image) and the DCTR gain — the quality targets the papers and the
Fast Calorimeter Simulation Challenge quote, registered in the one metric registry (lower is better).

* ``mean_shift`` / ``std_shift``: |⟨x⟩_gen − ⟨x⟩_ref| and |σ_gen − σ_ref| of one column, in its units,
  optionally of the values in a window (paper 002 regularises and reports the M_ll mean and width;
  issue 13 quotes them in 60–120 GeV).
* ``peak_shift``: distance between the modes of the two distributions (the W-mass peak of
  paper 000's generated W jets), each mode the maximum of a Gaussian kernel density estimate.
* ``binned_mean_deviation``: max over quantile bins of a condition (deciles of the incident energy)
  of |⟨x⟩_gen / ⟨x⟩_ref − 1| — the energy response per energy decile of the CaloChallenge.
* ``mean_image_difference``: Σ|⟨I⟩_gen − ⟨I⟩_ref| / Σ⟨I⟩_ref of the average images (paper 000 shows the
  average W and QCD jet images and their difference).
* ``s2_weight_ratio`` and ``dilution_median``: ⟨S²⟩ with DCTR weights over ⟨S²⟩ without (paper 004
  reports 0.4–0.5 for ILD showers) and the median over columns of the dilution r (paper 004 sec. III).

The classifier two-sample AUC of the quality tables is the registry's ``c2st_auc``.
"""

from __future__ import annotations

import dask
import numpy as np
import scipy.stats

from physgen.errors import PhysgenError
from physgen.metrics._estimate import Estimate
from physgen.metrics.comparison import Comparison
from physgen.metrics.named import get_metric, register_metric
from physgen.metrics.weights import dilution, event_average, weighted_moments
from physgen.schema import EVENT

__all__ = ["binned_mean_deviation", "dilution_median", "distribution_mode", "mean_image_difference", "mean_shift",
           "peak_shift", "s2_weight_ratio", "std_shift"]


def _column(comparison: Comparison, name: str, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """One per-event column of both datasets: an observable or stored variable, or one column of a
    per-layer observable named as :func:`physgen.observables.columns` names it (``sparsity_1``)."""
    try:
        ref, gen = comparison.columns([name])
    except PhysgenError:
        if "_" not in name:
            raise
        ref, gen = comparison.columns([name.rsplit("_", 1)[0]])
    if name in ref:
        return ref[name], gen[name]
    if len(ref) != 1:
        msg = f"{metric}: {name!r} is not one per-event column (it gives {sorted(ref)}); name one of them"
        raise PhysgenError(msg)
    return next(iter(ref.values())), next(iter(gen.values()))


def _one_column(comparison: Comparison, names: list[str], metric: str) -> tuple[np.ndarray, np.ndarray]:
    if not names or len(names) != 1:
        msg = (f"{metric} compares one column: give options.names with one observable, variable or column "
               f"(e.g. sparsity_1), got {names!r}")
        raise PhysgenError(msg)
    return _column(comparison, names[0], metric)


@register_metric("mean_shift", weighted=True, source="paper 002 (Hashemi et al., arXiv:1901.05282) sec. 4: M_ll mean")
def mean_shift(comparison: Comparison, *, names: list[str], window: tuple[float, float] | None = None) -> Estimate:
    """|⟨x⟩_gen − ⟨x⟩_ref| of the one column ``names``, in its units, ± the statistical error of the difference;
    ``window`` [lo, hi]: of the values inside it only (paper 002 quotes M_ll in 60–120 GeV)."""
    a, b = _one_column(comparison, names, "mean_shift")
    (ma, sa, na) = weighted_moments(a, comparison.reference_weights, window)
    (mb, sb, nb) = weighted_moments(b, comparison.weights, window)
    return Estimate(abs(mb - ma), np.sqrt(sa**2 / na + sb**2 / nb))


@register_metric("std_shift", weighted=True, source="paper 002 (Hashemi et al., arXiv:1901.05282) sec. 4: M_ll width")
def std_shift(comparison: Comparison, *, names: list[str], window: tuple[float, float] | None = None) -> Estimate:
    """|σ_gen − σ_ref| of the one column ``names``, in its units, ± the Gaussian error σ/√(2N) of each σ;
    ``window`` [lo, hi]: of the values inside it only (the RMS of a peak without its far tails)."""
    a, b = _one_column(comparison, names, "std_shift")
    (_, sa, na) = weighted_moments(a, comparison.reference_weights, window)
    (_, sb, nb) = weighted_moments(b, comparison.weights, window)
    return Estimate(abs(sb - sa), np.sqrt(sa**2 / (2 * na) + sb**2 / (2 * nb)))


def distribution_mode(x: np.ndarray, window: tuple[float, float] | None = None, weights: np.ndarray | None = None,
                      *, points: int = 2001) -> float:
    """Position of the maximum of a Gaussian KDE (Scott's bandwidth, from the effective number of events
    when ``weights`` are given) of ``x`` restricted to ``window``."""
    x = np.asarray(x, dtype=np.float64)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    if window is not None:
        inside = (x >= window[0]) & (x <= window[1])
        x, w = x[inside], None if w is None else w[inside]
    if len(x) < 10 or np.ptp(x) == 0:
        msg = f"cannot locate a peak from {len(x)} values{'' if window is None else f' in {list(window)}'}"
        raise PhysgenError(msg)
    lo, hi = (x.min(), x.max()) if window is None else window
    grid = np.linspace(lo, hi, points)
    return float(grid[np.argmax(scipy.stats.gaussian_kde(x, weights=w)(grid))])


@register_metric("peak_shift", weighted=True,
                 source="paper 000 (de Oliveira et al., arXiv:1701.05927) Fig. 6: the W mass peak")
def peak_shift(comparison: Comparison, *, names: list[str],
               window: tuple[float, float] | None = None) -> Estimate:
    """|mode_gen − mode_ref| of the one column ``names`` within ``window`` (paper 000: the W mass peak),
    each sample's mode from its weighted density; infinite when the generated sample has no peak there
    (fewer than 10 values in the window: an untrained generator fails the figure instead of stopping the run)."""
    a, b = _one_column(comparison, names, "peak_shift")
    window = None if window is None else (float(window[0]), float(window[1]))
    reference = distribution_mode(a, window, comparison.reference_weights)
    try:
        generated = distribution_mode(b, window, comparison.weights)
    except PhysgenError:
        return Estimate(float("inf"))
    return Estimate(abs(generated - reference))


@register_metric("binned_mean_deviation",
                 source="CaloChallenge 2022 (Krause et al., arXiv:2410.21611): E_dep/E_inc per incident energy")
def binned_mean_deviation(comparison: Comparison, *, names: list[str], by: str = "energy",
                          quantiles: int = 10) -> Estimate:
    """max over ``quantiles`` bins of ``by`` (edges: the reference's quantiles) of |⟨x⟩_gen/⟨x⟩_ref − 1|.

    With ``names: [total_over_incident]`` and ``by: energy`` this is the energy response per incident-energy
    decile. The generated store must carry ``by`` (its conditions, copied from a reference with
    ``--conditions-from``).
    """
    a, b = _one_column(comparison, names, "binned_mean_deviation")
    ca, cb = _column(comparison, by, "binned_mean_deviation")
    edges = np.quantile(ca, np.linspace(0, 1, quantiles + 1))
    ia = np.clip(np.searchsorted(edges, ca, side="right") - 1, 0, quantiles - 1)
    ib = np.clip(np.searchsorted(edges, cb, side="right") - 1, 0, quantiles - 1)
    deviations = []
    for k in range(quantiles):
        ref_k, gen_k = a[ia == k], b[ib == k]
        if len(ref_k) == 0 or len(gen_k) == 0 or ref_k.mean() == 0:
            msg = f"binned_mean_deviation: bin {k} of {by!r} has no events (or a zero mean) in one sample"
            raise PhysgenError(msg)
        deviations.append(abs(gen_k.mean() / ref_k.mean() - 1))
    return Estimate(max(deviations))


@register_metric("mean_image_difference", weighted=True,
                 source="paper 000 (de Oliveira et al., arXiv:1701.05927) Fig. 5")
def mean_image_difference(comparison: Comparison, *, names: list[str]) -> Estimate:
    """Relative L1 distance Σ|⟨I⟩_gen − ⟨I⟩_ref| / Σ|⟨I⟩_ref| of the event-averaged cell arrays ``names``
    (e.g. ``[image]``; several arrays are pooled), each sample averaged with its event weights."""
    reference, generated = comparison.reference, comparison.generated
    if not names:
        msg = "mean_image_difference needs options.names: the stored cell arrays to average (e.g. [image])"
        raise PhysgenError(msg)
    missing = [n for n in names for ds in (reference, generated) if n not in ds.data_vars]
    if missing:
        msg = f"mean_image_difference: {sorted(set(missing))} are not stored in both stores"
        raise PhysgenError(msg)
    means = dask.compute({n: (event_average(reference[n], comparison.reference_weights).data,
                              event_average(generated[n], comparison.weights).data) for n in names})[0]
    difference = sum(float(np.abs(g - r).sum()) for r, g in means.values())
    norm = sum(float(np.abs(r).sum()) for r, _ in means.values())
    if norm == 0:
        msg = f"mean_image_difference: the reference's average of {names} is zero everywhere"
        raise PhysgenError(msg)
    return Estimate(difference / norm)


def _has_weights(comparison: Comparison) -> bool:
    """the generated events are weighted (weights=VARIABLE, e.g. DCTR's)"""
    return comparison.weights is not None


@register_metric("s2_weight_ratio", weighted=True, requires=_has_weights,
                 source="paper 004 (Diefenbacher et al., DCTRGAN): ILD showers, ⟨S²⟩ with and without weights")
def s2_weight_ratio(comparison: Comparison, *, names: list[str] | None = None, bins: int = 50) -> Estimate:
    """``s2_mean`` with the generated events' weights over ``s2_mean`` without them (paper 004: 0.4–0.5
    for the ILD showers; below 1 when the weights help)."""
    s2 = get_metric("s2_mean")
    before = s2.evaluate(comparison.weighted(None), names=names, bins=bins).value
    if before == 0:
        msg = "s2_weight_ratio: the unweighted separation power is zero; the ratio is undefined"
        raise PhysgenError(msg)
    return Estimate(s2.evaluate(comparison, names=names, bins=bins).value / before)


@register_metric("dilution_median", ideal=1.0, weighted=True, requires=_has_weights,
                 source="paper 004 (Diefenbacher et al., DCTRGAN) sec. III")
def dilution_median(comparison: Comparison, *, names: list[str] | None = None) -> Estimate:
    """Median over the per-event columns of the dilution r of the generated events' weights (paper 004
    sec. III; 1 for equal-size unweighted samples, larger when the weights spend statistics)."""
    ref, gen = comparison.columns(names)
    values = [r for k in sorted(ref) if k != comparison.weight_name
              and np.isfinite(r := dilution(ref[k], gen[k], comparison.weights))]
    if not values:
        msg = "dilution_median: no column with a finite dilution (constant reference columns?)"
        raise PhysgenError(msg)
    return Estimate(np.median(values))
