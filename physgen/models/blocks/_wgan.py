"""3D convolution blocks and the gradient penalty for the ILD WGAN-GP (Gulrajani et al. 2017)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DownConv3d", "UpConv3d", "gradient_penalty"]


class UpConv3d(nn.Module):
    """Nearest ×``scale`` upsampling then a 3×3×3 "same" convolution, batch norm, LeakyReLU.

    Upsample + conv instead of a transposed convolution avoids checkerboard artefacts in the
    sparse shower images (Odena, Dumoulin, Olah 2016, "Deconvolution and checkerboard artifacts").
    """

    def __init__(self, in_channels: int, out_channels: int, scale: int = 2, slope: float = 0.2):
        super().__init__()
        self.scale = scale
        self.conv = nn.Conv3d(in_channels, out_channels, 3, padding=1)
        self.norm = nn.BatchNorm3d(out_channels)
        self.act = nn.LeakyReLU(slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.scale > 1:
            x = F.interpolate(x, scale_factor=self.scale, mode="nearest")
        return self.act(self.norm(self.conv(x)))


class DownConv3d(nn.Module):
    """3×3×3 convolution, layer norm, LeakyReLU: a WGAN-GP critic block.

    The critic must not use batch norm — the gradient penalty is per sample (Gulrajani 2017,
    §4) — so it normalises each sample over (channels, voxels): ``GroupNorm`` with one group,
    i.e. layer norm with a per-channel affine. Paper 004's shower classifier uses the same
    pattern (3×3×3 convs, layer norm in between).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 2, padding: int = 1,
                 norm: bool = True, slope: float = 0.2):
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, 3, stride=stride, padding=padding)
        self.norm = nn.GroupNorm(1, out_channels) if norm else nn.Identity()
        self.act = nn.LeakyReLU(slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


def gradient_penalty(critic, real: torch.Tensor, fake: torch.Tensor, *conditions: torch.Tensor,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    """WGAN-GP penalty ``E[(‖∇_x̂ C(x̂)‖₂ − 1)²]`` at ``x̂ = ε x_real + (1 − ε) x_fake``,
    ``ε ~ U[0, 1]`` per sample (Gulrajani et al. 2017, arXiv:1704.00028, Eq. 3). The caller
    multiplies by λ (10 in the paper). ``conditions`` are passed to the critic unchanged."""
    eps = torch.rand((real.shape[0],) + (1,) * (real.ndim - 1), generator=generator,
                     device=real.device, dtype=real.dtype)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    score = critic(mixed, *conditions)
    (grad,) = torch.autograd.grad(score.sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
