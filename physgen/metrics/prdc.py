"""Precision, recall, density and coverage of a generated sample (Naeem, Oh, Uh, Choi, Yoo,
"Reliable fidelity and diversity metrics for generative models", ICML 2020, arXiv:2002.09797;
precision/recall as defined by Kynkäänniemi et al. 2019).

Each reference point rᵢ has a ball of radius = the distance to its k-th nearest other reference
point (k = 5 as the paper recommends); likewise for generated points.

- precision: fraction of generated points inside at least one reference ball (fidelity);
- recall: fraction of reference points inside at least one generated ball (diversity);
- density: (1/kM) Σⱼ #{reference balls containing generated point j} (≈ 1 when the samples agree);
- coverage: fraction of reference points whose ball contains at least one generated point.

"Inside" is strict (distance < radius), as in the authors' ``prdc`` package. Distances are
Euclidean in the features standardised by the reference's mean and σ, since physics features
come in different units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.spatial

from physgen.errors import PhysgenError

__all__ = ["PRDC", "precision_recall_density_coverage"]


@dataclass(frozen=True)
class PRDC:
    precision: float
    recall: float
    density: float
    coverage: float


def _kth_neighbour_radius(x: np.ndarray, k: int) -> np.ndarray:
    """Distance of every point to its k-th nearest other point of the same sample."""
    distances, _ = scipy.spatial.KDTree(x).query(x, k=k + 1)
    return distances[:, -1]


def precision_recall_density_coverage(reference, generated, *, k: int = 5, standardise: bool = True,
                                      max_samples: int | None = 10_000, seed: int = 0,
                                      chunk: int = 2048) -> PRDC:
    """PRDC of ``generated`` (events × features) against ``reference``; both are subsampled (without
    replacement, seeded) to ``max_samples`` points, as the pairwise comparison costs N·M."""
    ref, gen = (np.asarray(s, dtype=np.float64) for s in (reference, generated))
    ref, gen = ref.reshape(len(ref), -1), gen.reshape(len(gen), -1)
    if min(len(ref), len(gen)) <= k:
        msg = f"precision/recall/density/coverage with k = {k} need more than {k} events per sample"
        raise PhysgenError(msg)
    rng = np.random.default_rng(seed)
    if max_samples is not None:
        ref, gen = (s[rng.permutation(len(s))[:max_samples]] if len(s) > max_samples else s for s in (ref, gen))
    if standardise:
        mean, std = ref.mean(axis=0), ref.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        ref, gen = (ref - mean) / std, (gen - mean) / std
    ref_radius, gen_radius = _kth_neighbour_radius(ref, k), _kth_neighbour_radius(gen, k)
    gen_in_ref_balls = np.zeros(len(gen))  # how many reference balls hold each generated point
    ref_covered = np.zeros(len(ref), dtype=bool)
    ref_in_gen_ball = np.zeros(len(ref), dtype=bool)
    for start in range(0, len(ref), chunk):
        d = scipy.spatial.distance.cdist(ref[start:start + chunk], gen)  # (chunk of reference, generated)
        inside = d < ref_radius[start:start + chunk, None]
        gen_in_ref_balls += inside.sum(axis=0)
        ref_covered[start:start + chunk] = d.min(axis=1) < ref_radius[start:start + chunk]
        ref_in_gen_ball[start:start + chunk] = (d < gen_radius[None, :]).any(axis=1)
    return PRDC(precision=float(np.mean(gen_in_ref_balls > 0)), recall=float(np.mean(ref_in_gen_ball)),
                density=float(gen_in_ref_balls.sum() / (k * len(gen))), coverage=float(np.mean(ref_covered)))
