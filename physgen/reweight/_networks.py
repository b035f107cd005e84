"""DCTR classifier networks (paper 004, docs/PHYSICS.md §8) as plain ``nn.Module`` s returning one logit per event.

* ``dctr_mlp``: a multilayer perceptron on a vector of high-level inputs, standardised inside the
  network (mean and std are buffers, so a checkpoint is self-contained). Toys: three hidden layers
  (20-20-20 in 1D; 64-128-256 in 2D); ILD high level: two hidden layers of 128 on 33 features.
* ``dctr_cnn3d``: the low-level ILD classifier on 30 × 30 × 30 showers: three conv3d of 128 filters
  3×3×3 (strides 2, 2, 1; padding 1, 1, 0) with layer norm between, then dense 64-256-256-1,
  leaky ReLU (slope 0.01) throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError
from torch import nn

from physgen.errors import SpecError

__all__ = ["ARCHITECTURES", "CNN3DClassifier", "MLPClassifier", "build_network"]


class _Hyper(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MLPHyperparameters(_Hyper):
    hidden: list[PositiveInt] = Field(default_factory=lambda: [20, 20, 20], min_length=1)
    activation: Literal["relu", "leaky_relu"] = "relu"


class CNN3DHyperparameters(_Hyper):
    filters: PositiveInt = 128
    kernel: PositiveInt = 3
    strides: list[PositiveInt] = Field(default_factory=lambda: [2, 2, 1], min_length=1)
    padding: list[int] = Field(default_factory=lambda: [1, 1, 0], min_length=1)
    dense: list[PositiveInt] = Field(default_factory=lambda: [64, 256, 256])
    negative_slope: float = Field(0.01, ge=0)


def _activation(name: str, negative_slope: float = 0.01) -> nn.Module:
    return nn.ReLU() if name == "relu" else nn.LeakyReLU(negative_slope)


class MLPClassifier(nn.Module):
    """Standardise ``(batch, n_inputs)`` with stored mean/std, then hidden layers → one logit."""

    def __init__(self, n_inputs: int, hidden: Sequence[int] = (20, 20, 20), activation: str = "relu"):
        super().__init__()
        self.register_buffer("mean", torch.zeros(n_inputs))
        self.register_buffer("std", torch.ones(n_inputs))
        layers: list[nn.Module] = []
        width = n_inputs
        for size in hidden:
            layers += [nn.Linear(width, size), _activation(activation)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def set_standardisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Input shift and scale (from the training data); constant inputs keep scale 1."""
        self.mean.copy_(mean)
        self.std.copy_(torch.where(std > 0, std, torch.ones_like(std)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mean) / self.std).squeeze(-1)


class CNN3DClassifier(nn.Module):
    """3D CNN on ``(batch, depth, height, width)`` showers → one logit (layer norm between convolutions)."""

    def __init__(self, shape: Sequence[int], filters: int = 128, kernel: int = 3,
                 strides: Sequence[int] = (2, 2, 1), padding: Sequence[int] = (1, 1, 0),
                 dense: Sequence[int] = (64, 256, 256), negative_slope: float = 0.01):
        super().__init__()
        if len(strides) != len(padding):
            msg = f"dctr_cnn3d: strides {list(strides)} and padding {list(padding)} need the same length"
            raise SpecError(msg)
        layers: list[nn.Module] = []
        size = list(shape)
        channels = 1
        for i, (stride, pad) in enumerate(zip(strides, padding, strict=True)):
            layers.append(nn.Conv3d(channels, filters, kernel, stride=stride, padding=pad))
            channels = filters
            size = [(s + 2 * pad - kernel) // stride + 1 for s in size]
            if min(size) < 1:
                msg = f"dctr_cnn3d: input shape {list(shape)} is too small for {len(strides)} convolutions"
                raise SpecError(msg)
            if i < len(strides) - 1:
                layers.append(nn.LayerNorm([channels, *size]))
            layers.append(nn.LeakyReLU(negative_slope))
        layers.append(nn.Flatten())
        width = channels * size[0] * size[1] * size[2]
        for units in dense:
            layers += [nn.Linear(width, units), nn.LeakyReLU(negative_slope)]
            width = units
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.unsqueeze(1)).squeeze(-1)


def _build_mlp(hyperparameters: dict[str, Any], input_shape: tuple[int, ...]) -> nn.Module:
    h = MLPHyperparameters.model_validate(hyperparameters)
    if len(input_shape) != 1:
        msg = f"dctr_mlp needs a vector of inputs per event, got per-event shape {input_shape}"
        raise SpecError(msg)
    return MLPClassifier(input_shape[0], h.hidden, h.activation)


def _build_cnn3d(hyperparameters: dict[str, Any], input_shape: tuple[int, ...]) -> nn.Module:
    h = CNN3DHyperparameters.model_validate(hyperparameters)
    if len(input_shape) != 3:
        msg = f"dctr_cnn3d needs one 3D image per event (one input variable of 3 cell dims), got shape {input_shape}"
        raise SpecError(msg)
    return CNN3DClassifier(input_shape, h.filters, h.kernel, h.strides, h.padding, h.dense, h.negative_slope)


ARCHITECTURES = {"dctr_mlp": _build_mlp, "dctr_cnn3d": _build_cnn3d}
"""Architecture name of a model spec → builder(hyperparameters, per-event input shape)."""


def build_network(architecture: str, hyperparameters: dict[str, Any], input_shape: tuple[int, ...]) -> nn.Module:
    """The classifier of a model spec for inputs of per-event shape ``input_shape``."""
    if architecture not in ARCHITECTURES:
        msg = f"architecture {architecture!r} is not a DCTR classifier; expected one of {sorted(ARCHITECTURES)}"
        raise SpecError(msg)
    try:
        return ARCHITECTURES[architecture](hyperparameters, tuple(input_shape))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
        msg = f"hyperparameters of {architecture}: {problems}"
        raise SpecError(msg) from None
