"""Metrics between two datasets, by name, with one signature:
``metric(reference: xr.Dataset, generated: xr.Dataset, **options) -> float`` (lower is better).

The training system selects snapshots with ``selection.metric`` naming one of these;
``physgen evaluate`` reports all of them that apply.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr

from physgen.errors import PhysgenError
from physgen.metrics._columns import event_columns, weight_values
from physgen.metrics.distances import emd_minimax_score, wasserstein_1d
from physgen.metrics.frechet import fpd as _fpd
from physgen.metrics.frechet import kpd as _kpd
from physgen.metrics.ks import ks_statistic
from physgen.metrics.separation import separation_power
from physgen.observables import observable_names
from physgen.plugins import METRICS

__all__ = ["KS_SUM_VARIABLES", "get_metric", "metric_names", "register_metric"]

DatasetMetric = Callable[..., float]

KS_SUM_VARIABLES = ("m_ll", "phi_miss", "mu1_iso")
"""Paper 002's snapshot score: KS of M_ll − M_Z (a shift leaves KS unchanged), φ_miss and Iso1."""


def register_metric(name: str) -> Callable[[DatasetMetric], DatasetMetric]:
    """Decorator: make ``func`` the metric ``name`` (:data:`physgen.plugins.METRICS`)."""
    return METRICS.register(name)


def metric_names() -> list[str]:
    return METRICS.names()


def get_metric(name: str) -> DatasetMetric:
    return METRICS.get(name)


def _pairs(reference, generated, names, weights):
    exclude = (weights,) if weights else ()
    ref = event_columns(reference, names, exclude=exclude)
    gen = event_columns(generated, names, exclude=exclude)
    common = [k for k in ref if k in gen]
    if not common:
        msg = f"reference and generated share no columns (reference: {sorted(ref)}, generated: {sorted(gen)})"
        raise PhysgenError(msg)
    return {k: ref[k] for k in common}, {k: gen[k] for k in common}, weight_values(generated, weights)


def _provides(ds: xr.Dataset, name: str) -> bool:
    return name in ds.data_vars or name in observable_names(ds)


@register_metric("s2_mean")
def s2_mean(reference: xr.Dataset, generated: xr.Dataset, *, names: list[str] | None = None, bins: int = 50,
            weights: str | None = None) -> float:
    """Mean separation power ⟨S²⟩ over the per-event columns (paper 004)."""
    ref, gen, w = _pairs(reference, generated, names, weights)
    return float(np.mean([separation_power(ref[k], gen[k], bins=bins, weights_b=w) for k in ref]))


@register_metric("w1_mean")
def w1_mean(reference: xr.Dataset, generated: xr.Dataset, *, names: list[str] | None = None,
            weights: str | None = None) -> float:
    """Mean over columns of W1 divided by the reference's standard deviation (scale-free)."""
    ref, gen, w = _pairs(reference, generated, names, weights)
    return float(np.mean([wasserstein_1d(ref[k], gen[k], weights_b=w) / (ref[k].std() or 1.0) for k in ref]))


@register_metric("ks_sum")
def ks_sum(reference: xr.Dataset, generated: xr.Dataset, *, names: list[str] | None = None,
           weights: str | None = None) -> float:
    """Σ KS statistics; by default over paper 002's (M_ll, φ_miss, Iso1) when both datasets provide all three
    (stored or computable), else over all columns."""
    if names is None and all(_provides(ds, n) for ds in (reference, generated) for n in KS_SUM_VARIABLES):
        names = list(KS_SUM_VARIABLES)
    ref, gen, w = _pairs(reference, generated, names, weights)
    return float(sum(ks_statistic(ref[k], gen[k], weights_b=w) for k in ref))


@register_metric("emd_minimax")
def emd_minimax(reference: xr.Dataset, generated: xr.Dataset, *, label: str = "signal", bins: int = 25,
                weights: str | None = None) -> float:
    """Paper 000: max over classes of the EMD between class-conditional (jet mass, τ21) histograms."""
    ref, gen, w = _pairs(reference, generated, ["jet_mass", "tau_21", label], weights)
    if label not in ref:
        msg = f"emd_minimax needs the class label {label!r} in both stores"
        raise PhysgenError(msg)
    classes = sorted(set(np.unique(ref[label])) & set(np.unique(gen[label])))
    if not classes:
        msg = f"reference and generated have no class of {label!r} in common"
        raise PhysgenError(msg)

    def split(cols, c):
        sel = cols[label] == c
        return cols["jet_mass"][sel], cols["tau_21"][sel]

    cw = None if w is None else {c: w[gen[label] == c] for c in classes}
    return emd_minimax_score({c: split(ref, c) for c in classes}, {c: split(gen, c) for c in classes},
                             bins=bins, weights=cw)


def _matrix(cols: dict[str, np.ndarray]) -> np.ndarray:
    return np.stack([cols[k] for k in sorted(cols)], axis=1)


@register_metric("fpd")
def fpd(reference: xr.Dataset, generated: xr.Dataset, *, names: list[str] | None = None, **options) -> float:
    """Fréchet physics distance (JetNet) on the per-event columns, extrapolated to infinite N."""
    ref, gen, _ = _pairs(reference, generated, names, None)
    return _fpd(_matrix(ref), _matrix(gen), **options).value


@register_metric("kpd")
def kpd(reference: xr.Dataset, generated: xr.Dataset, *, names: list[str] | None = None, **options) -> float:
    """Kernel physics distance (JetNet, degree-4 polynomial MMD) on the per-event columns."""
    ref, gen, _ = _pairs(reference, generated, names, None)
    return _kpd(_matrix(ref), _matrix(gen), **options).value
