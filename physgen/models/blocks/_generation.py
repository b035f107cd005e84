"""Generator-side building blocks: conditioning, fixed blur, layer-to-layer attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from physgen.models.blocks._local import LocallyConnected2d

__all__ = [
    "ClassEmbedding",
    "FixedBlur2d",
    "LayerAttention",
    "apply_cell_threshold",
    "energy_conditioned",
    "resize_cells",
]

ENERGY_SCALE_GEV = 100.0
"""CaloGAN scales the latent vector by ``E / 100 GeV`` (paper 001; 1–100 GeV beams)."""


class ClassEmbedding(nn.Module):
    """Hadamard product of the latent vector with a trainable embedding of the class (paper 000).

    ``z ⊙ embed(class)``: LAGAN's signal/background conditioning (ACGAN-style, Odena 2016),
    embedding initialised Glorot-normal as the original Keras code.
    """

    def __init__(self, n_classes: int, latent_dim: int):
        super().__init__()
        self.embed = nn.Embedding(n_classes, latent_dim)
        nn.init.xavier_normal_(self.embed.weight)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return z * self.embed(labels.long())


def energy_conditioned(z: torch.Tensor, energy: torch.Tensor, scale: float = ENERGY_SCALE_GEV) -> torch.Tensor:
    """``z · E / scale`` — CaloGAN's energy conditioning (paper 001): a 1–100 GeV request
    scales the latent vector linearly; ``energy`` is ``(B,)`` or ``(B, 1)`` in GeV."""
    return z * (energy.reshape(-1, 1) / scale)


class FixedBlur2d(nn.Module):
    """Non-trainable box blur of an ``n × m`` cell window (paper 003, §6.1).

    Weights fixed at ``1 / (n m)`` (a buffer, not a parameter, so optimisers never see it);
    zero padding keeps the grid size ("same"; the extra cell of an even kernel goes after).
    Applied per channel. Models detector smearing so the network need not learn it.
    """

    def __init__(self, kernel_size: tuple[int, int], channels: int = 1):
        super().__init__()
        n, m = kernel_size
        self.kernel_size, self.channels = (n, m), channels
        self.register_buffer("weight", torch.full((channels, 1, n, m), 1.0 / (n * m)))
        self._pad = ((m - 1) // 2, m // 2, (n - 1) // 2, n // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.pad(x, self._pad), self.weight, groups=self.channels)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, channels={self.channels}"


def resize_cells(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Map one calorimeter layer's grid onto another's covering the same window.

    Per axis: nearest-neighbour repeat up to ``max(n_in, n_out)`` cells, then average-pool down
    to ``n_out`` — for the CaloGAN layers (3×96 → 12×12: repeat 4 rows, average 8 columns;
    12×12 → 12×6: average 2 columns) exactly the original code's
    ``UpSampling2D``/``AveragePooling2D`` pair.
    """
    up = (max(x.shape[2], size[0]), max(x.shape[3], size[1]))
    if up != tuple(x.shape[2:]):
        x = F.interpolate(x, size=up, mode="nearest")
    return x if up == tuple(size) else F.adaptive_avg_pool2d(x, size)


class LayerAttention(nn.Module):
    """Attention that carries layer ``i``'s output into layer ``i+1`` (paper 001; paper 003).

    The previous layer is resized onto this layer's grid (:func:`resize_cells`); a 3×3 layer
    over both maps gives two per-cell logits, softmax over them gives per-cell weights, and
    the output is the weighted sum of the two maps — each cell chooses how much to copy of
    the layer in front. ``local=True`` uses a locally-connected 3×3 layer (paper 001's
    location-aware version), ``False`` a convolution (paper 003's fully-convolutional one).
    """

    def __init__(self, size: tuple[int, int], local: bool = False):
        super().__init__()
        self.size = tuple(size)
        self.mix = (LocallyConnected2d(2, 2, self.size, 3, padding=1) if local
                    else nn.Conv2d(2, 2, 3, padding=1))

    def forward(self, current: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        both = torch.cat([current, resize_cells(previous, self.size)], dim=1)
        weights = torch.softmax(self.mix(both), dim=1)
        return (both * weights).sum(dim=1, keepdim=True)


def apply_cell_threshold(x: torch.Tensor, threshold: float) -> torch.Tensor:
    """Zero every cell below ``threshold`` (same units as ``x``): the detector's readout cut,
    e.g. the ILD 0.1 MeV MIP cut (paper 004) applied to generated showers at sampling."""
    return torch.where(x >= threshold, x, torch.zeros_like(x))
