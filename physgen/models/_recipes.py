"""Helpers shared by the image and shower GAN recipes (LAGAN, CaloGAN, ILD WGAN)."""

from __future__ import annotations

import torch
from torch import nn

from physgen.errors import SpecError

__all__ = ["latent_noise", "network_device", "required_condition"]


def network_device(networks: nn.Module) -> torch.device:
    return next(networks.parameters()).device


def latent_noise(networks: nn.Module, n: int, dim: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``(n, dim)`` standard-normal latent vectors on the networks' device."""
    return torch.randn(n, dim, device=network_device(networks), generator=generator)


def required_condition(spec_name: str, conditions: dict[str, torch.Tensor] | None, name: str) -> torch.Tensor:
    """The per-event condition ``name`` (flattened) that a conditional generator cannot sample without."""
    if not conditions or name not in conditions:
        msg = f"model {spec_name!r} needs the condition {name!r} to sample"
        raise SpecError(msg)
    return conditions[name].reshape(-1)
