"""3D WGAN-GP for the 30×30×30 ILD photon showers (the generator class that paper 004 reweights).

Paper 004 reweights a BIB-AE with WGAN-like critics (Buhmann et al. 2020); as the issue asks,
this is the plain conditional 3D WGAN-GP (Gulrajani et al. 2017) on the same showers:
a generator of nearest-upsampling + 3×3×3 convolutions with a ReLU output, and a critic of
strided 3×3×3 convolutions with layer norm (no batch norm under a gradient penalty),
both conditioned on the incident energy ``E / 100 GeV``. The detector's 0.1 MeV MIP cut is
applied to generated showers at sampling (:meth:`IldGenerator.sample`), not in training,
so the generator keeps a gradient for cells near threshold.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from physgen.models.blocks import DownConv3d, UpConv3d, apply_cell_threshold, gradient_penalty
from physgen.models.blocks._generation import ENERGY_SCALE_GEV
from physgen.models.nets._common import GanLoss
from physgen.models.nets._shapes import cell_threshold, voxel_shape

__all__ = ["IldCritic", "IldGenerator", "wgan_critic_loss", "wgan_generator_loss"]


class IldGenerator(nn.Module):
    """``[z, E/100]`` → Dense → ``(C0, s)`` → (×2 upsample + conv) × 2 → conv 3×3×3 (valid) → ReLU.

    The start grid ``s = ⌈(n+2)/4⌉`` per axis (8 for 30: 8 → 16 → 32 → 30). Output
    ``(B, layers, rows, cols)`` in the units the recipe trains in; ``threshold`` is the cell
    cut in those units (0.1 MeV for ILD).
    """

    def __init__(self, shape: Sequence[int] = (30, 30, 30), latent_dim: int = 100,
                 channels: Sequence[int] = (32, 16, 8), threshold: float = 0.0, slope: float = 0.2):
        super().__init__()
        self.shape, self.latent_dim, self.threshold = tuple(shape), latent_dim, float(threshold)
        self.start = tuple(math.ceil((n + 2) / 4) for n in self.shape)
        c0, c1, c2 = channels
        self.c0 = c0
        self.project = nn.Sequential(nn.Linear(latent_dim + 1, c0 * math.prod(self.start)), nn.LeakyReLU(slope))
        last_kernel = tuple(4 * s - n + 1 for s, n in zip(self.start, self.shape))
        self.body = nn.Sequential(UpConv3d(c0, c1, 2, slope), UpConv3d(c1, c2, 2, slope),
                                  nn.Conv3d(c2, 1, last_kernel), nn.ReLU())

    @classmethod
    def from_detector(cls, detector, **kwargs) -> IldGenerator:
        """Sized for ``detector``'s voxel grid, with its readout threshold (in its energy units)."""
        kwargs.setdefault("threshold", cell_threshold(detector))
        return cls(voxel_shape(detector), **kwargs)

    def forward(self, z: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
        h = torch.cat([z, energy.reshape(-1, 1) / ENERGY_SCALE_GEV], dim=1)
        return self.body(self.project(h).view(-1, self.c0, *self.start)).squeeze(1)

    @torch.no_grad()
    def sample(self, z: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
        """Generated showers with the readout threshold applied (cells below it set to 0)."""
        return apply_cell_threshold(self(z, energy), self.threshold)


class IldCritic(nn.Module):
    """Critic: conv 3×3×3 /2 → conv /2 (layer norm) → conv (valid, layer norm) → flatten,
    concatenated with ``E/100`` → Dense 256 → 1 (an unbounded Wasserstein score)."""

    def __init__(self, shape: Sequence[int] = (30, 30, 30), channels: Sequence[int] = (16, 32, 64),
                 hidden: int = 256, slope: float = 0.2):
        super().__init__()
        self.shape = tuple(shape)
        c1, c2, c3 = channels
        size = [(n + 2 - 3) // 2 + 1 for n in self.shape]
        size = [(n + 2 - 3) // 2 + 1 for n in size]
        size = [n - 2 for n in size]
        self.features = nn.Sequential(DownConv3d(1, c1, 2, 1, norm=False, slope=slope),
                                      DownConv3d(c1, c2, 2, 1, slope=slope),
                                      DownConv3d(c2, c3, 1, 0, slope=slope), nn.Flatten())
        self.score = nn.Sequential(nn.Linear(c3 * math.prod(size) + 1, hidden), nn.LeakyReLU(slope),
                                   nn.Linear(hidden, 1))

    @classmethod
    def from_detector(cls, detector, **kwargs) -> IldCritic:
        return cls(voxel_shape(detector), **kwargs)

    def forward(self, showers: torch.Tensor, energy: torch.Tensor) -> torch.Tensor:
        h = self.features(showers.unsqueeze(1))
        return self.score(torch.cat([h, energy.reshape(-1, 1) / ENERGY_SCALE_GEV], dim=1)).squeeze(1)


def wgan_critic_loss(critic: IldCritic, real: torch.Tensor, fake: torch.Tensor, energy: torch.Tensor, *,
                     gp_weight: float = 10.0, generator: torch.Generator | None = None) -> GanLoss:
    """``C(fake) − C(real) + λ GP`` (Gulrajani et al. 2017, Eq. 3; λ = 10); ``fake`` detached,
    generated for the same incident ``energy`` as ``real``."""
    distance = critic(real, energy).mean() - critic(fake, energy).mean()
    penalty = gradient_penalty(critic, real, fake, energy, generator=generator)
    total = -distance + gp_weight * penalty
    return GanLoss(total, {"wasserstein": distance.item(), "gradient_penalty": penalty.item()})


def wgan_generator_loss(critic: IldCritic, fake: torch.Tensor, energy: torch.Tensor) -> GanLoss:
    """``−C(G(z, E))``: the generator raises the critic's score of its showers."""
    total = -critic(fake, energy).mean()
    return GanLoss(total, {"critic_score": -total.item()})
