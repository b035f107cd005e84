"""Figures of merit of quality runs — one summary number of a distribution (mean, RMS, peak position,
mean per bin of a condition, average image), the plain classifier AUC and the DCTR gain — the quality
targets the papers and the Fast Calorimeter Simulation Challenge quote, registered by name with the
dataset-metric signature ``metric(reference, generated, **options) -> float`` (lower is better).

* ``mean_shift`` / ``std_shift``: |⟨x⟩_gen − ⟨x⟩_ref| and |σ_gen − σ_ref| of one column, in its units
  (paper 002 regularises and reports the M_ll mean and width).
* ``peak_shift``: distance between the modes of the two distributions (the W-mass peak of
  paper 000's generated W jets), each mode the maximum of a Gaussian kernel density estimate.
* ``binned_mean_deviation``: max over quantile bins of a condition (deciles of the incident energy)
  of |⟨x⟩_gen / ⟨x⟩_ref − 1| — the energy response per energy decile of the CaloChallenge.
* ``mean_image_difference``: Σ|⟨I⟩_gen − ⟨I⟩_ref| / Σ⟨I⟩_ref of the average images (paper 000 shows the
  average W and QCD jet images and their difference).
* ``classifier_auc``: the ROC AUC of the classifier two-sample test itself (0.5 = indistinguishable);
  the registry's ``c2st_auc`` is 2|AUC − ½|.
* ``s2_weight_ratio`` and ``dilution_median``: ⟨S²⟩ with DCTR weights over ⟨S²⟩ without (paper 004
  reports 0.4–0.5 for ILD showers) and the median over columns of the dilution r (paper 004 sec. III).
"""

from __future__ import annotations

import dask
import numpy as np
import scipy.stats
import xarray as xr

from physgen.errors import PhysgenError
from physgen.metrics._columns import event_columns, weight_values
from physgen.metrics.classifier import classifier_test
from physgen.metrics.named import get_metric, register_metric
from physgen.metrics.weights import dilution
from physgen.schema import EVENT

__all__ = ["binned_mean_deviation", "classifier_auc", "dilution_median", "distribution_mode", "mean_image_difference",
           "mean_shift", "peak_shift", "s2_weight_ratio", "std_shift"]


def _one_column(reference: xr.Dataset, generated: xr.Dataset, names: list[str] | None,
                metric: str) -> tuple[np.ndarray, np.ndarray]:
    if not names or len(names) != 1:
        msg = (f"{metric} compares one column: give options.names with one observable, variable or column "
               f"(e.g. sparsity_1), got {names!r}")
        raise PhysgenError(msg)
    (name,) = names
    return _column(reference, name, metric), _column(generated, name, metric)


def _column(ds: xr.Dataset, name: str, metric: str) -> np.ndarray:
    """One per-event column: an observable or stored variable, or one column of a per-layer observable
    named as :func:`physgen.observables.columns` names it (``sparsity_1`` of ``sparsity``)."""
    base = name.rsplit("_", 1)[0]
    try:
        cols = event_columns(ds, [name])
    except PhysgenError:
        if "_" not in name:
            raise
        cols = event_columns(ds, [base])
    if name in cols:
        return cols[name]
    if len(cols) != 1:
        msg = f"{metric}: {name!r} is not one per-event column (it gives {sorted(cols)}); name one of them"
        raise PhysgenError(msg)
    return next(iter(cols.values()))


@register_metric("mean_shift")
def mean_shift(reference: xr.Dataset, generated: xr.Dataset, *, names: list[str] | None = None) -> float:
    """|⟨x⟩_gen − ⟨x⟩_ref| of the one column ``names`` (its units; paper 002's M_ll mean)."""
    a, b = _one_column(reference, generated, names, "mean_shift")
    return float(abs(b.mean() - a.mean()))


@register_metric("std_shift")
def std_shift(reference: xr.Dataset, generated: xr.Dataset, *, names: list[str] | None = None) -> float:
    """|σ_gen − σ_ref| of the one column ``names`` (its units; paper 002's M_ll RMS)."""
    a, b = _one_column(reference, generated, names, "std_shift")
    return float(abs(b.std() - a.std()))


def distribution_mode(x: np.ndarray, window: tuple[float, float] | None = None, *, points: int = 2001) -> float:
    """Position of the maximum of a Gaussian KDE (Scott's bandwidth) of ``x`` restricted to ``window``."""
    x = np.asarray(x, dtype=np.float64)
    if window is not None:
        x = x[(x >= window[0]) & (x <= window[1])]
    if len(x) < 10 or np.ptp(x) == 0:
        msg = f"cannot locate a peak from {len(x)} values{'' if window is None else f' in {list(window)}'}"
        raise PhysgenError(msg)
    lo, hi = (x.min(), x.max()) if window is None else window
    grid = np.linspace(lo, hi, points)
    return float(grid[np.argmax(scipy.stats.gaussian_kde(x)(grid))])


@register_metric("peak_shift")
def peak_shift(reference: xr.Dataset, generated: xr.Dataset, *, names: list[str] | None = None,
               window: tuple[float, float] | None = None) -> float:
    """|mode_gen − mode_ref| of the one column ``names`` within ``window`` (paper 000: the W mass peak)."""
    a, b = _one_column(reference, generated, names, "peak_shift")
    window = None if window is None else (float(window[0]), float(window[1]))
    return abs(distribution_mode(b, window) - distribution_mode(a, window))


@register_metric("binned_mean_deviation")
def binned_mean_deviation(reference: xr.Dataset, generated: xr.Dataset, *, names: list[str] | None = None,
                          by: str = "energy", quantiles: int = 10) -> float:
    """max over ``quantiles`` bins of ``by`` (edges: the reference's quantiles) of |⟨x⟩_gen/⟨x⟩_ref − 1|.

    With ``names: [total_over_incident]`` and ``by: energy`` this is the energy response per incident-energy
    decile (CaloChallenge 2022, Krause et al. arXiv:2410.21611 fig. of E_dep/E_inc). The generated store
    must carry ``by`` (its conditions, copied from a reference with ``--conditions-from``).
    """
    a, b = _one_column(reference, generated, names, "binned_mean_deviation")
    ca, cb = (_column(ds, by, "binned_mean_deviation") for ds in (reference, generated))
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
    return float(max(deviations))


@register_metric("mean_image_difference")
def mean_image_difference(reference: xr.Dataset, generated: xr.Dataset, *, names: list[str] | None = None) -> float:
    """Relative L1 distance Σ|⟨I⟩_gen − ⟨I⟩_ref| / Σ|⟨I⟩_ref| of the event-averaged cell arrays ``names``
    (e.g. ``[image]``; several arrays are pooled)."""
    if not names:
        msg = "mean_image_difference needs options.names: the stored cell arrays to average (e.g. [image])"
        raise PhysgenError(msg)
    missing = [n for n in names for ds in (reference, generated) if n not in ds.data_vars]
    if missing:
        msg = f"mean_image_difference: {sorted(set(missing))} are not stored in both stores"
        raise PhysgenError(msg)
    means = dask.compute({n: (reference[n].astype("float64").mean(EVENT).data,
                              generated[n].astype("float64").mean(EVENT).data) for n in names})[0]
    difference = sum(float(np.abs(g - r).sum()) for r, g in means.values())
    norm = sum(float(np.abs(r).sum()) for r, _ in means.values())
    if norm == 0:
        msg = f"mean_image_difference: the reference's average of {names} is zero everywhere"
        raise PhysgenError(msg)
    return difference / norm


@register_metric("classifier_auc")
def classifier_auc(reference: xr.Dataset, generated: xr.Dataset, *, names: list[str] | None = None,
                   seed: int = 0, **options) -> float:
    """ROC AUC of the classifier two-sample test on the per-event columns ``names`` (default: all)."""
    ref, gen = event_columns(reference, names), event_columns(generated, names)
    common = sorted(set(ref) & set(gen))
    if not common:
        msg = f"reference and generated share no columns (reference: {sorted(ref)}, generated: {sorted(gen)})"
        raise PhysgenError(msg)
    matrix = lambda cols: np.stack([cols[k] for k in common], axis=1)  # noqa: E731
    return classifier_test(matrix(ref), matrix(gen), seed=seed, **options).auc


@register_metric("s2_weight_ratio")
def s2_weight_ratio(reference: xr.Dataset, generated: xr.Dataset, *, weights: str, names: list[str] | None = None,
                    bins: int = 50) -> float:
    """``s2_mean`` with the per-event ``weights`` of the generated store over ``s2_mean`` without them
    (paper 004: 0.4–0.5 for the ILD showers; below 1 when the weights help)."""
    s2 = get_metric("s2_mean")
    before = s2(reference, generated, names=names, bins=bins)
    if before == 0:
        msg = "s2_weight_ratio: the unweighted separation power is zero; the ratio is undefined"
        raise PhysgenError(msg)
    return s2(reference, generated, names=names, bins=bins, weights=weights) / before


@register_metric("dilution_median")
def dilution_median(reference: xr.Dataset, generated: xr.Dataset, *, weights: str,
                    names: list[str] | None = None) -> float:
    """Median over the per-event columns of the dilution r of the ``weights`` (paper 004 sec. III; 1 for
    equal-size unweighted samples, larger when the weights spend statistics)."""
    ref = event_columns(reference, names, exclude=(weights,))
    gen = event_columns(generated, names, exclude=(weights,))
    w = weight_values(generated, weights)
    values = [r for k in sorted(set(ref) & set(gen)) if np.isfinite(r := dilution(ref[k], gen[k], w))]
    if not values:
        msg = "dilution_median: no column with a finite dilution (constant reference columns?)"
        raise PhysgenError(msg)
    return float(np.median(values))
