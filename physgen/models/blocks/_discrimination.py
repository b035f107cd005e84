"""Discriminator-side features: minibatch discrimination, sparsity, ACGAN heads, label flipping, and the
feature MMD² a generator can minimise beside (or instead of) its adversarial loss."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from physgen.errors import SpecError

__all__ = ["AdversarialHeads", "MinibatchDiscrimination", "feature_columns", "feature_mmd2", "flip_labels", "mmd2",
           "soft_sparsity", "sparsity"]


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination (Salimans et al. 2016, arXiv:1606.03498, §3.2).

    Features ``f (B, A)`` are projected by a trainable tensor ``T (A, kernels·dims)`` (plus
    bias, as the papers' ``Dense3D``) to ``M (B, kernels, dims)``; for every kernel ``k`` the
    output is ``o_k(x_i) = Σ_j exp(−‖M_ik − M_jk‖₁)`` over the batch (``j = i`` included, as the
    LAGAN/CaloGAN code). A collapsed generator gives near-identical samples, hence large
    ``o``: the discriminator can see the lack of diversity. LAGAN: 20 kernels × 10 dims;
    CaloGAN: 10 × 10 followed by ``tanh`` (``squash=True``).
    """

    def __init__(self, in_features: int, kernels: int = 20, dims: int = 10, squash: bool = False):
        super().__init__()
        self.kernels, self.dims, self.squash = kernels, dims, squash
        self.project = nn.Linear(in_features, kernels * dims)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        m = self.project(features.flatten(1)).view(-1, self.kernels, self.dims).transpose(0, 1)  # (K, B, D)
        closeness = torch.exp(-torch.cdist(m, m, p=1.0))  # (K, B, B)
        out = closeness.sum(dim=2).transpose(0, 1)  # (B, K)
        return torch.tanh(out) if self.squash else out


class AdversarialHeads(nn.Module):
    """ACGAN output heads (Odena et al. 2016, arXiv:1610.09585): real/fake and auxiliary.

    Returns *logits* ``(adversarial (B,), auxiliary (B,) or (B, n))``; the papers' sigmoid is
    applied inside the loss (``binary_cross_entropy_with_logits``) for numerical stability.
    ``aux_outputs=1`` is LAGAN's signal/background head; ``0`` disables the auxiliary head.
    """

    def __init__(self, in_features: int, aux_outputs: int = 1):
        super().__init__()
        self.adversarial = nn.Linear(in_features, 1)
        self.auxiliary = nn.Linear(in_features, aux_outputs) if aux_outputs > 0 else None

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        adv = self.adversarial(features).squeeze(1)
        if self.auxiliary is None:
            return adv, None
        aux = self.auxiliary(features)
        return adv, aux.squeeze(1) if aux.shape[1] == 1 else aux


def flip_labels(labels: torch.Tensor, probability: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Binary labels with a random fraction ``probability`` replaced by ``1 − label``.

    Label flipping (Salimans et al. 2016; "ganhacks") keeps the discriminator from becoming
    over-confident; LAGAN flips 5 % of the discriminator's labels and 9 % of the generator's
    auxiliary labels (docs/PHYSICS.md §1), CaloGAN 30 % of the fake batch's class labels.
    """
    flip = torch.rand(labels.shape, generator=generator, device=labels.device) < probability
    return torch.where(flip, 1 - labels, labels)


def sparsity(x: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """Fraction of cells above ``threshold`` per sample, ``(B, 1)`` (paper 003, Eq. 4).

    No gradient flows through the indicator; see :func:`soft_sparsity`.
    """
    return (x.flatten(1) > threshold).to(x.dtype).mean(dim=1, keepdim=True)


def soft_sparsity(x: torch.Tensor, alpha: float = 4.0, scale: float = 1e-3) -> torch.Tensor:
    """Differentiable occupancy per sample, ``(B, 1)`` (paper 003, §5, Eqs. 5–6).

    Each cell contributes ``g = u / (1 + u)`` with ``u = (|x| / scale)^alpha``: 0 for an empty
    cell, ½ at ``|x| = scale`` and → 1 above it, with gradient everywhere. As ``alpha → ∞``
    and ``scale → 0``, ``g → 𝕀[x ≠ 0]`` and the mean tends to :func:`sparsity` (Eq. 6).

    Eq. 5 is garbled in our copy of the paper (as printed, ``(|x|^α + |x|^-β)/(… + 1)`` tends
    to 1 at ``x → 0``, contradicting Eq. 6); this keeps its form ``v / (v + 1)`` and its two
    hyper-parameters (sharpness ``alpha``, threshold ``scale`` in the units of ``x``).
    """
    log_ratio = torch.log(x.flatten(1).abs().clamp_min(1e-30)) - math.log(scale)
    return torch.sigmoid(alpha * log_ratio).mean(dim=1, keepdim=True)  # u/(1+u), overflow-free


def mmd2(x: torch.Tensor, y: torch.Tensor, bandwidths: tuple[float, ...] = (2.0, 8.0, 32.0, 128.0)) -> torch.Tensor:
    """Squared maximum mean discrepancy of the samples ``x (N, d)`` and ``y (M, d)`` (Gretton et al.,
    JMLR 13 (2012) 723, Eq. 3, the biased estimator), Gaussian kernels ``exp(−‖a − b‖² / 2σ²)`` summed
    over ``σ² ∈ bandwidths`` (several scales: Li et al., arXiv:1502.02761, "generative moment
    matching"). Zero iff the two samples have the same distribution (in the large-sample limit),
    with gradients for every point of ``y`` — the generator-side loss of a GAN helper that does not
    saturate when the discriminator wins."""
    def kernel(a, b):
        d2 = torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist").square()  # exact differences
        return sum(torch.exp(-d2 / (2.0 * s)) for s in bandwidths)

    return kernel(x, x).mean() + kernel(y, y).mean() - 2.0 * kernel(x, y).mean()


def feature_mmd2(real: torch.Tensor, fake: torch.Tensor, bandwidths: tuple[float, ...],
                 classes: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`mmd2` of real and generated feature vectors ``(B, d)``; with ``classes`` (one per row, the same
    on both sides) the sum over classes of each class's MMD², so that a class-conditional generator is
    compared class by class (classes with fewer than two rows are skipped: one row has no spread)."""
    if classes is None:
        return mmd2(real, fake, bandwidths)
    return sum(mmd2(real[classes == c], fake[classes == c], bandwidths)
               for c in classes.unique() if (classes == c).sum() > 1)


def feature_columns(model: str, groups: Sequence[str], widths: Sequence[int],
                    selected: Sequence[str] | None) -> list[int] | slice:
    """Columns of a feature vector laid out as ``groups`` of ``widths`` columns each (a physics
    discriminator's standardised features) that the ``selected`` groups occupy, in their order; all
    columns when ``selected`` is None. A name that is not a group raises :class:`~physgen.errors.SpecError`
    naming the model's ``mmd_features`` option."""
    if selected is None:
        return slice(None)
    unknown = sorted(set(selected) - set(groups))
    if unknown:
        msg = f"model {model!r}: mmd_features {unknown} are not among the physics features {list(groups)}"
        raise SpecError(msg)
    starts = [sum(widths[:i]) for i in range(len(groups) + 1)]
    return [c for name in selected for c in range(starts[groups.index(name)], starts[groups.index(name) + 1])]
