"""Calibrating a classifier's output and scoring it: class-balanced NLL, temperature scaling, ROC AUC.

Conventions: label 1 = reference, label 0 = generated; ``logits`` are classifier outputs before the
sigmoid. The losses are *class balanced* (each class carries half of the total weight, whatever
the sample sizes), which is the same as training on equal-size samples: the optimal classifier
then has f/(1−f) = p_ref(x)/p_gen(x) (paper 004, docs/PHYSICS.md §8; unweighted BCE on N_ref and N_gen
events would give (N_ref/N_gen)·p_ref/p_gen instead). DCTR (``physgen.reweight``) and the
classifier two-sample tests (:mod:`physgen.metrics.classifier`) share these functions.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.optimize
import scipy.special
import scipy.stats

from physgen.errors import PhysgenError

__all__ = ["balanced_nll", "class_balanced_weights", "fit_temperature", "isotonic_calibration", "mean_nll", "roc_auc"]


def class_balanced_weights(labels: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Per-event weights that give each class half of the total: ``wᵢ / (2 Σ_class w)`` (``weights``: event
    weights of a biased sample, e.g. pT-hat-weighted jets; default 1), so a class's mean is its weighted
    mean — that of the physical distribution it stands for."""
    labels = np.asarray(labels).astype(bool)
    w = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=np.float64)
    return np.where(labels, 0.5 / w[labels].sum(), 0.5 / w[~labels].sum()) * w


def balanced_nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0,
                 weights: np.ndarray | None = None) -> float:
    """Class-balanced binary cross entropy (nats) of ``sigmoid(logits / T)``: ½ ⟨ℓ⟩_ref + ½ ⟨ℓ⟩_gen, each
    mean weighted by the event ``weights`` when given."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    labels = np.asarray(labels).astype(bool)
    loss = np.where(labels, np.logaddexp(0.0, -z), np.logaddexp(0.0, z))  # −log f, −log(1−f)
    return float(np.sum(class_balanced_weights(labels, weights) * loss))


def mean_nll(logits: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Plain (event-weighted, when ``weights`` are given) mean binary cross entropy (nats) of
    ``sigmoid(logits)`` over all events (torch's ``BCEWithLogitsLoss``), for classifiers trained on
    samples of equal size."""
    z = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    return float(np.average(np.where(labels, np.logaddexp(0.0, -z), np.logaddexp(0.0, z)), weights=weights))


def fit_temperature(logits: np.ndarray, labels: np.ndarray, weights: np.ndarray | None = None) -> float:
    """The one T > 0 minimising the held-out :func:`balanced_nll` of ``logits / T`` (temperature
    scaling, Guo et al., arXiv:1706.04599), events weighted by ``weights`` when given.

    Optimised over log T with L-BFGS-B and the analytic gradient, so T stays positive.
    """
    z = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    sign = np.where(labels, 1.0, -1.0)  # ℓ = log(1 + exp(−s·z/T))
    weight = class_balanced_weights(labels, weights)

    def objective(log_t: np.ndarray) -> tuple[float, np.ndarray]:
        scaled = sign * z * np.exp(-log_t[0])
        loss = float(np.sum(weight * np.logaddexp(0.0, -scaled)))
        # dℓ/dlogT = sigmoid(−s·z/T) · s·z/T
        grad = float(np.sum(weight * scipy.special.expit(-scaled) * scaled))
        return loss, np.array([grad])

    result = scipy.optimize.minimize(objective, np.zeros(1), jac=True, method="L-BFGS-B", bounds=[(-7.0, 7.0)])
    return float(np.exp(result.x[0]))


def roc_auc(labels: np.ndarray, scores: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the ROC curve = P(score of a label-1 event > score of a label-0 event), ties counting ½
    (the Mann–Whitney U statistic over ranks; equals ``sklearn.metrics.roc_auc_score``). With event
    ``weights`` each pair counts wᵢ·wⱼ (``roc_auc_score(sample_weight=…)``): the AUC of the physical
    distributions a biased sample stands for."""
    labels = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        msg = f"the ROC AUC needs events of both labels, got {n_pos} of label 1 and {n_neg} of label 0"
        raise PhysgenError(msg)
    scores = np.asarray(scores, dtype=np.float64)
    if weights is None:
        ranks = scipy.stats.rankdata(scores)
        return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    w = np.asarray(weights, dtype=np.float64)
    order = np.argsort(scores[~labels], kind="stable")
    negative, below = scores[~labels][order], np.concatenate([[0.0], np.cumsum(w[~labels][order])])
    lower = below[np.searchsorted(negative, scores[labels], side="left")]  # weight of negatives scored lower
    tied = below[np.searchsorted(negative, scores[labels], side="right")] - lower
    return float(np.sum(w[labels] * (lower + 0.5 * tied)) / (w[labels].sum() * below[-1]))


def isotonic_calibration(probabilities: np.ndarray, labels: np.ndarray, *, y_min: float = 1e-6,
                         y_max: float = 1 - 1e-6) -> Callable[[np.ndarray], np.ndarray]:
    """A non-decreasing map of classifier probabilities to calibrated ones, fitted to ``labels``: the
    isotonic regression of the Fast Calorimeter Simulation Challenge (``evaluate.py``:
    ``sklearn.isotonic.IsotonicRegression(out_of_bounds="clip", y_min=1e-6, y_max=1 - 1e-6)``).

    As scikit-learn does: events of equal probability are merged (their labels averaged), the pool
    adjacent violators algorithm (``scipy.optimize.isotonic_regression``) fits the sorted values,
    the fit is clipped to [``y_min``, ``y_max``], and new probabilities are interpolated linearly
    between the fitted points, clipped to the end values outside them.
    """
    x = np.asarray(probabilities, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    order = np.lexsort((y, x))
    x, y = x[order], y[order]
    unique, start, counts = np.unique(x, return_index=True, return_counts=True)
    means = np.add.reduceat(y, start) / counts
    fitted = scipy.optimize.isotonic_regression(means, weights=counts.astype(np.float64), increasing=True).x
    fitted = np.clip(fitted, y_min, y_max)
    if len(unique) == 1:
        return lambda p: np.full(np.shape(p), fitted[0])
    return lambda p: np.interp(np.asarray(p, dtype=np.float64), unique, fitted)
