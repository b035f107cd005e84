"""Temperature scaling and the logit → weight map of DCTR (paper 004, docs/PHYSICS.md §8).

Conventions: label 1 = reference, label 0 = generated; ``logit`` is the classifier output
before the sigmoid. Losses are *class balanced* (each class carries half of the total weight,
whatever the sample sizes), which is the same as training on equal-size samples: the optimal
classifier then has f/(1−f) = p_ref(x)/p_gen(x). (Unweighted BCE on N_ref reference and N_gen
generated events would instead give f/(1−f) = (N_ref/N_gen)·p_ref/p_gen, the factor that
docs/PHYSICS.md §8 corrects by × N_gen/N_ref; the balanced loss makes that factor exactly 1.)
"""

from __future__ import annotations

import numpy as np
import scipy.optimize
import scipy.special
import scipy.stats

from physgen.errors import SpecError

__all__ = ["auc", "balanced_nll", "clip_and_normalise", "fit_temperature"]


def balanced_nll(logits: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Class-balanced binary cross entropy of ``sigmoid(logits / T)``: ½ ⟨ℓ⟩_ref + ½ ⟨ℓ⟩_gen."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    labels = np.asarray(labels).astype(bool)
    loss = np.where(labels, np.logaddexp(0.0, -z), np.logaddexp(0.0, z))  # −log f, −log(1−f)
    return 0.5 * float(loss[labels].mean()) + 0.5 * float(loss[~labels].mean())


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The one T > 0 minimising the held-out :func:`balanced_nll` of ``logits / T`` (Guo et al. 2017).

    Optimised over log T with L-BFGS-B and the analytic gradient, so T stays positive.
    """
    z = np.asarray(logits, dtype=np.float64)
    labels = np.asarray(labels).astype(bool)
    sign = np.where(labels, 1.0, -1.0)  # ℓ = log(1 + exp(−s·z/T))
    weight = np.where(labels, 0.5 / labels.sum(), 0.5 / (~labels).sum())

    def objective(log_t: np.ndarray) -> tuple[float, np.ndarray]:
        scaled = sign * z * np.exp(-log_t[0])
        loss = float(np.sum(weight * np.logaddexp(0.0, -scaled)))
        # dℓ/dlogT = sigmoid(−s·z/T) · s·z/T
        grad = float(np.sum(weight * scipy.special.expit(-scaled) * scaled))
        return loss, np.array([grad])

    result = scipy.optimize.minimize(objective, np.zeros(1), jac=True, method="L-BFGS-B", bounds=[(-7.0, 7.0)])
    return float(np.exp(result.x[0]))


def auc(logits: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney U over ranks; ties count ½)."""
    labels = np.asarray(labels).astype(bool)
    ranks = scipy.stats.rankdata(np.asarray(logits, dtype=np.float64))
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def clip_and_normalise(raw: np.ndarray, clip: float) -> np.ndarray:
    """Weights ``min(s·raw, clip)`` with the scale s chosen so that their mean is exactly 1.

    Clipping then normalising would let weights exceed ``clip``; normalising then clipping would
    break the mean. Solving mean(min(s·w, clip)) = 1 for s (monotone in s) satisfies both.
    """
    raw = np.asarray(raw, dtype=np.float64)
    if clip < 1:
        msg = f"clip must be >= 1 so that weights can have mean 1, got {clip}"
        raise SpecError(msg)
    if raw.size == 0 or not np.all(np.isfinite(raw)) or np.any(raw <= 0):
        msg = "raw weights must be finite and positive"
        raise ValueError(msg)
    if raw.max() / raw.mean() <= clip:
        return raw / raw.mean()
    # s lies between 1/mean (mean(min(s·w, clip)) ≤ 1) and clip/min (all weights at clip ≥ 1); raw
    # weights span up to e^±50, so solve for log s, where a fixed tolerance is a relative one
    log_scale = scipy.optimize.brentq(lambda t: np.minimum(np.exp(t) * raw, clip).mean() - 1.0,
                                      -np.log(raw.mean()), np.log(clip / raw.min()), xtol=1e-14)
    return np.minimum(np.exp(log_scale) * raw, clip)
