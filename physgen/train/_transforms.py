"""Invertible per-variable transforms from the model spec's ``data.transforms``.

* ``log`` (option ``offset``, default 0): y = log(x + offset); inverse exp(y) − offset.
* ``scale``: standardise, y = (x − mean) / std; mean and std are computed lazily (dask) from
  the training events of the store after the preceding transforms, unless given as options.
* ``smear`` (option ``sigma``, default 0.5; ``add_noise``, default true): adds N(0, σ) noise to an
  integer feature while training so the GAN sees a continuous density; the inverse is
  ``floor`` (paper 002's nVTX). Set ``add_noise: false`` when the store already holds the
  smeared value (``nvtx_smeared``).
* ``threshold`` (option ``threshold``): for a feature that is either 0 or at least the threshold
  (the pT of the k-th jet, 0 when there is none, else above the 20 GeV jet threshold): the forward
  is the identity; the inverse maps generated values below half the threshold to 0 and reflects
  those between half the threshold and the threshold above it (y → 2t − y), so generated events
  never fall in the gap the reference cannot populate (paper 002 §6 names such edges and spikes
  as what its GAN learns worst).

Forward transforms run in numpy inside the data-loader workers; inverses run in torch (on the
device, differentiable for ``log`` and ``scale``) so recipes can compute physics quantities
of generated events and :mod:`physgen.generate` can write physical units.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from physgen.errors import SpecError
from physgen.specs import Transform

__all__ = ["TransformSet", "TRANSFORMS"]


class _Log:
    def __init__(self, options: dict[str, Any], params: dict[str, float] | None = None):
        self.offset = float(options.get("offset", 0.0))
        self.params: dict[str, float] = {}

    def fit(self, lazy) -> None:
        pass

    def lazy(self, x):
        return np.log(x + self.offset)

    def forward(self, x: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        return np.log(x + self.offset)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return torch.exp(y) - self.offset


class _Scale:
    def __init__(self, options: dict[str, Any], params: dict[str, float] | None = None):
        self.params = dict(params or {})
        if "mean" in options or "std" in options:
            self.params = {"mean": float(options.get("mean", 0.0)), "std": float(options.get("std", 1.0))}

    def fit(self, lazy) -> None:
        if not self.params:
            mean, std = float(lazy.mean().compute()), float(lazy.std().compute())
            self.params = {"mean": mean, "std": std if std > 0 and np.isfinite(std) else 1.0}

    def lazy(self, x):
        return (x - self.params["mean"]) / self.params["std"]

    def forward(self, x, rng):
        return (x - self.params["mean"]) / self.params["std"]

    def inverse(self, y):
        return y * self.params["std"] + self.params["mean"]


class _Smear:
    def __init__(self, options: dict[str, Any], params: dict[str, float] | None = None):
        self.sigma = float(options.get("sigma", 0.5))
        self.add_noise = bool(options.get("add_noise", True))
        self.params: dict[str, float] = {}

    def fit(self, lazy) -> None:
        pass

    def lazy(self, x):
        return x

    def forward(self, x, rng):
        if not self.add_noise or rng is None:  # rng None: transforming conditions for generation
            return x
        return x + rng.normal(0.0, self.sigma, x.shape).astype(x.dtype)

    def inverse(self, y):
        return torch.floor(y)


class _Threshold:
    def __init__(self, options: dict[str, Any], params: dict[str, float] | None = None):
        if "threshold" not in options or not float(options["threshold"]) > 0:
            msg = f"transform 'threshold' needs a positive option 'threshold', got {options!r}"
            raise SpecError(msg)
        self.threshold = float(options["threshold"])
        self.params: dict[str, float] = {}

    def fit(self, lazy) -> None:
        pass

    def lazy(self, x):
        return x

    def forward(self, x, rng):
        return x

    def inverse(self, y):
        t = self.threshold
        return torch.where(y < t / 2, torch.zeros_like(y), torch.where(y < t, 2 * t - y, y))


TRANSFORMS = {"log": _Log, "scale": _Scale, "smear": _Smear, "threshold": _Threshold}


class TransformSet:
    """The transforms of every variable a model reads, in spec order, with their fitted parameters."""

    def __init__(self, transforms: dict[str, list[Transform]], params: dict[str, list[dict]] | None = None):
        self.spec = transforms
        self.chains: dict[str, list] = {}
        for var, chain in transforms.items():
            built = []
            for i, t in enumerate(chain):
                if t.name not in TRANSFORMS:
                    msg = f"data.transforms.{var}[{i}]: unknown transform {t.name!r}; known: {sorted(TRANSFORMS)}"
                    raise SpecError(msg)
                built.append(TRANSFORMS[t.name](t.options, (params or {}).get(var, [{}] * len(chain))[i]))
            self.chains[var] = built

    def fit(self, ds, n_events: int) -> None:
        """Compute data-dependent parameters (``scale``) from the first ``n_events`` of the lazy store."""
        for var, chain in self.chains.items():
            x = ds[var].isel(event=slice(0, n_events)).data.astype("float64")
            for t in chain:
                t.fit(x)
                x = t.lazy(x)

    def params(self) -> dict[str, list[dict]]:
        return {var: [dict(t.params) for t in chain] for var, chain in self.chains.items()}

    def forward(self, batch: dict[str, np.ndarray], rng: np.random.Generator | None) -> dict[str, np.ndarray]:
        out = {}
        for var, x in batch.items():
            x = np.asarray(x, dtype=np.float32)
            for t in self.chains.get(var, ()):
                x = t.forward(x, rng).astype(np.float32, copy=False)
            out[var] = x
        return out

    def inverse(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {}
        for var, y in batch.items():
            for t in reversed(self.chains.get(var, ())):
                y = t.inverse(y)
            out[var] = y
        return out
