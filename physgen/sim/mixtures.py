"""Gaussian-mixture toys of the DCTR paper (paper 004, docs/PHYSICS.md §8).

* ``bimodal_1d``: ½ N(−1, 0.4) + ½ N(1, 0.4);
* ``circle_8``: eight Gaussians of σ = 0.1 at (cos 2πi/8, sin 2πi/8);
* ``grid_5x5``: 25 Gaussians of σ = 0.1 at (i + 0.1, j + 0.1), i, j = 1..5.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from physgen.errors import SpecError
from physgen.sim._base import Simulator, register_simulator

__all__ = ["MixtureSimulator", "mixture_components"]


def mixture_components(mixture: str) -> tuple[np.ndarray, float]:
    """Means (k, d) and common σ of a named toy mixture (equal weights)."""
    if mixture == "bimodal_1d":
        return np.array([[-1.0], [1.0]]), 0.4
    if mixture == "circle_8":
        angle = 2 * np.pi * np.arange(8) / 8
        return np.stack([np.cos(angle), np.sin(angle)], axis=1), 0.1
    if mixture == "grid_5x5":
        i, j = np.meshgrid(np.arange(1, 6), np.arange(1, 6), indexing="ij")
        return np.stack([i.ravel() + 0.1, j.ravel() + 0.1], axis=1).astype(float), 0.1
    msg = f"unknown mixture {mixture!r}"
    raise SpecError(msg)


class MixtureOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mixture: Literal["bimodal_1d", "circle_8", "grid_5x5"]
    sigma: float | None = Field(None, gt=0, description="override the paper's component width")


@register_simulator
class MixtureSimulator(Simulator):
    """Samples a toy mixture into the feature variables (``x`` or ``x``, ``y``) of the dataset."""

    name = "mixture"
    Options = MixtureOptions

    def __init__(self, dataset):
        super().__init__(dataset)
        self.means, sigma = mixture_components(self.options.mixture)
        self.sigma = self.options.sigma or sigma
        names = dataset.schema.names
        if len(names) != self.means.shape[1]:
            msg = (f"{dataset.dataset.source}: mixture {self.options.mixture!r} is {self.means.shape[1]}-dimensional "
                   f"but the feature schema has {len(names)} features {names}")
            raise SpecError(msg)
        self.names = names

    def simulate(self, n_events, seed):
        rng = np.random.default_rng(seed)
        component = rng.integers(0, len(self.means), n_events)
        points = self.means[component] + rng.normal(0.0, self.sigma, (n_events, self.means.shape[1]))
        return {name: points[:, k].astype(np.float32) for k, name in enumerate(self.names)}

    def producer(self):
        return {"kind": "simulator", "name": self.name, "mixture": self.options.mixture, "sigma": self.sigma}
