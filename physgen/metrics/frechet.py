"""Fréchet and kernel physics distances on feature vectors (JetNet: Kansal et al.,
arXiv:2211.10295, "Evaluating generative models in high energy physics").

Two conventions, selected by name:

``"jetnet"`` (the default: published FPD/KPD values compare only in it)
    ``jetnet.evaluation.fpd`` / ``kpd`` (JetNet 0.2.5, ``jetnet/evaluation/gen_metrics.py``):
    every feature divided by the reference's max |x|; batches drawn *with replacement*
    (so a batch may be larger than the sample) and sized as JetNet's defaults whatever the sample
    sizes; FPD on batch sizes evenly spaced in 1/N from
    ``min_samples`` to ``max_samples``, extrapolated to 1/N → 0 by a straight-line fit bounded
    to a non-negative intercept and slope (``scipy.optimize.curve_fit``), error = the fit's
    standard error; KPD = median over batches of the unbiased MMD² with the kernel
    (x·y/d + 1)⁴, error = half the 16–84 % interquantile range.
``"standardised"``
    features standardised with the reference's mean and σ (KPD's polynomial kernel is not
    translation invariant, so an energy in MeV with a large mean is otherwise squeezed into a
    sliver of the kernel), constant columns dropped, batches drawn *without* replacement and
    capped at the sample sizes, and an unbounded FPD fit whose intercept is an unbiased estimate
    (it may fall below 0 by a statistical fluctuation when the samples agree).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.stats

from physgen.errors import PhysgenError
from physgen.metrics._estimate import Estimate

__all__ = ["CONVENTIONS", "fpd", "frechet_distance", "kpd"]

CONVENTIONS = ("jetnet", "standardised")


def _features(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x.reshape(len(x), -1)
    if len(x) < 2 or not np.all(np.isfinite(x)):
        msg = f"{name}: expected at least 2 finite feature vectors, got shape {x.shape}"
        raise PhysgenError(msg)
    return x


def _check(convention: str) -> None:
    if convention not in CONVENTIONS:
        msg = f"unknown FPD/KPD convention {convention!r}: expected one of {list(CONVENTIONS)}"
        raise PhysgenError(msg)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """|μa − μb|² + Tr(Σa + Σb − 2 (Σa Σb)^½) between Gaussians fitted to two samples (the real part
    of the matrix square root; 1e-6 added to the diagonals when it is not finite, as JetNet)."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():  # a (nearly) singular Σa Σb is handled here, not reported as a LinAlgWarning
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(cov_a @ cov_b)
        if not np.all(np.isfinite(covmean)):
            offset = 1e-6 * np.eye(len(cov_a))
            covmean = scipy.linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2 * np.trace(np.real(covmean)))


def _normalise(real: np.ndarray, gen: np.ndarray, convention: str) -> tuple[np.ndarray, np.ndarray]:
    if convention == "jetnet":
        maxes = np.max(np.abs(real), axis=0)
        maxes[maxes == 0] = 1.0
        return real / maxes, gen / maxes
    mean, std = real.mean(axis=0), real.std(axis=0)
    informative = (std > 0) | (gen.std(axis=0) > 0) | (gen.mean(axis=0) != mean)
    std = np.where(std <= 1e-6 * np.maximum(np.abs(mean), 1e-300), 1.0, std)
    real, gen = (real - mean) / std, (gen - mean) / std
    return real[:, informative], gen[:, informative]


def _draw(rng: np.random.Generator, n_events: int, size: int, convention: str) -> np.ndarray:
    return rng.choice(n_events, size=size, replace=convention == "jetnet")


def fpd(real, generated, *, min_samples: int = 20_000, max_samples: int = 50_000, num_batches: int = 20,
        num_points: int = 10, normalise: bool = True, seed: int = 42, convention: str = "jetnet") -> Estimate:
    """Fréchet physics distance extrapolated to infinite sample size (JetNet's ``fpd``; the
    convention decides normalisation, sampling and fit, see the module docstring).

    For each batch size N the Fréchet distance is averaged over ``num_batches`` random batch
    pairs; a straight line in 1/N through these means gives FPD∞ as its intercept, which removes
    the 1/N bias of the finite-sample estimate.
    """
    _check(convention)
    real, gen = _features(real, "real"), _features(generated, "generated")
    if normalise:
        real, gen = _normalise(real, gen, convention)
    low, high = min_samples, max_samples
    if convention == "standardised":
        high = min(max_samples, len(real), len(gen))
        low = min(min_samples, max(high // 2, 2))
    sizes = (1 / np.linspace(1.0 / low, 1.0 / high, num_points)).astype("int32")  # evenly spaced in 1/N
    rng = np.random.default_rng(seed)
    values = []
    for n in sizes:
        batch = []
        for _ in range(num_batches):
            ia, ib = _draw(rng, len(real), n, convention), _draw(rng, len(gen), n, convention)
            batch.append(frechet_distance(real[ia], gen[ib]))
        values.append(np.mean(batch))
    if convention == "jetnet":
        params, cov = scipy.optimize.curve_fit(lambda x, a, b: a + b * x, 1 / sizes, values,
                                               bounds=([0, 0], [np.inf, np.inf]))
        return Estimate(params[0], np.sqrt(cov[0, 0]))
    if len(np.unique(sizes)) < 3:  # too few points for a line with an error: the finite-N mean at the largest N
        return Estimate(values[-1])
    fit, cov = np.polyfit(1.0 / sizes, values, 1, cov=True)
    return Estimate(fit[1], np.sqrt(cov[1, 1]))


def _poly_kernel_sum(x: np.ndarray, y: np.ndarray, degree: int) -> tuple[float, float]:
    """Σ and trace of the kernel matrix (x·y/d + 1)^degree, squared in place (no float power)."""
    k = x @ y.T
    k *= 1.0 / x.shape[1]
    k += 1.0
    if degree == 4:
        np.square(k, out=k)
        np.square(k, out=k)
    else:
        np.power(k, degree, out=k)
    return float(k.sum()), float(np.trace(k))


def mmd_poly_unbiased(x: np.ndarray, y: np.ndarray, degree: int = 4) -> float:
    """Unbiased MMD² (Gretton et al. 2012) with the polynomial kernel k(a, b) = (a·b / d + 1)^degree."""
    (sxx, txx), (syy, tyy), (sxy, _) = (_poly_kernel_sum(p, q, degree) for p, q in ((x, x), (y, y), (x, y)))
    m, n = len(x), len(y)
    return (sxx - txx) / (m * (m - 1)) + (syy - tyy) / (n * (n - 1)) - 2 * sxy / (m * n)


def kpd(real, generated, *, num_batches: int = 10, batch_size: int = 5_000, normalise: bool = True,
        seed: int = 42, convention: str = "jetnet") -> Estimate:
    """Kernel physics distance (JetNet's ``kpd``): the median over ``num_batches`` batch pairs of the
    unbiased MMD² with a degree-4 polynomial kernel, ± half the 16–84 % interquantile range.

    Batch i draws from ``np.random.default_rng(seed + 1000·i)``, as JetNet. Being unbiased, the
    value scatters around 0 (and may be negative) when the samples agree.
    """
    _check(convention)
    real, gen = _features(real, "real"), _features(generated, "generated")
    if normalise:
        real, gen = _normalise(real, gen, convention)
    n = batch_size if convention == "jetnet" else min(batch_size, len(real) // 2, len(gen) // 2)
    values = []
    for i in range(num_batches):
        rng = np.random.default_rng(seed + i * 1000)
        ia, ib = _draw(rng, len(real), n, convention), _draw(rng, len(gen), n, convention)
        values.append(mmd_poly_unbiased(real[ia], gen[ib]))
    return Estimate(np.median(values), scipy.stats.iqr(values, rng=(16.275, 83.725)) / 2)
