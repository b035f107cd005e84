"""Invertible per-variable transforms from the model spec's ``data.transforms`` (generative models
and classifiers alike), registered in :data:`physgen.plugins.TRANSFORMS` with their options models.

* ``log`` (option ``offset``, default 0): y = log(x + offset); inverse exp(y) − offset.
* ``log1p``: y = log(1 + max(x, 0)), for cell energies with zeros (paper 004's low-level classifier
  reads log(1 + E/MeV)); inverse exp(y) − 1.
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
* ``spread_zeros`` (options ``width``, ``gap`` and ``margin``, default 0): dequantises a point mass at 0 beside a
  continuous density above ``gap`` (exact-zero isolations, absent jets with ``gap`` the jet threshold) for
  generators that learn densities (flow matching: a point mass has none): while training, exact zeros become
  −``margin`` − ``width``·U(0, 1) and the other values x − ``gap``, so that the two parts lie ``margin`` apart
  (touch at 0 when it is 0); the inverse maps everything below −``margin``/2 back to exactly 0 and the rest
  to max(y, 0) + ``gap``. A generator smooths the density step between the spread zeros and the values above
  (mass leaks across it, making too few zeros); an empty ``margin`` between them catches that leak. Without
  training noise (fitting, ``encode``, conditions) zeros go to the noise's mean, −``margin`` − ``width``/2.
  Dequantisation as in Uria, Murray, Larochelle (arXiv:1306.0186) and Dinh et al. (arXiv:1605.08803), here
  for one value.

Forward transforms run in numpy inside the data-loader workers; inverses run in torch (on the
device, differentiable for ``log`` and ``scale``) so recipes can compute physics quantities
of generated events and :mod:`physgen.generate` can write physical units. ``encode`` runs the forward
transforms on torch tensors (no training noise; differentiable for ``log``, ``log1p`` and ``scale``)
so a recipe can put a physical quantity it computed back into the network's space.
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field

from physgen.plugins import TRANSFORMS
from physgen.specs import NoOptions, Transform, parse_plugin_options

__all__ = ["TransformSet"]


def _math(x):
    """The array namespace of ``x``: torch for tensors (encode), numpy for arrays and dask (loader, fit)."""
    return torch if isinstance(x, torch.Tensor) else np


class _Options(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Unfitted:
    """A transform whose only parameters are its options: nothing to fit from the store."""

    def __init__(self, options: BaseModel, params: dict[str, float] | None = None):
        self.options = options
        self.params: dict[str, float] = {}

    def fit(self, lazy) -> None:
        pass


class LogOptions(_Options):
    offset: float = Field(0.0, description="added before the logarithm")


@TRANSFORMS.register("log")
class _Log(_Unfitted):
    Options = LogOptions

    def lazy(self, x):
        return np.log(x + self.options.offset)

    def forward(self, x: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        return _math(x).log(x + self.options.offset)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return torch.exp(y) - self.options.offset


@TRANSFORMS.register("log1p")
class _Log1p(_Unfitted):
    Options = NoOptions

    def lazy(self, x):
        return np.log1p(np.maximum(x, 0))

    def forward(self, x: np.ndarray, rng: np.random.Generator | None) -> np.ndarray:
        return _math(x).log1p(x.clip(min=0))

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return torch.expm1(y)


class ScaleOptions(_Options):
    mean: float | None = Field(None, description="fixed shift (default: fitted with std when neither is given)")
    std: float | None = Field(None, gt=0, description="fixed scale")


@TRANSFORMS.register("scale")
class _Scale:
    Options = ScaleOptions

    def __init__(self, options: ScaleOptions, params: dict[str, float] | None = None):
        self.params = dict(params or {})
        if options.mean is not None or options.std is not None:
            self.params = {"mean": options.mean or 0.0, "std": options.std or 1.0}

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


class SmearOptions(_Options):
    sigma: float = Field(0.5, ge=0, description="width of the Gaussian noise added while training")
    add_noise: bool = Field(True, description="false when the store already holds the smeared value")


@TRANSFORMS.register("smear")
class _Smear(_Unfitted):
    Options = SmearOptions

    def lazy(self, x):
        return x

    def forward(self, x, rng):
        if not self.options.add_noise or rng is None:  # rng None: transforming conditions for generation
            return x
        return x + rng.normal(0.0, self.options.sigma, x.shape).astype(x.dtype)

    def inverse(self, y):
        return torch.floor(y)


class ThresholdOptions(_Options):
    threshold: float = Field(gt=0, description="the smallest non-zero value the feature takes (e.g. 20 GeV)")


@TRANSFORMS.register("threshold")
class _Threshold(_Unfitted):
    Options = ThresholdOptions

    def lazy(self, x):
        return x

    def forward(self, x, rng):
        return x

    def inverse(self, y):
        t = self.options.threshold
        return torch.where(y < t / 2, torch.zeros_like(y), torch.where(y < t, 2 * t - y, y))


class SpreadZerosOptions(_Options):
    width: float = Field(gt=0, description="zeros spread uniformly over [-width, 0) while training")
    gap: float = Field(0.0, ge=0, description="smallest non-zero value (e.g. the 20 GeV jet threshold)")
    margin: float = Field(0.0, ge=0, description="empty interval between the spread zeros and the values above")


@TRANSFORMS.register("spread_zeros")
class _SpreadZeros(_Unfitted):
    Options = SpreadZerosOptions

    def lazy(self, x):
        o = self.options
        return np.where(x == 0, -o.margin - o.width / 2, x - o.gap)

    def forward(self, x, rng):
        o = self.options
        if rng is None:
            return _math(x).where(x == 0, -o.margin - o.width / 2, x - o.gap)
        return np.where(x == 0, -o.margin - o.width * rng.random(x.shape, dtype=np.float32), x - o.gap)

    def inverse(self, y):
        o = self.options
        return torch.where(y < -o.margin / 2, torch.zeros_like(y), torch.clamp(y, min=0) + o.gap)


class TransformSet:
    """The transforms of every variable a model reads, in spec order, with their fitted parameters."""

    def __init__(self, transforms: dict[str, list[Transform]], params: dict[str, list[dict]] | None = None):
        self.spec = transforms
        self.chains: dict[str, list] = {}
        for var, chain in transforms.items():
            built = []
            for i, t in enumerate(chain):
                cls = TRANSFORMS.get(t.name)
                options = parse_plugin_options(cls.Options, t.options, source="model spec",
                                               loc=("data", "transforms", var, i, "options"))
                built.append(cls(options, (params or {}).get(var, [{}] * len(chain))[i]))
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

    def encode(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The forward transforms on torch tensors, without training noise (see the module docstring)."""
        out = {}
        for var, x in batch.items():
            for t in self.chains.get(var, ()):
                x = t.forward(x, None)
            out[var] = x
        return out

    def inverse(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = {}
        for var, y in batch.items():
            for t in reversed(self.chains.get(var, ())):
                y = t.inverse(y)
            out[var] = y
        return out
