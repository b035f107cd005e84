"""LAGAN, the location-aware GAN for jet images (de Oliveira, Paganini, Nachman, arXiv:1701.05927).

Layer lists as docs/PHYSICS.md §1 and the authors' Keras code (hep-lbdl/adversarial-jets,
``models/networks/lagan.py``). ``local=False`` swaps every locally-connected layer for a
convolution of the same kernel, stride and padding: the fully-convolutional DCGAN-style
baseline of the paper's §5.6, with otherwise identical topology so that the comparison
isolates location awareness.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from physgen.models.blocks import (
    AdversarialHeads,
    ClassEmbedding,
    LocallyConnected2d,
    MinibatchDiscrimination,
    flip_labels,
)
from physgen.models.nets._common import KERAS_LEAKY_SLOPE, GanLoss, batch_norm2d, bce, class_loss
from physgen.models.nets._shapes import image_shape

__all__ = [
    "DcganDiscriminator",
    "DcganGenerator",
    "LaganDiscriminator",
    "LaganGenerator",
    "lagan_discriminator_loss",
    "lagan_generator_loss",
]


def _local_or_conv(local: bool, c_in: int, c_out: int, size: tuple[int, int], kernel, stride=1, padding=0,
                   bias: bool = True) -> nn.Module:
    if local:
        return LocallyConnected2d(c_in, c_out, size, kernel, stride, padding, bias)
    return nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=bias)


def _after(size: tuple[int, int], kernel, stride=1, padding=0) -> tuple[int, int]:
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    return tuple((n + 2 * padding - kk) // stride + 1 for n, kk in zip(size, k))


class LaganGenerator(nn.Module):
    """LAGAN generator: ``z ⊙ embed(class)`` → Dense 7·7·128 → conv 64 5×5 → ×2 → LC 6 5×5
    → ×2 → LC 6 3×3 → LC 1 2×2 (no bias) → ReLU; output ``(B, n_eta, n_phi)``.

    For 25×25 images the start grid is 7×7 (28 after two upsamplings, then 3×3 and 2×2 valid
    layers give 25). Other sizes ``n`` start from ``⌈(n+3)/4⌉`` and the last kernel absorbs the
    remainder. LeakyReLU slope 0.3 and batch norm after the first two blocks, as the original.
    ``filters`` = (projected channels, conv channels, locally-connected channels): (128, 64, 6) as the
    paper; smaller values give the compact CPU-trainable member of the family.
    """

    def __init__(self, image_size: tuple[int, int] = (25, 25), latent_dim: int = 200, n_classes: int = 2,
                 local: bool = True, slope: float = KERAS_LEAKY_SLOPE, filters: tuple[int, int, int] = (128, 64, 6)):
        super().__init__()
        self.image_size, self.latent_dim, self.n_classes = tuple(image_size), latent_dim, n_classes
        start = tuple(math.ceil((n + 3) / 4) for n in self.image_size)
        last_kernel = tuple(4 * s - 1 - n for s, n in zip(start, self.image_size))
        self.start = start
        projected, conv, lc = (int(f) for f in filters)
        self.projected = projected
        self.embed = ClassEmbedding(n_classes, latent_dim) if n_classes > 1 else None
        self.project = nn.Linear(latent_dim, projected * start[0] * start[1])
        mid = (2 * start[0], 2 * start[1])
        big = (4 * start[0], 4 * start[1])
        self.body = nn.Sequential(
            nn.Conv2d(projected, conv, 5, padding=2), nn.LeakyReLU(slope), batch_norm2d(conv),
            nn.Upsample(scale_factor=2, mode="nearest"),
            _local_or_conv(local, conv, lc, mid, 5, padding=2), nn.LeakyReLU(slope), batch_norm2d(lc),
            nn.Upsample(scale_factor=2, mode="nearest"),
            _local_or_conv(local, lc, lc, big, 3), nn.LeakyReLU(slope),
            _local_or_conv(local, lc, 1, _after(big, 3), last_kernel, bias=False), nn.ReLU(),
        )

    @classmethod
    def from_detector(cls, detector, **kwargs) -> LaganGenerator:
        """Sized for the jet-image grid of ``detector`` (a :class:`~physgen.specs.DetectorSpec`)."""
        return cls(image_shape(detector), **kwargs)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = z if self.embed is None else self.embed(z, labels)
        h = self.project(h).view(-1, self.projected, *self.start)
        return self.body(h).squeeze(1)


class LaganDiscriminator(nn.Module):
    """LAGAN discriminator: conv 32 5×5 ("same") → LC 8 5×5 /2 → LC 8 5×5 → LC 8 3×3 /2
    (each "same"-padded, LeakyReLU, batch norm, dropout 0.2 as the original code) → 2×2
    average pool → minibatch discrimination (20 kernels × 10 dims) concatenated with the
    features → real/fake and signal/background logits (:class:`AdversarialHeads`). ``filters`` =
    (conv channels, locally-connected channels): (32, 8) as the paper."""

    def __init__(self, image_size: tuple[int, int] = (25, 25), n_classes: int = 2, local: bool = True,
                 mbd_kernels: int = 20, mbd_dims: int = 10, dropout: float = 0.2,
                 slope: float = KERAS_LEAKY_SLOPE, filters: tuple[int, int] = (32, 8)):
        super().__init__()
        self.image_size = tuple(image_size)
        s1 = _after(self.image_size, 5, 2, 2)
        s2 = _after(s1, 5, 1, 2)
        s3 = _after(s2, 3, 2, 1)
        conv, lc = (int(f) for f in filters)

        def block(c_in, size, kernel, stride, padding):
            return [_local_or_conv(local, c_in, lc, size, kernel, stride, padding), nn.LeakyReLU(slope),
                    batch_norm2d(lc), nn.Dropout(dropout)]

        self.features = nn.Sequential(
            nn.Conv2d(1, conv, 5, padding=2), nn.LeakyReLU(slope), nn.Dropout(dropout),
            *block(conv, self.image_size, 5, 2, 2), *block(lc, s1, 5, 1, 2), *block(lc, s2, 3, 2, 1),
            nn.AvgPool2d(2), nn.Flatten(),
        )
        n_features = lc * (s3[0] // 2) * (s3[1] // 2)
        self.minibatch = MinibatchDiscrimination(n_features, mbd_kernels, mbd_dims)
        aux_outputs = 0 if n_classes < 2 else 1 if n_classes == 2 else n_classes
        self.heads = AdversarialHeads(n_features + mbd_kernels, aux_outputs)

    @classmethod
    def from_detector(cls, detector, **kwargs) -> LaganDiscriminator:
        return cls(image_shape(detector), **kwargs)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(images.unsqueeze(1))
        return self.heads(torch.cat([h, self.minibatch(h)], dim=1))


class DcganGenerator(LaganGenerator):
    """The fully-convolutional baseline: :class:`LaganGenerator` with convolutions for LC layers."""

    def __init__(self, image_size: tuple[int, int] = (25, 25), latent_dim: int = 200, n_classes: int = 2,
                 slope: float = KERAS_LEAKY_SLOPE, filters: tuple[int, int, int] = (128, 64, 6)):
        super().__init__(image_size, latent_dim, n_classes, local=False, slope=slope, filters=filters)


class DcganDiscriminator(LaganDiscriminator):
    """The fully-convolutional baseline: :class:`LaganDiscriminator` with convolutions for LC layers."""

    def __init__(self, image_size: tuple[int, int] = (25, 25), n_classes: int = 2, **kwargs):
        super().__init__(image_size, n_classes, local=False, **kwargs)


def lagan_discriminator_loss(discriminator: nn.Module, real: torch.Tensor, real_labels: torch.Tensor,
                             fake: torch.Tensor, fake_labels: torch.Tensor, *, flip: float = 0.05,
                             generator: torch.Generator | None = None) -> GanLoss:
    """ACGAN discriminator loss of LAGAN (paper 000 §4.1): separate all-real and all-fake
    batches (batch norm and minibatch discrimination see batch statistics), real/fake labels
    flipped with probability ``flip`` (5 %), auxiliary class loss on both batches; mean of the
    two batches' losses. ``fake`` should be detached from the generator."""
    adv_r, aux_r = discriminator(real)
    adv_f, aux_f = discriminator(fake)
    ones = flip_labels(torch.ones_like(adv_r), flip, generator)
    zeros = flip_labels(torch.zeros_like(adv_f), flip, generator)
    adversarial = 0.5 * (bce(adv_r, ones) + bce(adv_f, zeros))
    if aux_r is None:  # unconditional (one class)
        return GanLoss(adversarial, {"adversarial": adversarial.item()})
    auxiliary = 0.5 * (class_loss(aux_r, real_labels) + class_loss(aux_f, fake_labels))
    total = adversarial + auxiliary
    return GanLoss(total, {"adversarial": adversarial.item(), "auxiliary": auxiliary.item()})


def lagan_generator_loss(discriminator: nn.Module, fake: torch.Tensor, sampled_labels: torch.Tensor, *,
                         aux_flip: float = 0.09, generator: torch.Generator | None = None) -> GanLoss:
    """Non-saturating generator loss of LAGAN: fakes should be called real, and of the class
    asked for, with 9 % of the auxiliary labels flipped (docs/PHYSICS.md §1). The paper trains the
    generator twice per discriminator step (a recipe choice, not part of the loss)."""
    adv, aux = discriminator(fake)
    adversarial = bce(adv, 1.0)
    if aux is None:  # unconditional (one class)
        return GanLoss(adversarial, {"adversarial": adversarial.item()})
    labels = flip_labels(sampled_labels.float(), aux_flip, generator) if aux.ndim == 1 else sampled_labels
    auxiliary = class_loss(aux, labels)
    total = adversarial + auxiliary
    return GanLoss(total, {"adversarial": adversarial.item(), "auxiliary": auxiliary.item()})
