"""Event-level energy mover's distance between jet images, and JetNet's coverage and MMD built on it.

The EMD of Komiske, Metodiev and Thaler ("Metric space of collider events", PRL 123 (2019)
041801, arXiv:1902.02346; ``energyflow.emd.emd``, β = 1): the least pT-weighted angular
distance needed to move one jet's pixels onto the other's, plus the pT that has to be created
or destroyed,

    EMD(a, b) = min_f Σᵢⱼ fᵢⱼ θᵢⱼ / R + |Σ pTᵃ − Σ pTᵇ|,   Σⱼ fᵢⱼ ≤ pTᵢᵃ, Σᵢ fᵢⱼ ≤ pTⱼᵇ, Σ f = min(Σ pTᵃ, Σ pTᵇ),

θᵢⱼ the (η, φ) distance of the pixel centres. It is solved as a balanced transport (``ot.emd2``)
by giving the lighter jet one extra pixel holding the pT difference at distance R from every
pixel, which adds exactly the last term.

Coverage and MMD (Kansal et al., arXiv:2106.11535 sec. 5; ``jetnet.evaluation.cov_mmd``): in
each of ``num_batches`` batches, ``num_eval_samples`` reference and generated jets are drawn
with replacement and all their EMDs computed; MMD = the mean over reference jets of the EMD to
the closest generated jet (fidelity, lower is better), coverage = the fraction of reference jets
that are the closest one to some generated jet (diversity, 1 at best); both averaged over batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import ot

from physgen.errors import PhysgenError

__all__ = ["CoverageMMD", "coverage_mmd", "event_emd", "event_emds"]


@dataclass(frozen=True)
class CoverageMMD:
    coverage: float
    mmd: float


def _particles(image: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The non-empty pixels of one (η, φ) image as pT and (η, φ) coordinates."""
    pt = np.asarray(image, dtype=np.float64)
    if np.any(pt < 0):
        msg = "the energy mover's distance needs non-negative pixel intensities"
        raise PhysgenError(msg)
    grid = np.stack(np.meshgrid(eta, phi, indexing="ij"), axis=-1).reshape(-1, 2)
    flat = pt.ravel()
    keep = flat > 0
    return flat[keep], grid[keep]


def _emd(pt_a, xy_a, pt_b, xy_b, R: float) -> float:
    total_a, total_b = pt_a.sum(), pt_b.sum()
    cost = ot.dist(xy_a, xy_b, metric="euclidean") / R
    if total_a < total_b:  # the lighter jet gets one extra pixel at distance R from all
        pt_a, cost = np.append(pt_a, total_b - total_a), np.vstack([cost, np.ones((1, cost.shape[1]))])
    elif total_b < total_a:
        pt_b, cost = np.append(pt_b, total_a - total_b), np.hstack([cost, np.ones((cost.shape[0], 1))])
    if pt_a.size == 0 or pt_b.size == 0:
        return float(abs(total_a - total_b))
    return float(ot.emd2(pt_a, pt_b, cost, numItermax=1_000_000, check_marginals=False))


def event_emd(image_a: np.ndarray, image_b: np.ndarray, eta: np.ndarray, phi: np.ndarray, *,
              R: float = 1.0) -> float:
    """EMD between two jet images with pixel-centre coordinates ``eta`` × ``phi``."""
    return _emd(*_particles(image_a, eta, phi), *_particles(image_b, eta, phi), R)


def event_emds(images_a: np.ndarray, images_b: np.ndarray, eta: np.ndarray, phi: np.ndarray, *,
               R: float = 1.0) -> np.ndarray:
    """All EMDs between two stacks of jet images: shape (len(images_a), len(images_b))."""
    parts_a = [_particles(x, eta, phi) for x in images_a]
    parts_b = [_particles(x, eta, phi) for x in images_b]
    return np.array([[_emd(*pa, *pb, R) for pb in parts_b] for pa in parts_a])


def coverage_mmd(reference: np.ndarray, generated: np.ndarray, eta: np.ndarray, phi: np.ndarray, *,
                 num_eval_samples: int = 100, num_batches: int = 10, R: float = 1.0, seed: int = 0) -> CoverageMMD:
    """JetNet's coverage and MMD of generated jet images against reference ones (module docstring);
    draws from ``np.random.default_rng(seed)``, reference then generated indices per batch."""
    rng = np.random.default_rng(seed)
    covs, mmds = [], []
    for _ in range(num_batches):
        ref = reference[rng.choice(len(reference), size=num_eval_samples)]
        gen = generated[rng.choice(len(generated), size=num_eval_samples)]
        dists = event_emds(gen, ref, eta, phi, R=R)  # (generated, reference), as JetNet's emds(gen, real)
        mmds.append(np.mean(np.min(dists, axis=0)))
        covs.append(np.unique(np.argmin(dists, axis=1)).size / num_eval_samples)
    return CoverageMMD(float(np.mean(covs)), float(np.mean(mmds)))
