"""Jet-image observables in torch: jet p_T, mass and N-subjettiness computed inside the graph.

:class:`JetImageFeatures` computes from a batch of jet images (pixel p_T on an (η, φ) grid) what
:mod:`physgen.observables.jets` computes from stores (paper 000's figures of merit): the jet p_T
``|Σ pT_i (cos φ_i, sin φ_i)|``, the mass of the massless pixels ``√((ΣE)² − |Σp⃗|²)`` and
τ1, τ2, τ21 (β = 1, R0 = 1, WTA kT axes). The axes are found as the observables find them
(:func:`physgen.observables.jets.wta_kt_axes`, FastJet on the detached pixels): they sit on pixel
centres and move only in steps, so τ_N's gradient is the one at fixed axes, ``∂τ_N/∂pT_k`` — a
generator learns τ21 from the pixel intensities around the axes. The observables module stays the
one reference: ``tests/test_lagan_compact.py`` checks the two agree on simulated jets.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from physgen.models.blocks._discrimination import soft_sparsity
from physgen.models.blocks._safe import safe_ratio, safe_sqrt

__all__ = ["JetImageFeatures"]


class JetImageFeatures(nn.Module):
    """``forward(images (B, n_eta, n_phi)) → {name: (B,)}``: ``jet_pt``, ``jet_mass`` (the images' p_T
    unit), ``tau_1``, ``tau_2``, ``tau_21`` and ``n_active`` (pixels above 0, no gradient) with its
    differentiable stand-in ``soft_active`` (paper 003 Eqs. 5–6, ``soft = (α, scale)`` in the images'
    unit). ``eta``, ``phi``: the pixel-centre coordinates (the store's coordinates)."""

    def __init__(self, eta: torch.Tensor, phi: torch.Tensor, soft: tuple[float, float] = (2.0, 1e-5)):
        super().__init__()
        self.soft = tuple(soft)
        self.register_buffer("eta", torch.as_tensor(eta, dtype=torch.float64))
        self.register_buffer("phi", torch.as_tensor(phi, dtype=torch.float64))

    def _pixels(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(η, φ) of every pixel, row-major as the images flatten."""
        return self.eta.repeat_interleave(len(self.phi)), self.phi.repeat(len(self.eta))

    @torch.no_grad()
    def axes(self, pt: torch.Tensor, n_axes: int) -> torch.Tensor:
        """WTA kT axes ``(B, n_axes, 2)`` of the flattened images ``pt (B, pixels)`` (events with fewer active
        pixels than axes get arbitrary axes: their τ_N is set to 0 as the observable does)."""
        from physgen.observables.jets import wta_kt_axes  # FastJet: imported when first used

        eta, phi = (c.cpu().numpy() for c in self._pixels())
        values = pt.detach().cpu().double().numpy()
        out = np.zeros((len(values), n_axes, 2))
        enough = (values > 0).sum(axis=1) >= n_axes
        if enough.any():
            out[enough] = wta_kt_axes(values[enough], eta, phi, n_axes)
        return torch.as_tensor(out, dtype=pt.dtype, device=pt.device)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        pt = images.flatten(1)
        eta, phi = (c.to(pt.dtype) for c in self._pixels())
        px, py = pt @ torch.cos(phi), pt @ torch.sin(phi)
        energy, pz = pt @ torch.cosh(eta), pt @ torch.sinh(eta)
        m2 = energy**2 - px**2 - py**2 - pz**2
        out = {"jet_pt": torch.sqrt(px**2 + py**2 + 1e-30) * (px**2 + py**2 > 0), "jet_mass": safe_sqrt(m2)}
        total, active = pt.sum(dim=1), (pt > 0).sum(dim=1)
        for n_axes in (1, 2):
            axes = self.axes(pt, n_axes)  # (B, N, 2)
            d_eta = eta[None, None, :] - axes[:, :, 0:1]
            d_phi = torch.remainder(phi[None, None, :] - axes[:, :, 1:2] + torch.pi, 2 * torch.pi) - torch.pi
            distance = torch.sqrt(d_eta**2 + d_phi**2).amin(dim=1)  # (B, pixels), R0 = 1
            tau = safe_ratio((pt * distance).sum(dim=1), total)
            out[f"tau_{n_axes}"] = torch.where(active >= n_axes, tau, torch.zeros_like(tau))
        out["tau_21"] = safe_ratio(out["tau_2"], out["tau_1"])
        out["n_active"] = active.to(pt.dtype)
        out["soft_active"] = soft_sparsity(images, *self.soft).squeeze(1) * pt.shape[1]
        return out
