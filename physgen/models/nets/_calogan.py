"""CaloGAN (Paganini, de Oliveira, Nachman, arXiv:1705.02355, 1712.10321) and its conditional
version (de Oliveira, Paganini, Nachman, paper 003).

One generator stream per readout layer, energy conditioning ``z · E/100``, attention that
carries layer ``i`` into layer ``i+1``, ReLU outputs; a discriminator with per-layer
features, minibatch discrimination, (soft) sparsity, the layer energies, ``|E_tot − E_req|``
and a flag above 5 GeV (docs/PHYSICS.md §2; hep-lbdl/CaloGAN ``models/train.py``).

Units: cell energies and the requested energy in **GeV** inside the nets (the original
divides the MeV cells by 1000); the training recipe converts store units on the way in/out.
Conditional attributes ``(x0, y0, θ, φ)`` are expected standardised (order 1) by the recipe.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from physgen.models.blocks import (
    ClassEmbedding,
    FixedBlur2d,
    LayerAttention,
    LocallyConnected2d,
    MinibatchDiscrimination,
    ShowerFeatures,
    energy_conditioned,
    energy_normalised_cells,
    flip_labels,
    soft_sparsity,
    sparsity,
    thresholded_softmax,
)
from physgen.models.blocks._generation import ENERGY_SCALE_GEV
from physgen.models.nets._common import KERAS_LEAKY_SLOPE, GanLoss, batch_norm2d, bce, class_loss
from physgen.models.nets._shapes import layer_shapes

__all__ = [
    "CaloGanDiscriminator",
    "CaloGanGenerator",
    "CaloGanNormalisedGenerator",
    "CaloGanPhysicsDiscriminator",
    "CaloGanScores",
    "ConditionalCaloGanDiscriminator",
    "ConditionalCaloGanGenerator",
    "calogan_discriminator_loss",
    "calogan_generator_loss",
]

ENERGY_WELL_CUT_GEV = 5.0
"""The discriminator is told when ``|E_tot − E_req|`` exceeds 5 GeV (original code)."""


class _Stream(nn.Module):
    """One layer's generator stream: dense → (C0, H+2, W+2) → conv 16 3×3 → LC 6 2×2 → LC 1 2×2.

    ``local=False`` (paper 003) uses convolutions for the two locally-connected layers.
    Output is linear (ReLU comes after attention and blur).
    """

    def __init__(self, in_features: int, size: tuple[int, int], dense_channels: int, conv_channels: int,
                 lc_channels: int, local: bool, slope: float):
        super().__init__()
        h, w = size
        self.start = (dense_channels, h + 2, w + 2)
        self.project = nn.Linear(in_features, dense_channels * (h + 2) * (w + 2))

        def lc(c_in, c_out, in_size, bias=True):
            if local:
                return LocallyConnected2d(c_in, c_out, in_size, 2, bias=bias)
            return nn.Conv2d(c_in, c_out, 2, bias=bias)

        self.body = nn.Sequential(
            nn.Conv2d(dense_channels, conv_channels, 3, padding=1), nn.LeakyReLU(slope), batch_norm2d(conv_channels),
            lc(conv_channels, lc_channels, (h + 2, w + 2)), nn.LeakyReLU(slope), batch_norm2d(lc_channels),
            lc(lc_channels, 1, (h + 1, w + 1), bias=False),
        )

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.body(self.project(h).view(-1, *self.start))


class CaloGanGenerator(nn.Module):
    """CaloGAN generator: ``h = z · E/100`` (⊙ class embedding when ``n_classes > 1``; with
    ``n_attributes`` extra conditions concatenated, paper 003) → one :class:`_Stream` per layer
    → attention ``i → i+1`` (:class:`LayerAttention`) → optional fixed blur per layer → ReLU.

    ``forward(z, energy[, attributes][, labels])`` returns a tuple of ``(B, H_i, W_i)`` tensors.
    ``dense_channels`` (36) is the released code's projection depth; the paper's figure has
    conv 16 → LC 6 → LC 1 after it.
    """

    def __init__(self, layer_sizes: Sequence[tuple[int, int]], latent_dim: int = 1024, n_classes: int = 1,
                 n_attributes: int = 0, dense_channels: int = 36, conv_channels: int = 16, lc_channels: int = 6,
                 local: bool = True, attention: bool = True, local_attention: bool | None = None,
                 blur: Sequence[tuple[int, int] | None] | None = None, slope: float = KERAS_LEAKY_SLOPE):
        super().__init__()
        self.layer_sizes = [tuple(s) for s in layer_sizes]
        self.latent_dim, self.n_classes, self.n_attributes = latent_dim, n_classes, n_attributes
        self.embed = ClassEmbedding(n_classes, latent_dim) if n_classes > 1 else None
        self.streams = nn.ModuleList(
            _Stream(latent_dim + n_attributes, s, dense_channels, conv_channels, lc_channels, local, slope)
            for s in self.layer_sizes)
        local_attention = local if local_attention is None else local_attention
        self.attention = nn.ModuleList(LayerAttention(s, local_attention) for s in self.layer_sizes[1:]) \
            if attention else None
        blur = blur or [None] * len(self.layer_sizes)
        if len(blur) != len(self.layer_sizes):
            msg = f"blur needs one entry (kernel or None) per layer ({len(self.layer_sizes)}), got {len(blur)}"
            raise ValueError(msg)
        self.blur = nn.ModuleList(nn.Identity() if b is None else FixedBlur2d(tuple(b)) for b in blur)

    @classmethod
    def from_detector(cls, detector, **kwargs):
        """Sized for the readout layers of ``detector`` (a layered calorimeter spec)."""
        return cls(layer_shapes(detector), **kwargs)

    def forward(self, z: torch.Tensor, energy: torch.Tensor, attributes: torch.Tensor | None = None,
                labels: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        h = energy_conditioned(z if self.embed is None else self.embed(z, labels), energy)
        if self.n_attributes:
            h = torch.cat([h, attributes.reshape(-1, self.n_attributes)], dim=1)
        images = [stream(h) for stream in self.streams]
        if self.attention is not None:
            for i, attend in enumerate(self.attention, start=1):
                images[i] = attend(images[i], images[i - 1])
        return tuple(F.relu(blur(x)).squeeze(1) for blur, x in zip(self.blur, images))


class _LayerFeatures(nn.Module):
    """Per-layer discriminator features: conv 16 3×3 → conv 32 3×3 /(1,2) → 64 2×2 → 128 2×2
    (LeakyReLU, batch norm; ``local=True`` makes the last two locally connected), flattened."""

    def __init__(self, size: tuple[int, int], channels: Sequence[int], local: bool, slope: float):
        super().__init__()
        c1, c2, c3, c4 = channels
        s2 = (size[0], (size[1] + 2 - 3) // 2 + 1)
        s3 = (s2[0] - 1, s2[1] - 1)
        s4 = (s3[0] - 1, s3[1] - 1)

        def two_by_two(c_in, c_out, in_size):
            return LocallyConnected2d(c_in, c_out, in_size, 2) if local else nn.Conv2d(c_in, c_out, 2)

        self.body = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.LeakyReLU(slope),
            nn.Conv2d(c1, c2, 3, stride=(1, 2), padding=1), nn.LeakyReLU(slope), batch_norm2d(c2),
            two_by_two(c2, c3, s2), nn.LeakyReLU(slope), batch_norm2d(c3),
            two_by_two(c3, c4, s3), nn.LeakyReLU(slope), batch_norm2d(c4),
            nn.Flatten(),
        )
        self.n_features = c4 * s4[0] * s4[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.unsqueeze(1))


class CaloGanScores(NamedTuple):
    """Discriminator outputs: real/fake logit ``(B,)``, class logits (or ``None``), regressed
    attributes ``(B, n_attributes)`` (or ``None``) and the shower's total energy ``(B,)`` (GeV)."""

    adversarial: torch.Tensor
    auxiliary: torch.Tensor | None
    attributes: torch.Tensor | None
    total_energy: torch.Tensor


class CaloGanDiscriminator(nn.Module):
    """CaloGAN discriminator.

    Per layer: :class:`_LayerFeatures`, minibatch discrimination on them (10 × 10, tanh),
    the layer's sparsity (hard, paper 001; or soft, paper 003 — ``soft_sparsity=(α, scale)``)
    and minibatch discrimination on it. Global: layer energies / 10, total energy / 100,
    ``|E_tot − E_req|``, ``10 · 𝕀[|E_tot − E_req| > 5 GeV]`` and minibatch discrimination
    on the layer energies. Heads: real/fake logit, class logits if ``n_classes > 1``, and an
    attribute-regression head Ξ (paper 003, Eq. 3) if ``n_attributes > 0``. The energy
    "head" is the computed total energy, compared with L1 to the request in the loss.
    """

    def __init__(self, layer_sizes: Sequence[tuple[int, int]], n_classes: int = 1, n_attributes: int = 0,
                 channels: Sequence[int] = (16, 32, 64, 128), local: bool = False, mbd_kernels: int = 10,
                 mbd_dims: int = 10, soft_sparsity: tuple[float, float] | None = None,
                 slope: float = KERAS_LEAKY_SLOPE):
        super().__init__()
        self.layer_sizes = [tuple(s) for s in layer_sizes]
        self.soft = soft_sparsity
        self.layers = nn.ModuleList(_LayerFeatures(s, channels, local, slope) for s in self.layer_sizes)
        self.feature_mbd = nn.ModuleList(MinibatchDiscrimination(f.n_features, mbd_kernels, mbd_dims, squash=True)
                                         for f in self.layers)
        self.sparsity_mbd = nn.ModuleList(MinibatchDiscrimination(1, mbd_kernels, mbd_dims, squash=True)
                                          for _ in self.layers)
        n_layers = len(self.layer_sizes)
        self.energy_mbd = MinibatchDiscrimination(n_layers, mbd_kernels, mbd_dims, squash=True)
        n_features = sum(f.n_features + 2 * mbd_kernels + 1 for f in self.layers) + n_layers + 3 + mbd_kernels
        self.adversarial = nn.Linear(n_features, 1)
        self.auxiliary = nn.Linear(n_features, 1 if n_classes == 2 else n_classes) if n_classes > 1 else None
        self.regression = nn.Linear(n_features, n_attributes) if n_attributes > 0 else None

    @classmethod
    def from_detector(cls, detector, **kwargs):
        return cls(layer_shapes(detector), **kwargs)

    def _sparsity(self, x: torch.Tensor) -> torch.Tensor:
        return sparsity(x) if self.soft is None else soft_sparsity(x, *self.soft)

    def forward(self, layers: Sequence[torch.Tensor], energy: torch.Tensor) -> CaloGanScores:
        parts, energies = [], []
        for x, featurise, mbd, smbd in zip(layers, self.layers, self.feature_mbd, self.sparsity_mbd):
            f = featurise(x)
            s = self._sparsity(x)
            parts += [f, mbd(f), s, smbd(s)]
            energies.append(x.flatten(1).sum(dim=1, keepdim=True))
        energies = torch.cat(energies, dim=1)
        total = energies.sum(dim=1, keepdim=True)
        well = (total - energy.reshape(-1, 1)).abs()
        too_big = 10.0 * (well > ENERGY_WELL_CUT_GEV).to(well.dtype)
        parts += [energies / 10.0, total / 100.0, well, too_big, self.energy_mbd(energies)]
        h = torch.cat(parts, dim=1)
        aux = None if self.auxiliary is None else self.auxiliary(h)
        if aux is not None and aux.shape[1] == 1:
            aux = aux.squeeze(1)
        attrs = None if self.regression is None else self.regression(h)
        return CaloGanScores(self.adversarial(h).squeeze(1), aux, attrs, total.squeeze(1))


class CaloGanNormalisedGenerator(nn.Module):
    """Compact CaloGAN generator with an energy-normalised output (``generator: normalised``).

    A dense trunk reads ``(z, ln(E/100 GeV))`` and three heads split the energy budget top-down
    (:func:`~physgen.models.blocks.energy_normalised_cells`): the response R = E_tot/E_inc
    (``c · (1 + r tanh)``, by default ``c, r = 1, 0.05``: the showers of 1–100 GeV e+/γ deposit 98–102 %
    of their energy in the CaloGAN total readout, docs/PHYSICS.md §2; an active-only readout sets ``c`` to
    its sampling fraction), the layer fractions (softmax) and per layer a cell pattern
    ``ReLU(w − t)``: ``w`` a softmax over the layer's cells (weights spanning decades) and ``t`` one
    threshold per layer and shower, ``e^{−softplus(c)}`` times the hottest weight — exact zeros below
    it. The threshold is one conditioned output, so the sparsity follows the incident energy and
    receives the discriminator's gradient through every cell near it (a per-cell cut would leave a
    zero cell without any). The streams of the paper's generator (dense → conv → locally connected) set
    every cell's energy independently, so the shower's total and the per-layer split, the
    quantities the response and the layer-energy figures measure, have to be learnt as sums of
    hundreds of cells; here they are single outputs.

    ``dense_conditioning``: the energy enters as ln(E/100), E/100 and √(E/100) beside the input of
    every dense layer and the heads, not only beside z (the sparsity and the layer fractions follow
    the incident energy closely).

    ``n_attributes`` standardised conditions beside the energy (paper 003's x0, y0, θ, φ) enter
    wherever the energy does.

    ``forward(z, energy, attributes=None)`` returns ``(B, H_i, W_i)`` tensors in GeV, like
    :class:`CaloGanGenerator`; :meth:`split` also returns the response and fractions.
    """

    def __init__(self, layer_sizes: Sequence[tuple[int, int]], latent_dim: int = 64,
                 hidden: Sequence[int] = (512, 512), dense_conditioning: bool = False,
                 response: tuple[float, float] = (1.0, 0.05), n_attributes: int = 0, slope: float = 0.2):
        super().__init__()
        self.response_centre, self.response_range = response
        self.layer_sizes = [tuple(s) for s in layer_sizes]
        self.latent_dim, self.dense_conditioning, self.n_attributes = latent_dim, dense_conditioning, n_attributes
        n_conditions = (3 if dense_conditioning else 1) + n_attributes
        extra = n_conditions if dense_conditioning else 0
        self.trunk, width = nn.ModuleList(), latent_dim + n_conditions  # (linear, activation) pairs
        for h in hidden:
            self.trunk.extend([nn.Linear(width, h), nn.LeakyReLU(slope)])
            width = h + extra
        self.response = nn.Linear(width, 1)
        self.fractions = nn.Linear(width, len(self.layer_sizes))
        self.patterns = nn.ModuleList(nn.Linear(width, h * w) for h, w in self.layer_sizes)
        self.thresholds = nn.Linear(width, len(self.layer_sizes))
        nn.init.constant_(self.thresholds.bias, 5.0)  # start at e^-5 of the hottest cell: most cells on

    @torch.no_grad()
    def start_from(self, layers: Sequence[torch.Tensor], energy: torch.Tensor) -> None:
        """Set the heads' biases so that the untrained generator emits the average of these (real)
        showers: the mean response, the log of the mean layer fractions and of each layer's mean
        normalised cell pattern (cells never hit get 1e-6 of the hottest), the pattern threshold far
        below its tail (e^-14 of the hottest cell), the hidden state's contributions scaled down ×0.1.
        A shower of thousands of cells then starts with the right
        energy in the right cells, instead of a flat pattern whose cells all sit under a readout cut."""
        totals = torch.stack([c.flatten(1).sum(1) for c in layers], dim=1)
        total = totals.sum(1)
        response = (total / energy.reshape(-1)).mean() / self.response_centre
        self.response.bias.fill_(float(torch.atanh(((response - 1) / self.response_range).clamp(-0.9, 0.9))))
        self.fractions.bias.copy_(torch.log((totals / total[:, None]).mean(0) + 1e-6))
        for head, cells, layer_total in zip(self.patterns, layers, totals.unbind(1), strict=True):
            pattern = (cells.flatten(1) / layer_total.clamp_min(1e-30)[:, None]).mean(0)
            head.bias.copy_(torch.log(pattern + 1e-6 * pattern.max()))
        self.thresholds.bias.fill_(14.0)  # e^-14 of the hottest cell: the pattern's own tail is not cut
        for head in (self.response, self.fractions, *self.patterns, self.thresholds):
            head.weight.mul_(0.1)

    def split(self, z: torch.Tensor, energy: torch.Tensor, attributes: torch.Tensor | None = None
              ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
        """``(response (B,), fractions (B, layers), cells per layer)``."""
        energy = energy.reshape(-1)
        e = energy.unsqueeze(1) / ENERGY_SCALE_GEV
        e = torch.cat([torch.log(e), e, e.sqrt()], dim=1) if self.dense_conditioning else torch.log(e)
        if self.n_attributes:
            e = torch.cat([e, attributes.reshape(-1, self.n_attributes)], dim=1)
        h = torch.cat([z, e], dim=1)
        for layer, activation in zip(self.trunk[::2], self.trunk[1::2], strict=True):
            h = activation(layer(h))
            if self.dense_conditioning:
                h = torch.cat([h, e], dim=1)
        response = self.response_centre * (1.0 + self.response_range * torch.tanh(self.response(h).squeeze(1)))
        fractions = torch.softmax(self.fractions(h), dim=1)
        patterns = []
        for head, size, cut in zip(self.patterns, self.layer_sizes, self.thresholds(h).unbind(1), strict=True):
            patterns.append(thresholded_softmax(head(h), cut).view(-1, *size))
        return response, fractions, energy_normalised_cells(energy, response, fractions, patterns)

    def forward(self, z: torch.Tensor, energy: torch.Tensor, attributes: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, ...]:
        return self.split(z, energy, attributes)[2]


class CaloGanPhysicsDiscriminator(nn.Module):
    """Compact CaloGAN discriminator that sees the shower's physics (``discriminator: physics``).

    Inputs: the high-level features the quality classifier uses (:class:`ShowerFeatures`, in the
    graph, so the generator gets their gradients) — incident energy, layer energies, fractions,
    E_tot/E_inc, shower depth and width, centroids, lateral widths, hard and soft sparsity,
    E_ratio — logs of the energies, each standardised with the mean and spread of the first real
    batch (:meth:`fit`, kept in the state); minibatch discrimination on all of them
    (``mbd_kernels × mbd_dims``) and a smaller one on each feature group (``group_mbd``, as
    CaloGAN's on the layer energies; minibatch discrimination is most of this net's cost); and,
    unless ``cells=0``, a dense projection of every cell's ``ln(1 + E/0.1 MeV)``. A dense head on
    all of it gives the logit and, with ``n_attributes``, paper 003's attribute regression Ξ
    (x0, y0, θ, φ regressed from the same last hidden layer).
    Returns :class:`CaloGanScores` (total energy for the loss's energy term).
    """

    GROUPS = ("energy", "layer_energy", "energy_fraction", "total_over_incident", "shower_depth",
              "shower_depth_width", "centroid_x", "centroid_y", "width_x", "width_y", "sparsity_calogan",
              "soft_sparsity", "e_ratio")
    CELL_SCALE_GEV = 1e-4

    def __init__(self, layer_sizes: Sequence[tuple[int, int]], centres: Sequence[tuple[torch.Tensor, torch.Tensor]],
                 hidden: Sequence[int] = (256, 256), cells: int = 128, mbd_kernels: int = 10, mbd_dims: int = 10,
                 group_mbd: tuple[int, int] = (3, 5), soft_sparsity: tuple[float, float] = (2.0, 1e-7),
                 n_attributes: int = 0, slope: float = 0.2):
        super().__init__()
        self.layer_sizes = [tuple(s) for s in layer_sizes]
        n = len(self.layer_sizes)
        self.features = ShowerFeatures(centres, soft_sparsity)
        self.widths = self.group_widths(n)
        width = sum(self.widths)
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("std", torch.ones(width))
        self.register_buffer("fitted", torch.tensor(False))
        group_kernels, group_dims = group_mbd
        self.group_mbd = nn.ModuleList(MinibatchDiscrimination(w, group_kernels, group_dims, squash=True)
                                       for w in self.widths) if group_kernels else nn.ModuleList()
        self.all_mbd = MinibatchDiscrimination(width, mbd_kernels, mbd_dims, squash=True)
        n_cells = sum(h * w for h, w in self.layer_sizes)
        self.cells = nn.Sequential(nn.Linear(n_cells, cells), nn.LeakyReLU(slope)) if cells else None
        blocks, w = [], width + mbd_kernels + group_kernels * len(self.GROUPS) + cells
        for h in hidden:
            blocks += [nn.Linear(w, h), nn.LeakyReLU(slope)]
            w = h
        self.head = nn.Sequential(*blocks, nn.Linear(w, 1))
        self.regression = nn.Linear(w, n_attributes) if n_attributes > 0 else None

    @classmethod
    def group_widths(cls, n_layers: int) -> list[int]:
        """Columns of each of :attr:`GROUPS` in the feature vector: one per shower or one per layer."""
        return [1 if g in ("energy", *ShowerFeatures.PER_SHOWER) else n_layers for g in cls.GROUPS]

    def _raw(self, layers: Sequence[torch.Tensor], energy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(layers, energy)
        f["energy"] = torch.log(energy.reshape(-1))
        f["layer_energy"] = torch.log(f["layer_energy"] + self.CELL_SCALE_GEV)
        f["energy_fraction"] = torch.log(f["energy_fraction"] + 1e-5)
        columns = [f[g].reshape(len(energy), -1) for g in self.GROUPS]
        return torch.cat(columns, dim=1), f["total_energy"]

    @torch.no_grad()
    def fit(self, layers: Sequence[torch.Tensor], energy: torch.Tensor) -> None:
        """Standardise the features with the mean and spread of these (real) showers."""
        raw, _ = self._raw(layers, energy)
        self.mean.copy_(raw.mean(dim=0))
        self.std.copy_(raw.std(dim=0).clamp_min(1e-6))
        self.fitted.fill_(True)

    def standardised(self, layers: Sequence[torch.Tensor], energy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The standardised feature vectors ``(B, features)`` and the total energies ``(B,)``."""
        raw, total = self._raw(layers, energy)
        return (raw - self.mean) / self.std, total

    def forward(self, layers: Sequence[torch.Tensor], energy: torch.Tensor) -> CaloGanScores:
        x, total = self.standardised(layers, energy)
        parts = [x, self.all_mbd(x)]
        if len(self.group_mbd):
            parts += [mbd(g) for mbd, g in zip(self.group_mbd, torch.split(x, self.widths, dim=1), strict=True)]
        if self.cells is not None:
            cells = torch.cat([torch.log1p(c.flatten(1) / self.CELL_SCALE_GEV) for c in layers], dim=1)
            parts.append(self.cells(cells / 10))
        h = self.head[:-1](torch.cat(parts, dim=1))
        attributes = self.regression(h) if self.regression is not None else None
        return CaloGanScores(self.head[-1](h).squeeze(1), None, attributes, total)


class ConditionalCaloGanGenerator(CaloGanGenerator):
    """Paper 003's generator: conditioned on ξ = (E, x0, y0, θ, φ) — E scales z, the four
    standardised attributes are concatenated — with convolutions in place of the
    locally-connected layers (translation invariance for varying impact points), convolutional
    attention, and a fixed blur. The paper does not say which layers are blurred; by default
    the fine 5 mm strips of the first layer (3×96) get a 1×3 blur along the strips, where
    the cell pitch is far below the Molière radius (≈ 4 cm) and smearing is physical."""

    def __init__(self, layer_sizes: Sequence[tuple[int, int]], latent_dim: int = 1024, n_attributes: int = 4,
                 blur: Sequence[tuple[int, int] | None] | None = None, **kwargs):
        if blur is None:
            blur = [(1, 3)] + [None] * (len(layer_sizes) - 1)
        super().__init__(layer_sizes, latent_dim, n_attributes=n_attributes, local=False, blur=blur, **kwargs)


class ConditionalCaloGanDiscriminator(CaloGanDiscriminator):
    """Paper 003's discriminator: CaloGAN's, with soft sparsity (raw and through minibatch
    discrimination) and the attribute-regression head Ξ for (x0, y0, θ, φ)."""

    def __init__(self, layer_sizes: Sequence[tuple[int, int]], n_attributes: int = 4,
                 soft_sparsity: tuple[float, float] = (4.0, 1e-3), **kwargs):
        super().__init__(layer_sizes, n_attributes=n_attributes, soft_sparsity=soft_sparsity, **kwargs)


def _attribute_loss(predicted: torch.Tensor, target: torch.Tensor, weights: Sequence[float] | None) -> torch.Tensor:
    """``λᵀ E|ξ − Ξ(x)|`` (paper 003, Eq. 3), per-attribute weights λ (default all 1)."""
    per_attribute = (predicted - target).abs().mean(dim=0)
    lam = torch.ones_like(per_attribute) if weights is None else torch.as_tensor(weights, dtype=per_attribute.dtype)
    return (lam * per_attribute).sum()


def calogan_discriminator_loss(discriminator: CaloGanDiscriminator, real: Sequence[torch.Tensor],
                               real_energy: torch.Tensor, fake: Sequence[torch.Tensor], fake_energy: torch.Tensor, *,
                               energy_weight: float = 0.05, real_attributes: torch.Tensor | None = None,
                               attribute_weights: Sequence[float] | None = None,
                               real_labels: torch.Tensor | None = None, fake_labels: torch.Tensor | None = None,
                               aux_weight: float = 0.2, aux_flip: float = 0.3,
                               generator: torch.Generator | None = None) -> GanLoss:
    """Discriminator loss of CaloGAN / conditional CaloGAN, separate real and fake batches.

    ``BCE(real → 1) + BCE(fake → 0)`` plus ``λ_E |E_tot − E_req|`` (λ_E = 0.05; it has no
    discriminator parameters but is reported, as the original's ``mae`` output), the ACGAN
    class loss (weight 0.2, fake labels 30 % flipped) when the discriminator has a class head,
    and paper 003's attribute loss ``L_ξ`` on the real batch when it has a regression head.
    Mean over the real and fake batch. ``fake`` should be detached.
    """
    sr, sf = discriminator(real, real_energy), discriminator(fake, fake_energy)
    adversarial = 0.5 * (bce(sr.adversarial, 1.0) + bce(sf.adversarial, 0.0))
    energy = 0.5 * ((sr.total_energy - real_energy.reshape(-1)).abs().mean()
                    + (sf.total_energy - fake_energy.reshape(-1)).abs().mean())
    total = adversarial + energy_weight * energy
    parts = {"adversarial": adversarial.item(), "energy": energy.item()}
    if sr.auxiliary is not None:
        flipped = flip_labels(fake_labels.float(), aux_flip, generator) if sf.auxiliary.ndim == 1 else fake_labels
        aux = 0.5 * (class_loss(sr.auxiliary, real_labels) + class_loss(sf.auxiliary, flipped))
        total = total + aux_weight * aux
        parts["auxiliary"] = aux.item()
    if sr.attributes is not None:
        attrs = _attribute_loss(sr.attributes, real_attributes, attribute_weights)
        total = total + attrs
        parts["attributes"] = attrs.item()
    return GanLoss(total, parts)


def calogan_generator_loss(discriminator: CaloGanDiscriminator, fake: Sequence[torch.Tensor],
                           requested_energy: torch.Tensor, *, energy_weight: float = 0.05,
                           requested_attributes: torch.Tensor | None = None,
                           attribute_weights: Sequence[float] | None = None,
                           sampled_labels: torch.Tensor | None = None, aux_weight: float = 0.2) -> GanLoss:
    """Generator loss: non-saturating ``BCE(fake → 1)`` + ``λ_E |E_tot − E_req|`` (paper 001,
    λ_E = 0.05) [+ class loss] [+ paper 003's ``L_ξ`` on the requested attributes]: the
    generator minimises ``L_G + L_ξ + λ_E L_E`` (paper 003 §4)."""
    s = discriminator(fake, requested_energy)
    adversarial = bce(s.adversarial, 1.0)
    energy = (s.total_energy - requested_energy.reshape(-1)).abs().mean()
    total = adversarial + energy_weight * energy
    parts = {"adversarial": adversarial.item(), "energy": energy.item()}
    if s.auxiliary is not None:
        aux = class_loss(s.auxiliary, sampled_labels)
        total = total + aux_weight * aux
        parts["auxiliary"] = aux.item()
    if s.attributes is not None:
        attrs = _attribute_loss(s.attributes, requested_attributes, attribute_weights)
        total = total + attrs
        parts["attributes"] = attrs.item()
    return GanLoss(total, parts)
