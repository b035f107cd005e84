"""Calorimeter-shower pieces in torch: the high-level shower features, differentiably, and cells
that carry a requested energy response exactly.

:class:`ShowerFeatures` computes, inside the graph, the shower shapes that
:mod:`physgen.observables.calo` computes from stores (the CaloGAN analysis, docs/PHYSICS.md §2):
layer energies E_i, fractions E_i/E_tot, E_tot/E_inc, the shower depth Σ i·E_i/E_tot and its width,
the energy-weighted centroid and width per layer along x and y, the fraction of cells above zero
(CaloGAN's sparsity; also a soft, differentiable version, paper 003 Eqs. 5–6) and E_ratio of the two
hottest cells. The definitions are those of the observables module, which stays the one reference:
``tests/test_calogan_compact.py`` checks the two against each other on simulated showers.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from physgen.models.blocks._discrimination import soft_sparsity, sparsity
from physgen.models.blocks._safe import safe_ratio, safe_sqrt

__all__ = ["ShowerFeatures", "energy_normalised_cells", "thresholded_softmax"]


TINY = 1e-12
"""Denominators (energies) and variances at or below this are taken as zero. In any unit the nets use (GeV,
MeV; mm²) it is far below a real deposit, and it keeps 1/den and 1/√x finite: a generated layer holding
1e-39 GeV (a softmax fraction that underflowed) otherwise sent ±inf gradients through the centroids,
whose sum is NaN (a compact γ CaloGAN stopped so at step 5491)."""

_ratio = partial(safe_ratio, tiny=TINY)
_sqrt0 = partial(safe_sqrt, tiny=TINY)


class ShowerFeatures(nn.Module):
    """High-level features of showers read out in layers, ``forward(layers, energy) → {name: tensor}``.

    ``layers``: the cells of each layer ``(B, rows, cols)`` front to back, all in one energy unit;
    ``energy``: the incident energy ``(B,)`` in the same unit. ``centres``: per layer the cell-centre
    coordinates ``(y (rows,), x (cols,))`` in mm (the store's coordinates). Per-layer features are
    ``(B, layers)``, per-shower ones ``(B,)``; their names are the observables' (``soft_sparsity``
    aside, which has no store counterpart: it is the gradient-carrying stand-in for
    ``sparsity_calogan``, ``soft=(α, scale)`` in the cells' unit).
    """

    PER_LAYER = ("layer_energy", "energy_fraction", "centroid_x", "centroid_y", "width_x", "width_y",
                 "sparsity_calogan", "soft_sparsity", "e_ratio")
    PER_SHOWER = ("total_energy", "total_over_incident", "shower_depth", "shower_depth_width")

    def __init__(self, centres: Sequence[tuple[torch.Tensor, torch.Tensor]], soft: tuple[float, float] = (2.0, 1e-7)):
        super().__init__()
        self.n_layers, self.soft = len(centres), tuple(soft)
        for i, (y, x) in enumerate(centres):  # in the state: a net rebuilt without its store gets them back
            self.register_buffer(f"y{i}", torch.as_tensor(y, dtype=torch.float32))
            self.register_buffer(f"x{i}", torch.as_tensor(x, dtype=torch.float32))

    def _runs(self, layers: Sequence[torch.Tensor]) -> list[range]:
        """Runs of consecutive layers of one grid size (each computed as one batched tensor: the 30
        equal layers of the ILD ECAL in one pass, the three CaloGAN layers one by one)."""
        runs, start = [], 0
        for i in range(1, len(layers) + 1):
            if i == len(layers) or layers[i].shape != layers[start].shape:
                runs.append(range(start, i))
                start = i
        return runs

    def forward(self, layers: Sequence[torch.Tensor], energy: torch.Tensor) -> dict[str, torch.Tensor]:
        per_layer: dict[str, list[torch.Tensor]] = {name: [] for name in self.PER_LAYER}
        for run in self._runs(layers):
            cells = torch.stack([layers[i] for i in run], dim=1)  # (B, L, rows, cols)
            y = torch.stack([getattr(self, f"y{i}") for i in run]).to(cells.dtype)  # (L, rows)
            x = torch.stack([getattr(self, f"x{i}") for i in run]).to(cells.dtype)  # (L, cols)
            e = cells.sum(dim=(2, 3))
            mean_x = _ratio(torch.einsum("blhw,lw->bl", cells, x), e)
            mean_y = _ratio(torch.einsum("blhw,lh->bl", cells, y), e)
            flat = cells.flatten(0, 1)  # (B·L, rows, cols): the per-shower blocks see one layer at a time
            per_layer["layer_energy"].append(e)
            per_layer["centroid_x"].append(mean_x)
            per_layer["centroid_y"].append(mean_y)
            per_layer["width_x"].append(_sqrt0(_ratio(torch.einsum("blhw,lw->bl", cells, x * x), e) - mean_x**2))
            per_layer["width_y"].append(_sqrt0(_ratio(torch.einsum("blhw,lh->bl", cells, y * y), e) - mean_y**2))
            per_layer["sparsity_calogan"].append(sparsity(flat).view_as(e))
            per_layer["soft_sparsity"].append(soft_sparsity(flat, *self.soft).view_as(e))
            top = torch.topk(cells.flatten(2), 2, dim=2).values
            per_layer["e_ratio"].append(_ratio(top[..., 0] - top[..., 1], top[..., 0] + top[..., 1]))
        out = {name: torch.cat(values, dim=1) for name, values in per_layer.items() if values}
        e, total = out["layer_energy"], out["layer_energy"].sum(dim=1)
        out["energy_fraction"] = _ratio(e, total[:, None])
        index = torch.arange(self.n_layers, dtype=e.dtype, device=e.device)
        depth = _ratio(e @ index, total)
        out |= {"total_energy": total, "total_over_incident": _ratio(total, energy.reshape(-1).to(e.dtype)),
                "shower_depth": depth, "shower_depth_width": _sqrt0(_ratio(e @ index**2, total) - depth**2)}
        return out


def energy_normalised_cells(energy: torch.Tensor, response: torch.Tensor, fractions: torch.Tensor,
                            patterns: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
    """Cells ``E_inc · R · f_i · p_i`` of each layer: the energy budget split top-down.

    ``energy`` ``(B,)`` the incident energy, ``response`` ``(B,)`` the shower's E_tot/E_inc,
    ``fractions`` ``(B, layers)`` summing to 1 (a softmax), ``patterns`` per layer ``(B, rows, cols)``
    non-negative cell weights. Each pattern is normalised to sum 1 (a layer whose weights are all
    zero gets a uniform pattern, so its energy is never lost), so the shower's total is exactly
    ``E_inc · R`` and layer i holds exactly ``E_inc · R · f_i``: the response, the quantity the
    energy-response figure of merit measures, is one number the generator sets directly.
    """
    scale = energy.reshape(-1, 1) * response.reshape(-1, 1) * fractions
    out = []
    for i, weights in enumerate(patterns):
        flat = weights.flatten(1)
        total = flat.sum(dim=1, keepdim=True)
        uniform = torch.full_like(flat, 1.0 / flat.shape[1])
        normalised = torch.where(total > 0, flat / torch.where(total > 0, total, torch.ones_like(total)), uniform)
        out.append((normalised * scale[:, i:i + 1]).view_as(weights))
    return tuple(out)


def thresholded_softmax(logits: torch.Tensor, cut: torch.Tensor) -> torch.Tensor:
    """Non-negative cell weights with exact zeros: ``ReLU(w − t)``, ``w = softmax(logits)`` over the cells
    ``(B, cells)`` (weights spanning decades) and one threshold per sample ``t = e^{−softplus(cut)} · max w``
    (``cut (B,)``, a net's output). The threshold is one output, so the number of empty cells is learnt
    per sample and every cell near it passes the threshold's gradient (a per-cell cut would leave a zero
    cell without any). Feed the result to :func:`energy_normalised_cells` as a pattern."""
    weights = torch.softmax(logits, dim=1)
    threshold = weights.amax(dim=1, keepdim=True).detach() * torch.exp(-F.softplus(cut)).unsqueeze(1)
    return F.relu(weights - threshold)
