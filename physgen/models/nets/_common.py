"""Pieces shared by the nets: Keras-default activations/norms and the loss record."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

KERAS_LEAKY_SLOPE = 0.3
"""Keras ``LeakyReLU`` default slope, used by LAGAN and CaloGAN (docs/PHYSICS.md §1)."""


def batch_norm2d(channels: int) -> nn.BatchNorm2d:
    """Batch norm with Keras defaults (momentum 0.99 ≙ torch 0.01, ε = 1e-3), as the papers' code."""
    return nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)


@dataclass
class GanLoss:
    """A loss to back-propagate and its named parts (floats, for logging)."""

    total: torch.Tensor
    parts: dict[str, float] = field(default_factory=dict)


def bce(logits: torch.Tensor, target: torch.Tensor | float) -> torch.Tensor:
    """Binary cross-entropy of sigmoid(logits) against ``target`` (a tensor or a constant)."""
    if not torch.is_tensor(target):
        target = torch.full_like(logits, float(target))
    return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype))


def class_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Auxiliary-class loss: binary for one logit per sample, categorical otherwise."""
    if logits.ndim == 1:
        return bce(logits, labels.float())
    return F.cross_entropy(logits, labels.long())
