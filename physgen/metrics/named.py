"""The registry of dataset metrics: one name, one meaning, one implementation.

``get_metric(name)`` returns a :class:`Metric`; calling it on two datasets (or
``metric.evaluate(comparison)`` on a :class:`~physgen.metrics.Comparison`) returns an
:class:`~physgen.metrics.Estimate` (value ± error where the field defines an error). Every
metric states its source and its ``ideal`` value (that of a perfect generator): snapshot
selection (``training.selection.metric``) minimises |value − ideal|, ``physgen evaluate``
reports every metric that applies to the stores, and DCTR's diagnostics come from the same
entries. Per-column numbers (⟨S²⟩, χ²/ndf, KS, W1 of each observable) come from
:func:`column_values`, which the dataset metrics average, so the report's table and its summary
are the same computation.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from physgen.errors import PhysgenError
from physgen.metrics._estimate import Estimate
from physgen.metrics.classifier import (
    challenge_classifier_test, challenge_highlevel_inputs, challenge_lowlevel_inputs, classifier_test,
)
from physgen.metrics.comparison import Comparison
from physgen.metrics.distances import emd_minimax_score, wasserstein_1d_batches
from physgen.metrics.frechet import fpd as _fpd
from physgen.metrics.frechet import kpd as _kpd
from physgen.metrics.jet_emd import coverage_mmd
from physgen.metrics.ks import ks_statistic
from physgen.metrics.prdc import precision_recall_density_coverage
from physgen.metrics.separation import chi2_test, separation_power
from physgen.observables._kinds import is_jet_image, jet_image
from physgen.plugins import METRICS

__all__ = ["COLUMN_METRICS", "KS_SUM_VARIABLES", "Metric", "column_values", "get_metric", "metric_names",
           "register_metric"]

KS_SUM_VARIABLES = ("m_ll", "phi_miss", "mu1_iso")
"""Paper 002's snapshot score: KS of M_ll − M_Z (a shift leaves KS unchanged), φ_miss and Iso1."""


@dataclass(frozen=True)
class Metric:
    """One registered metric: ``func(comparison, **options) -> Estimate``."""

    name: str
    func: Callable[..., Estimate]
    source: str
    ideal: float = 0.0
    weighted: bool = False
    """Whether it honours event weights: the generated events' (DCTR) and the reference's (biased generation)."""
    requires: Callable[[Comparison], bool] = field(default=lambda comparison: True)
    """Whether it applies to a comparison (a class label, jet images, paper 002's variables)."""

    @property
    def description(self) -> str:
        return (self.func.__doc__ or "").strip().splitlines()[0]

    @property
    def options(self) -> list[str]:
        return [p.name for p in inspect.signature(self.func).parameters.values() if p.kind is p.KEYWORD_ONLY]

    @property
    def required_options(self) -> list[str]:
        """Options without a default (a figure of one named column): such a metric runs only when asked."""
        return [p.name for p in inspect.signature(self.func).parameters.values()
                if p.kind is p.KEYWORD_ONLY and p.default is p.empty]

    def check_options(self, options: dict) -> None:
        """A PhysgenError naming the options this metric takes when ``options`` do not fit."""
        try:
            inspect.signature(self.func).bind(None, **options)
        except TypeError as exc:
            msg = f"options {sorted(options)} do not fit metric {self.name!r} ({exc}); it takes {self.options}"
            raise PhysgenError(msg) from None

    def applies(self, comparison: Comparison) -> bool:
        return bool(self.requires(comparison))

    def evaluate(self, comparison: Comparison, **options) -> Estimate:
        if comparison.is_weighted and not self.weighted:
            which = "generated" if comparison.weights is not None else "reference"
            msg = (f"metric {self.name!r} does not take event weights, and the {which} events are weighted; "
                   f"use a weight-aware metric ({', '.join(n for n in metric_names() if get_metric(n).weighted)})")
            raise PhysgenError(msg)
        missing = [o for o in self.required_options if o not in options]
        if missing:
            msg = f"metric {self.name!r} needs the options {missing} (it takes {self.options})"
            raise PhysgenError(msg)
        if not self.applies(comparison):
            msg = f"metric {self.name!r} does not apply to these datasets: {self.requires.__doc__ or ''}".strip()
            raise PhysgenError(msg)
        return self.func(comparison, **options)

    def __call__(self, reference: xr.Dataset, generated: xr.Dataset, *, weights: str | None = None,
                 **options) -> Estimate:
        return self.evaluate(Comparison(reference, generated, weights=weights), **options)

    def distance(self, estimate: Estimate) -> float:
        """|value − ideal|: how far from a perfect generator (what snapshot selection minimises)."""
        return abs(estimate.value - self.ideal)


def register_metric(name: str, *, source: str, ideal: float = 0.0, weighted: bool = False,
                    requires: Callable[[Comparison], bool] | None = None) -> Callable:
    """Register ``func(comparison, *, option=…) -> Estimate`` as the metric ``name``
    (:data:`physgen.plugins.METRICS`; a plug-in package's ``physgen.metrics`` entry point names a
    :class:`Metric` or the module that registers its metrics with this decorator)."""

    def register(func: Callable[..., Estimate]) -> Callable[..., Estimate]:
        METRICS.register(name, Metric(name, func, source, ideal, weighted, requires or (lambda comparison: True)))
        return func

    return register


def metric_names() -> list[str]:
    return METRICS.names()


def get_metric(name: str) -> Metric:
    """The metric ``name``; a :class:`~physgen.errors.SpecError` with a suggestion for an unknown name."""
    return METRICS.get(name)


# ---------------------------------------------------------------- per-column metrics
def _s2(a, b, wa, wb, *, bins: int = 50, binning: str = "reference") -> Estimate:
    return Estimate(separation_power(a, b, bins=bins, binning=binning, weights_a=wa, weights_b=wb))


def _chi2_ndf(a, b, wa, wb, *, bins: int = 50, binning: str = "reference") -> Estimate:
    return Estimate(chi2_test(a, b, bins=bins, binning=binning, weights_a=wa, weights_b=wb).chi2_per_ndf)


def _ks(a, b, wa, wb) -> Estimate:
    return Estimate(ks_statistic(a, b, weights_a=wa, weights_b=wb))


def _w1(a, b, wa, wb, *, num_eval_samples: int = 50_000, num_batches: int = 5, seed: int = 0) -> Estimate:
    return wasserstein_1d_batches(a, b, weights_a=wa, weights_b=wb, num_eval_samples=num_eval_samples,
                                  num_batches=num_batches, seed=seed)


COLUMN_METRICS: dict[str, Callable[..., Estimate]] = {"s2": _s2, "chi2_ndf": _chi2_ndf, "ks": _ks, "w1": _w1}
"""Per-column comparisons ``f(reference column, generated column, reference weights, generated weights,
**options)``: ⟨S²⟩ and χ²/ndf on the reference's binning, the KS statistic, and W1 ± its batch spread
(JetNet)."""


def column_values(comparison: Comparison, metric: str, names: Sequence[str] | None = None,
                  **options) -> dict[str, Estimate]:
    """``metric`` (a key of :data:`COLUMN_METRICS`) for every column of ``names``, cached per comparison."""
    func = COLUMN_METRICS[metric]
    key = ("column", metric, None if names is None else tuple(names), tuple(sorted(options.items())))

    def compute() -> dict[str, Estimate]:
        ref, gen = comparison.columns(names)
        return {k: func(ref[k], gen[k], comparison.reference_weights, comparison.weights, **options) for k in ref}

    return comparison.cached(key, compute)


def _mean(values: dict[str, Estimate]) -> float:
    return float(np.mean([v.value for v in values.values()]))


# ---------------------------------------------------------------- dataset metrics
@register_metric("s2_mean", weighted=True,
                 source="docs/PHYSICS.md §8; paper 004 eq. 15; CaloChallenge 2022 (arXiv:2410.21611)")
def s2_mean(comparison: Comparison, *, names: list[str] | None = None, bins: int = 50,
            binning: str = "reference") -> Estimate:
    """Mean separation power ⟨S²⟩ over the columns, on ``bins`` bins of the reference (``binning``:
    "reference" equal-population bins with generated outliers in the end bins, "reference_width" the
    same on equal-width bins, "calochallenge" equal-width bins dropping outliers as the challenge does)."""
    return Estimate(_mean(column_values(comparison, "s2", names, bins=bins, binning=binning)))


@register_metric("chi2_ndf_mean", ideal=1.0, weighted=True,
                 source="Gagunashvili, arXiv:physics/0605123 (ROOT TH1::Chi2Test 'WW')")
def chi2_ndf_mean(comparison: Comparison, *, names: list[str] | None = None, bins: int = 50,
                  binning: str = "reference") -> Estimate:
    """Mean χ²/ndf of the weighted-histogram homogeneity test over the columns (≈ 1 when the samples agree)."""
    return Estimate(_mean(column_values(comparison, "chi2_ndf", names, bins=bins, binning=binning)))


def _has_ks_sum_variables(comparison: Comparison) -> bool:
    """both datasets provide m_ll, phi_miss and mu1_iso (paper 002's Z → μμ variables)"""
    return comparison.provides(KS_SUM_VARIABLES)


@register_metric("ks_sum", weighted=True, requires=_has_ks_sum_variables,
                 source="paper 002 (Hashemi et al., arXiv:1901.05282) snapshot selection")
def ks_sum(comparison: Comparison) -> Estimate:
    """Σ KS statistics of paper 002's M_ll (− M_Z), φ_miss and Iso1: the Z → μμ GAN's snapshot score."""
    return Estimate(sum(v.value for v in column_values(comparison, "ks", KS_SUM_VARIABLES).values()))


@register_metric("ks_sum_columns", weighted=True, source="Kolmogorov–Smirnov statistic, summed over columns")
def ks_sum_columns(comparison: Comparison, *, names: list[str] | None = None) -> Estimate:
    """Σ KS statistics over the columns (all default metric columns unless ``names`` are given)."""
    return Estimate(sum(v.value for v in column_values(comparison, "ks", names).values()))


@register_metric("w1_mean", weighted=True, source="JetNet W1 (Kansal et al., arXiv:2106.11535, 2211.10295)")
def w1_mean(comparison: Comparison, *, names: list[str] | None = None, num_eval_samples: int = 50_000,
            num_batches: int = 5, seed: int = 0) -> Estimate:
    """Mean over columns of W1 / σ(reference) (scale-free), each W1 the mean ± spread over JetNet's batches."""
    values = column_values(comparison, "w1", names, num_eval_samples=num_eval_samples, num_batches=num_batches,
                           seed=seed)
    ref, _ = comparison.columns(names)
    scale = {k: ref[k].std() or 1.0 for k in values}
    n = len(values)
    return Estimate(sum(v.value / scale[k] for k, v in values.items()) / n,
                    np.sqrt(sum((v.error / scale[k]) ** 2 for k, v in values.items())) / n)


def _has_jet_class(comparison: Comparison) -> bool:
    """both datasets provide jet_mass, tau_21 and the class label 'signal'"""
    return comparison.provides(("jet_mass", "tau_21", "signal"))


@register_metric("emd_minimax", weighted=True, requires=_has_jet_class,
                 source="paper 000 (de Oliveira et al., arXiv:1701.05927) sec. 5")
def emd_minimax(comparison: Comparison, *, label: str = "signal", bins: int = 25) -> Estimate:
    """Max over classes of the EMD between class-conditional (jet mass, τ21) histograms on the reference's grid."""
    ref, gen = comparison.columns(["jet_mass", "tau_21", label])
    classes = sorted(set(np.unique(ref[label])) & set(np.unique(gen[label])))
    if not classes:
        msg = f"reference and generated have no class of {label!r} in common"
        raise PhysgenError(msg)

    def split(cols, c):
        sel = cols[label] == c
        return cols["jet_mass"][sel], cols["tau_21"][sel]

    def by_class(w, cols):
        return None if w is None else {c: w[cols[label] == c] for c in classes}

    return Estimate(emd_minimax_score({c: split(ref, c) for c in classes}, {c: split(gen, c) for c in classes},
                                      bins=bins, weights=by_class(comparison.weights, gen),
                                      reference_weights=by_class(comparison.reference_weights, ref)))


def _register_frechet(name: str, convention: str, source: str) -> None:
    @register_metric(f"fpd{name}", source=source)
    def fpd(comparison: Comparison, *, names: list[str] | None = None, min_samples: int = 20_000,
            max_samples: int = 50_000, num_batches: int = 20, num_points: int = 10, seed: int = 42) -> Estimate:
        return _fpd(*comparison.matrices(names), min_samples=min_samples, max_samples=max_samples,
                    num_batches=num_batches, num_points=num_points, seed=seed, convention=convention)

    @register_metric(f"kpd{name}", source=source)
    def kpd(comparison: Comparison, *, names: list[str] | None = None, num_batches: int = 10,
            batch_size: int = 5_000, seed: int = 42) -> Estimate:
        return _kpd(*comparison.matrices(names), num_batches=num_batches, batch_size=batch_size, seed=seed,
                    convention=convention)

    fpd.__doc__ = f"Fréchet physics distance extrapolated to infinite N, {convention} convention (physgen.metrics.frechet)."
    kpd.__doc__ = f"Kernel physics distance (degree-4 polynomial MMD²), {convention} convention (physgen.metrics.frechet)."


_register_frechet("", "jetnet", "JetNet (Kansal et al., arXiv:2211.10295); jetnet.evaluation.fpd / kpd 0.2.5")
_register_frechet("_standardised", "standardised", "arXiv:2211.10295 with standardised features, unbounded fit")


def _register_prdc(name: str, description: str) -> None:
    @register_metric(name, ideal=1.0, source="Naeem et al., ICML 2020 (arXiv:2002.09797), k = 5")
    def metric(comparison: Comparison, *, names: list[str] | None = None, k: int = 5,
               max_samples: int | None = 10_000, seed: int = 0) -> Estimate:
        key = ("prdc", None if names is None else tuple(names), k, max_samples, seed)
        result = comparison.cached(key, lambda: precision_recall_density_coverage(
            *comparison.matrices(names), k=k, max_samples=max_samples, seed=seed))
        return Estimate(getattr(result, name))

    metric.__doc__ = description


_register_prdc("precision", "Fraction of generated events inside the reference's k-NN balls (fidelity).")
_register_prdc("recall", "Fraction of reference events inside the generated sample's k-NN balls (diversity).")
_register_prdc("density", "Mean number of reference k-NN balls holding a generated event, over k (1 when alike).")
_register_prdc("coverage", "Fraction of reference events whose k-NN ball holds a generated event.")


def _has_jet_images(comparison: Comparison) -> bool:
    """both datasets are jet images (event, eta, phi)"""
    return is_jet_image(comparison.reference) and is_jet_image(comparison.generated)


def _jet_emd(comparison: Comparison, num_eval_samples: int, num_batches: int, seed: int):
    def compute():
        ref, gen = jet_image(comparison.reference), jet_image(comparison.generated)
        return coverage_mmd(np.asarray(ref.values), np.asarray(gen.values), ref["eta"].values, ref["phi"].values,
                            num_eval_samples=num_eval_samples, num_batches=num_batches, seed=seed)

    return comparison.cached(("jet_emd", num_eval_samples, num_batches, seed), compute)


@register_metric("emd_mmd", requires=_has_jet_images,
                 source="JetNet cov_mmd (Kansal et al., arXiv:2106.11535); EMD of Komiske et al., arXiv:1902.02346")
def emd_mmd(comparison: Comparison, *, num_eval_samples: int = 100, num_batches: int = 10, seed: int = 0) -> Estimate:
    """Mean EMD from each reference jet image to its closest generated one (JetNet's MMD)."""
    return Estimate(_jet_emd(comparison, num_eval_samples, num_batches, seed).mmd)


@register_metric("emd_coverage", ideal=1.0, requires=_has_jet_images,
                 source="JetNet cov_mmd (Kansal et al., arXiv:2106.11535); EMD of Komiske et al., arXiv:1902.02346")
def emd_coverage(comparison: Comparison, *, num_eval_samples: int = 100, num_batches: int = 10,
                 seed: int = 0) -> Estimate:
    """Fraction of reference jet images that are the EMD-closest to some generated one (JetNet's coverage)."""
    return Estimate(_jet_emd(comparison, num_eval_samples, num_batches, seed).coverage)


def _classifier(comparison: Comparison, names, seed, options):
    key = ("c2st", None if names is None else tuple(names), seed, tuple(sorted(options.items())))
    return comparison.cached(key, lambda: classifier_test(
        *comparison.matrices(names), seed=seed, reference_weights=comparison.reference_weights,
        generated_weights=comparison.weights, **options))


@register_metric("c2st_auc", ideal=0.5, weighted=True, source="CaloChallenge 2022 (Krause et al., arXiv:2410.21611) sec. 4")
def c2st_auc(comparison: Comparison, *, names: list[str] | None = None, seed: int = 0, epochs: int = 30) -> Estimate:
    """ROC AUC of a classifier separating reference from generated columns (0.5: indistinguishable)."""
    return Estimate(_classifier(comparison, names, seed, {"epochs": epochs}).auc)


@register_metric("c2st_jsd", weighted=True, source="CaloChallenge 2022 (Krause et al., arXiv:2410.21611) sec. 4")
def c2st_jsd(comparison: Comparison, *, names: list[str] | None = None, seed: int = 0, epochs: int = 30) -> Estimate:
    """Jensen–Shannon divergence (bits) from the calibrated classifier of the two-sample test."""
    return Estimate(_classifier(comparison, names, seed, {"epochs": epochs}).jsd)


def _challenge(comparison: Comparison, level: str, names, threshold_mev: float, seed: int, epochs: int,
               n_hidden: int):
    """The Fast Calorimeter Simulation Challenge's classifier test (physgen.metrics.classifier), once per comparison."""
    def compute():
        if level == "lowlevel":
            inputs = [challenge_lowlevel_inputs(ds, threshold_mev=threshold_mev)
                      for ds in (comparison.reference, comparison.generated)]
        else:
            inputs = [challenge_highlevel_inputs(ds, names) for ds in (comparison.reference, comparison.generated)]
        return challenge_classifier_test(*inputs, seed=seed, epochs=epochs, n_hidden=n_hidden)

    key = ("challenge", level, None if names is None else tuple(names), threshold_mev, seed, epochs, n_hidden)
    return comparison.cached(key, compute)


def _has_incident_energy(comparison: Comparison) -> bool:
    """both datasets hold an incident energy (incident_energy or energy)"""
    return all(any(n in ds.data_vars for n in ("incident_energy", "energy"))
               for ds in (comparison.reference, comparison.generated))


def _has_cells_and_incident_energy(comparison: Comparison) -> bool:
    """both datasets are stores with detector cells and an incident energy (incident_energy or energy)"""
    return _has_incident_energy(comparison) and all(
        "physgen" in ds.attrs and ds.physgen.geometry is not None for ds in (comparison.reference, comparison.generated))


_CHALLENGE = ("Fast Calorimeter Simulation Challenge 2022 (Krause et al., arXiv:2410.21611 sec. 4; "
              "CaloChallenge/homepage code/evaluate.py)")


@register_metric("classifier_auc_challenge_lowlevel", ideal=0.5, requires=_has_cells_and_incident_energy,
                 source=_CHALLENGE)
def classifier_auc_challenge_lowlevel(comparison: Comparison, *, threshold_mev: float = 0.0, seed: int = 0,
                                      epochs: int = 50, n_hidden: int = 2048) -> Estimate:
    """AUC after isotonic calibration of the challenge's low-level classifier (E_inc and voxels / E_inc)."""
    return Estimate(_challenge(comparison, "lowlevel", None, threshold_mev, seed, epochs, n_hidden).auc)


@register_metric("classifier_jsd_challenge_lowlevel", requires=_has_cells_and_incident_energy, source=_CHALLENGE)
def classifier_jsd_challenge_lowlevel(comparison: Comparison, *, threshold_mev: float = 0.0, seed: int = 0,
                                      epochs: int = 50, n_hidden: int = 2048) -> Estimate:
    """JSD (bits, not clipped) after isotonic calibration of the challenge's low-level classifier."""
    return Estimate(_challenge(comparison, "lowlevel", None, threshold_mev, seed, epochs, n_hidden).jsd)


@register_metric("classifier_auc_challenge_highlevel", ideal=0.5, requires=_has_incident_energy, source=_CHALLENGE)
def classifier_auc_challenge_highlevel(comparison: Comparison, *, names: list[str] | None = None, seed: int = 0,
                                       epochs: int = 50, n_hidden: int = 2048) -> Estimate:
    """AUC after isotonic calibration of the challenge's high-level classifier (E_inc and shower features)."""
    return Estimate(_challenge(comparison, "highlevel", names, 0.0, seed, epochs, n_hidden).auc)


@register_metric("classifier_jsd_challenge_highlevel", requires=_has_incident_energy, source=_CHALLENGE)
def classifier_jsd_challenge_highlevel(comparison: Comparison, *, names: list[str] | None = None, seed: int = 0,
                                       epochs: int = 50, n_hidden: int = 2048) -> Estimate:
    """JSD (bits, not clipped) after isotonic calibration of the challenge's high-level classifier."""
    return Estimate(_challenge(comparison, "highlevel", names, 0.0, seed, epochs, n_hidden).jsd)
