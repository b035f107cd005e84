"""LAGAN, the location-aware GAN for jet images (de Oliveira, Paganini, Nachman, arXiv:1701.05927).

Layer lists as docs/PHYSICS.md §1 and the authors' Keras code (hep-lbdl/adversarial-jets,
``models/networks/lagan.py``). ``local=False`` swaps every locally-connected layer for a
convolution of the same kernel, stride and padding: the fully-convolutional DCGAN-style
baseline of the paper's §5.6, with otherwise identical topology so that the comparison
isolates location awareness.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from physgen.models.blocks import (
    AdversarialHeads,
    ClassEmbedding,
    JetImageFeatures,
    LocallyConnected2d,
    MinibatchDiscrimination,
    energy_normalised_cells,
    flip_labels,
    thresholded_softmax,
)
from physgen.models.nets._common import KERAS_LEAKY_SLOPE, GanLoss, batch_norm2d, bce, class_loss
from physgen.models.nets._shapes import image_shape

__all__ = [
    "DcganDiscriminator",
    "DcganGenerator",
    "LaganDiscriminator",
    "LaganGenerator",
    "LaganNormalisedGenerator",
    "LaganPhysicsDiscriminator",
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


class LaganNormalisedGenerator(nn.Module):
    """Compact LAGAN generator with a p_T-normalised output (``generator: normalised``).

    A dense trunk reads ``(z, one-hot class)`` and two heads split the jet's p_T top-down
    (:func:`~physgen.models.blocks.energy_normalised_cells`): the scalar sum of the pixels
    ``c · (1 + r tanh)`` (``pt_sum = (c, r)`` in the images' unit; the paper's jets have 250 < p_T < 300 GeV
    and pixel sums of 250–315 GeV) and the image pattern, a softmax over the pixels minus a learnt
    threshold (:func:`~physgen.models.blocks.thresholded_softmax`): exact zeros, their number learnt per
    jet. The paper's generator sets every pixel independently, so the jet p_T — a sum of 100 pixels — came
    out 2.7× too broad and the images 6× too sparse (README, lagan_compact); here both are single outputs.
    ``forward(z, labels)`` returns ``(B, n_eta, n_phi)`` like :class:`LaganGenerator`.
    """

    def __init__(self, image_size: tuple[int, int] = (25, 25), latent_dim: int = 64, n_classes: int = 2,
                 hidden: Sequence[int] = (256, 256), pt_sum: tuple[float, float] = (2.8, 0.13), slope: float = 0.2):
        super().__init__()
        self.image_size, self.latent_dim, self.n_classes = tuple(image_size), latent_dim, n_classes
        self.pt_centre, self.pt_range = pt_sum
        layers, width = [], latent_dim + (n_classes if n_classes > 1 else 0)
        for h in hidden:
            layers += [nn.Linear(width, h), nn.LeakyReLU(slope)]
            width = h
        self.trunk = nn.Sequential(*layers)
        self.pt = nn.Linear(width, 1)
        self.pattern = nn.Linear(width, self.image_size[0] * self.image_size[1])
        self.threshold = nn.Linear(width, 1)
        nn.init.constant_(self.threshold.bias, 8.0)  # start at e^-8 of the hottest pixel: most pixels on

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = z if self.n_classes < 2 else torch.cat([z, F.one_hot(labels.long(), self.n_classes).to(z.dtype)], dim=1)
        h = self.trunk(h)
        pt = self.pt_centre * (1.0 + self.pt_range * torch.tanh(self.pt(h).squeeze(1)))
        pattern = thresholded_softmax(self.pattern(h), self.threshold(h).squeeze(1)).view(-1, *self.image_size)
        (image,) = energy_normalised_cells(pt, torch.ones_like(pt), torch.ones_like(pt).unsqueeze(1), [pattern])
        return image


class LaganPhysicsDiscriminator(nn.Module):
    """Compact LAGAN discriminator that sees the jet's physics (``discriminator: physics``).

    Inputs: the figures of merit computed in the graph (:class:`~physgen.models.blocks.JetImageFeatures`:
    ln p_T, mass, τ1, τ2, τ21, hard and soft active-pixel counts), standardised with the mean and
    spread of the first real batch (:meth:`fit`, kept in the state); minibatch discrimination on them
    (``mbd_kernels × mbd_dims``); unless ``cells=0`` a dense projection of every pixel's
    ``ln(1 + pT/scale)``. A dense head gives the real/fake and class logits (:class:`AdversarialHeads`),
    so LAGAN's losses apply unchanged.
    """

    FEATURES = ("jet_pt", "jet_mass", "tau_1", "tau_2", "tau_21", "n_active", "soft_active")
    PIXEL_SCALE = 1e-5
    """Pixels are seen as ln(1 + pT / scale), scale in the images' unit (1 MeV for pT/100 GeV pixels)."""

    def __init__(self, eta: torch.Tensor, phi: torch.Tensor, n_classes: int = 2, hidden: Sequence[int] = (128, 128),
                 cells: int = 64, mbd_kernels: int = 10, mbd_dims: int = 5, slope: float = 0.2):
        super().__init__()
        self.features = JetImageFeatures(eta, phi)
        width = len(self.FEATURES)
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("std", torch.ones(width))
        self.register_buffer("fitted", torch.tensor(False))
        self.minibatch = MinibatchDiscrimination(width, mbd_kernels, mbd_dims, squash=True)
        n_pixels = len(eta) * len(phi)
        self.cells = nn.Sequential(nn.Linear(n_pixels, cells), nn.LeakyReLU(slope)) if cells else None
        blocks, w = [], width + mbd_kernels + cells
        for h in hidden:
            blocks += [nn.Linear(w, h), nn.LeakyReLU(slope)]
            w = h
        self.body = nn.Sequential(*blocks)
        self.heads = AdversarialHeads(w, 0 if n_classes < 2 else 1 if n_classes == 2 else n_classes)

    def _raw(self, images: torch.Tensor) -> torch.Tensor:
        f = self.features(images)
        f["jet_pt"] = torch.log(f["jet_pt"].clamp_min(1e-6))
        return torch.stack([f[name] for name in self.FEATURES], dim=1).to(images.dtype)

    @torch.no_grad()
    def fit(self, images: torch.Tensor) -> None:
        """Standardise the features with the mean and spread of these (real) jets."""
        raw = self._raw(images)
        self.mean.copy_(raw.mean(dim=0))
        self.std.copy_(raw.std(dim=0).clamp_min(1e-6))
        self.fitted.fill_(True)

    def standardised(self, images: torch.Tensor) -> torch.Tensor:
        """The standardised feature vectors ``(B, features)``."""
        return (self._raw(images) - self.mean) / self.std

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = self.standardised(images)
        parts = [x, self.minibatch(x)]
        if self.cells is not None:
            parts.append(self.cells(torch.log1p(images.flatten(1).clamp_min(0) / self.PIXEL_SCALE) / 10))
        return self.heads(self.body(torch.cat(parts, dim=1)))


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
