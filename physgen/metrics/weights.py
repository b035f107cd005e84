"""Statistics of weighted samples: effective sample size, event averages and the dilution r of paper 004."""

from __future__ import annotations

import numpy as np
import xarray as xr

from physgen.errors import PhysgenError
from physgen.metrics._samples import as_sample, as_weights
from physgen.schema import EVENT

__all__ = ["effective_sample_size", "dilution", "event_average", "event_weights", "weighted_mean_error",
           "weighted_moments"]


def event_weights(ds, what: str = "the store") -> np.ndarray | None:
    """The event weights of a dataset (its feature of ``role: weight``), checked, or None when it has
    none or they are all equal (an unweighted sample: every consumer then takes each event once).

    Weighted samples come from biased generation (``pt_hat_bias`` of the jets simulator): their
    weights must be finite and non-negative with a positive sum, or a :class:`PhysgenError` says so;
    negative weights (NLO generators) cannot be sampled from or histogrammed as probabilities here.
    """
    name = ds.physgen.weight_name if "physgen" in ds.attrs else None
    if name is None:
        return None
    w = np.asarray(ds[name].values, dtype=np.float64).ravel()
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any() or (w.size and w.sum() <= 0):
        msg = (f"{what}: the event weights {name!r} must be finite and non-negative with a positive sum; "
               f"{int(bad.sum())} of {w.size} are NaN, infinite or negative")
        raise PhysgenError(msg)
    return None if w.size == 0 or w.min() == w.max() else w


def event_average(values: xr.DataArray, weights: np.ndarray | None = None) -> xr.DataArray:
    """The (lazy) average of per-event ``values`` over events in float64, weighted by ``weights`` (one
    per event, e.g. :func:`event_weights`) when given: the average jet image or shower of a biased sample
    is Σ wᵢ Iᵢ / Σ wᵢ, the physical distribution's, not the biased one's."""
    values = values.astype("float64")
    if weights is None:
        return values.mean(EVENT)
    w = xr.DataArray(np.asarray(weights, dtype=np.float64), dims=EVENT)
    return values.dot(w, dim=EVENT) / float(w.sum())


def weighted_moments(x: np.ndarray, w: np.ndarray | None, window: tuple[float, float] | None = None
                      ) -> tuple[float, float, float]:
    """Mean, standard deviation and effective number of events (Kish) of ``x`` with weights ``w``, of the
    values inside ``window`` [lo, hi] when given."""
    w = np.ones_like(x) if w is None else w
    if window is not None:
        inside = (x >= window[0]) & (x <= window[1])
        if not inside.any():
            msg = f"no value inside the window {list(window)}"
            raise PhysgenError(msg)
        x, w = x[inside], w[inside]
    mean = float(np.average(x, weights=w))
    std = float(np.sqrt(np.average((x - mean) ** 2, weights=w)))
    return mean, std, float(w.sum() ** 2 / (w**2).sum())


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
