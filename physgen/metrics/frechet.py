"""Fréchet and kernel physics distances on feature vectors (JetNet: Kansal et al.,
arXiv:2211.10295, "Evaluating generative models in high energy physics")."""

from __future__ import annotations

import warnings

from dataclasses import dataclass

import numpy as np
import scipy.linalg

from physgen.errors import PhysgenError

__all__ = ["DistanceEstimate", "frechet_distance", "fpd", "kpd"]


@dataclass(frozen=True)
class DistanceEstimate:
    value: float
    error: float


def _features(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    x = x.reshape(len(x), -1)
    if len(x) < 2 or not np.all(np.isfinite(x)):
        msg = f"{name}: expected at least 2 finite feature vectors, got shape {x.shape}"
        raise PhysgenError(msg)
    return x


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """|μa − μb|² + Tr(Σa + Σb − 2 (Σa Σb)^½) between Gaussians fitted to two samples."""
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    with warnings.catch_warnings():
        # small samples or a constant feature make Σa Σb (nearly) singular; its square root is still the one
        # the FID needs (pytorch-fid and JetNet take the real part the same way), so no LinAlgWarning leaks
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(cov_a @ cov_b)
    covmean = np.real(covmean)
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * covmean))


def _normalise(real: np.ndarray, gen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standardise both samples with the reference's mean and σ per feature.

    FPD is unchanged by the shift; the polynomial kernel of KPD is not translation invariant,
    and features with large means (energies in MeV) would otherwise dominate it by orders of
    magnitude. A (nearly) constant reference column is only shifted; a column holding the same
    constant in both samples (a fixed condition such as θ = 0) carries no information and is
    dropped, as it would make the covariance matrices singular.
    """
    mean, std = real.mean(axis=0), real.std(axis=0)
    informative = (std > 0) | (gen.std(axis=0) > 0) | (gen.mean(axis=0) != mean)
    std = np.where(std <= 1e-6 * np.maximum(np.abs(mean), 1e-300), 1.0, std)
    real, gen = (real - mean) / std, (gen - mean) / std
    return real[:, informative], gen[:, informative]


def fpd(real, generated, *, min_samples: int = 20_000, max_samples: int = 50_000, num_batches: int = 20,
        num_points: int = 10, normalise: bool = True, seed: int = 42) -> DistanceEstimate:
    """Fréchet physics distance extrapolated to infinite sample size (JetNet's ``fpd``).

    For N on a grid between ``min_samples`` and ``max_samples`` (capped by the sample sizes),
    the Fréchet distance of random subsamples (``num_batches`` each) is averaged; a straight
    line in 1/N is fitted and its intercept (with its standard error) is FPD∞, which removes
    the 1/N bias of the finite-sample estimate.
    """
    real, gen = _features(real, "real"), _features(generated, "generated")
    if normalise:
        real, gen = _normalise(real, gen)
    rng = np.random.default_rng(seed)
    top = min(max_samples, len(real), len(gen))
    low = min(min_samples, max(top // 2, 2))
    sizes = np.unique(np.linspace(low, top, num_points).astype(int))
    values = [np.mean([frechet_distance(real[rng.choice(len(real), n, replace=False)],
                                        gen[rng.choice(len(gen), n, replace=False)]) for _ in range(num_batches)])
              for n in sizes]
    if len(sizes) < 4:  # too few points for a line with an error: the finite-N mean at the largest N
        return DistanceEstimate(float(values[-1]), float("nan"))
    fit, cov = np.polyfit(1.0 / sizes, values, 1, cov=True)
    return DistanceEstimate(float(fit[1]), float(np.sqrt(cov[1, 1])))


def _mmd_poly(x: np.ndarray, y: np.ndarray, degree: int = 4) -> float:
    """Unbiased MMD² with the polynomial kernel k(a, b) = (a·b / d + 1)^degree."""
    d = x.shape[1]
    kxx, kyy, kxy = ((p @ q.T / d + 1) ** degree for p, q in ((x, x), (y, y), (x, y)))
    m, n = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2 * kxy.mean())


def kpd(real, generated, *, num_batches: int = 10, batch_size: int = 5_000, normalise: bool = True,
        seed: int = 42) -> DistanceEstimate:
    """Kernel physics distance: unbiased MMD² with a degree-4 polynomial kernel (JetNet's ``kpd``),
    as the median over ``num_batches`` random batches, with half the interquartile range as error."""
    real, gen = _features(real, "real"), _features(generated, "generated")
    if normalise:
        real, gen = _normalise(real, gen)
    rng = np.random.default_rng(seed)
    n = min(batch_size, len(real), len(gen))
    values = [_mmd_poly(real[rng.choice(len(real), n, replace=False)], gen[rng.choice(len(gen), n, replace=False)])
              for _ in range(num_batches)]
    q1, median, q3 = np.percentile(values, [25, 50, 75])
    return DistanceEstimate(float(median), float((q3 - q1) / 2))
