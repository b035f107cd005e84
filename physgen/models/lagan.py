"""LAGAN recipe: class-conditional jet-image GAN of paper 000 (de Oliveira, Paganini, Nachman,
arXiv:1701.05927, §4.1 and the authors' Keras code hep-lbdl/adversarial-jets).

* Networks: :class:`~physgen.models.nets.LaganGenerator` / :class:`~physgen.models.nets.LaganDiscriminator`
  (``variant: location_aware``), or the fully-convolutional DCGAN-style baseline
  (``variant: dcgan``, paper §5.6) with otherwise identical topology.
* Data: one image input (pixel p_T, shown to the nets as p_T/100 through the spec's ``scale``
  transform) and at most one class label (``signal``: W' → WZ vs QCD); without a label the GAN is
  unconditional and has no auxiliary head.
* Training step: one discriminator update on separate all-real and all-fake batches with 5 %
  of the real/fake labels flipped, then ``g_steps`` (2, as the paper) generator updates with
  9 % of the requested class labels flipped; the fake classes are drawn uniformly.
* Compact options (off by default; the paper's spec ``lagan`` does not set them):
  ``generator: normalised`` (:class:`~physgen.models.nets.LaganNormalisedGenerator`: the jet's pixel sum from
  one head, the image pattern a thresholded softmax), ``discriminator: physics``
  (:class:`~physgen.models.nets.LaganPhysicsDiscriminator`: jet p_T, mass, τ1, τ2, τ21 and the active-pixel
  counts computed in the graph) and ``feature_mmd``: the generator's loss gains, per class, the MMD²
  (:func:`~physgen.models.blocks.feature_mmd2`) between the real and generated standardised features of the batch;
  the fakes of a generator step then take the real batch's classes, so both sides have the same mix.
* Sampling: the classes come from the ``signal`` condition (``--conditions-from`` a store),
  or are drawn uniformly when none are given.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt
from torch import nn

from physgen.errors import SpecError
from physgen.models._base import DataDescription, Recipe, register_architecture
from physgen.models._recipes import latent_noise, network_device
from physgen.models.blocks import feature_columns, feature_mmd2
from physgen.models.nets import (
    DcganDiscriminator,
    DcganGenerator,
    LaganDiscriminator,
    LaganGenerator,
    LaganNormalisedGenerator,
    LaganPhysicsDiscriminator,
    lagan_discriminator_loss,
    lagan_generator_loss,
)
from physgen.specs import ModelSpec

__all__ = ["Lagan", "LaganHyperparameters"]

_VARIANTS = {"location_aware": (LaganGenerator, LaganDiscriminator), "dcgan": (DcganGenerator, DcganDiscriminator)}


class LaganHyperparameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    variant: Literal["location_aware", "dcgan"] = "location_aware"
    latent_dim: PositiveInt = 200
    n_classes: PositiveInt = 2
    mbd_kernels: PositiveInt = 20
    mbd_dims: PositiveInt = 10
    dropout: float = Field(0.2, ge=0, lt=1)
    label_flip: float = Field(0.05, ge=0, le=1, description="share of real/fake labels flipped for D")
    aux_label_flip: float = Field(0.09, ge=0, le=1, description="share of requested classes flipped for G")
    g_steps: PositiveInt = 2
    generator_filters: tuple[PositiveInt, PositiveInt, PositiveInt] = Field(
        (128, 64, 6), description="projected, convolutional and locally-connected channels (paper 000)")
    discriminator_filters: tuple[PositiveInt, PositiveInt] = Field(
        (32, 8), description="convolutional and locally-connected channels (paper 000)")
    generator: Literal["paper", "normalised"] = Field(
        "paper", description="paper: the variant's generator; normalised: a dense trunk with a p_T-normalised "
        "output (LaganNormalisedGenerator; compact specs)")
    discriminator: Literal["paper", "physics"] = Field(
        "paper", description="paper: the variant's discriminator; physics: the jet observables in the graph "
        "(LaganPhysicsDiscriminator; compact specs)")
    generator_hidden: list[PositiveInt] = Field([256, 256], description="dense trunk of generator: normalised")
    pt_sum: tuple[float, float] = Field(
        (2.8, 0.13), description="generator: normalised: the pixel sum c · (1 + r tanh) in the training space "
        "(pixel pT / 100 GeV): 2.44-3.16, around the paper's 250-315 GeV")
    discriminator_hidden: list[PositiveInt] = Field([128, 128], description="dense head of discriminator: physics")
    cell_features: int = Field(64, ge=0, description="discriminator: physics: width of its view of the pixels "
                                                     "(0: features only)")
    feature_mmd: float = Field(0.0, ge=0, description="discriminator: physics: weight of the generator's per-class "
                               "MMD² between real and generated standardised jet features (0: off)")
    mmd_features: list[str] | None = Field(None, description="feature_mmd: the features it compares (names of "
                                           "LaganPhysicsDiscriminator.FEATURES; None: all)")
    mmd_bandwidths: list[float] = Field([0.05, 0.2, 1.0, 4.0], description="σ² of the MMD's Gaussian kernels, in "
                                        "standardised feature units (narrow ones resolve the peaks)")


@register_architecture("lagan")
class Lagan(Recipe):
    """Recipe of LAGAN and its DCGAN baseline (hyperparameters: :class:`LaganHyperparameters`)."""

    Hyperparameters = LaganHyperparameters
    network_names = ("generator", "discriminator")

    def __init__(self, spec: ModelSpec, data: DataDescription):
        super().__init__(spec, data)
        hp = self.hp
        if len(data.inputs) != 1 or len(data.variables[data.inputs[0]].shape) != 2 or len(data.labels) > 1 \
                or data.conditions:
            msg = (f"model {spec.name!r}: lagan reads one 2-D image input and at most one class label, got "
                   f"inputs {data.inputs}, labels {data.labels}, conditions {data.conditions}")
            raise SpecError(msg)
        (self.image,) = data.inputs
        self.label = data.labels[0] if data.labels else None
        self.n_classes = hp.n_classes if self.label else 1
        self.latent_dim, self.g_steps = hp.latent_dim, hp.g_steps
        self.flip, self.aux_flip = hp.label_flip, hp.aux_label_flip
        if hp.feature_mmd > 0 and hp.discriminator != "physics":
            msg = f"model {spec.name!r}: feature_mmd needs discriminator: physics (its jet features)"
            raise SpecError(msg)
        features = LaganPhysicsDiscriminator.FEATURES
        self.mmd_columns = feature_columns(spec.name, features, [1] * len(features), hp.mmd_features)
        generator_cls, discriminator_cls = _VARIANTS[hp.variant]
        size = data.variables[self.image].shape
        if hp.generator == "normalised":
            generator = LaganNormalisedGenerator(size, self.latent_dim, self.n_classes,
                                                 hidden=tuple(hp.generator_hidden), pt_sum=hp.pt_sum)
        else:
            generator = generator_cls(size, self.latent_dim, self.n_classes, filters=hp.generator_filters)
        if hp.discriminator == "physics":
            discriminator = LaganPhysicsDiscriminator(*self._pixel_centres(size), self.n_classes,
                                                      hidden=tuple(hp.discriminator_hidden), cells=hp.cell_features,
                                                      mbd_kernels=hp.mbd_kernels, mbd_dims=hp.mbd_dims)
        else:
            discriminator = discriminator_cls(size, self.n_classes, mbd_kernels=hp.mbd_kernels, mbd_dims=hp.mbd_dims,
                                              dropout=hp.dropout, filters=hp.discriminator_filters)
        self.networks = nn.ModuleDict({"generator": generator, "discriminator": discriminator})

    def _pixel_centres(self, size) -> tuple[torch.Tensor, torch.Tensor]:
        """(η, φ) pixel centres from the training store's coordinates (the ones the observables use); zeros
        when rebuilt without the store (the checkpoint's discriminator state carries them)."""
        if self.data.reference is None:
            return torch.zeros(size[0]), torch.zeros(size[1])
        dims = self.data.variables[self.image].dims
        return tuple(torch.tensor(self.data.reference[d].values, dtype=torch.float64) for d in dims)

    def _classes(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor | None:
        if self.label is None:
            return None
        device = network_device(self.networks)
        return torch.randint(self.n_classes, (n,), device=device, generator=generator)

    def _fake(self, n: int, classes: torch.Tensor | None, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.networks["generator"](latent_noise(self.networks, n, self.latent_dim, generator), classes)

    def training_step(self, batch, step):
        D = self.networks["discriminator"]
        real = batch[self.image]
        n = len(real)
        real_classes = batch[self.label].round().long() if self.label else None
        fake_classes = self._classes(n)
        with torch.no_grad():
            fake = self._fake(n, fake_classes)
        physics = isinstance(D, LaganPhysicsDiscriminator)
        if physics and not D.fitted:
            D.fit(real)
            self.state_sync(D)
        d = lagan_discriminator_loss(D, real, real_classes, fake, fake_classes, flip=self.flip)
        self.optimizer_step("discriminator", d.total)
        logs = {"d_loss": d.total.item()} | {f"d_{k}": v for k, v in d.parts.items()}
        mmd_weight = self.hp.feature_mmd
        if mmd_weight > 0:
            with torch.no_grad():
                target = D.standardised(real)[:, self.mmd_columns]
        for _ in range(self.g_steps):
            classes = real_classes if mmd_weight > 0 and real_classes is not None else self._classes(n)
            fake = self._fake(n, classes)
            g = lagan_generator_loss(D, fake, classes, aux_flip=self.aux_flip)
            if mmd_weight > 0:
                mmd = feature_mmd2(target, D.standardised(fake)[:, self.mmd_columns], tuple(self.hp.mmd_bandwidths),
                                   classes)
                g.total = g.total + mmd_weight * mmd
                g.parts["mmd"] = mmd.item()
            self.optimizer_step("generator", g.total)
        return logs | {"g_loss": g.total.item()} | {f"g_{k}": v for k, v in g.parts.items()}

    @torch.no_grad()
    def sample(self, n, conditions, generator):
        if self.label and conditions and self.label in conditions:
            classes = conditions[self.label].round().long().to(network_device(self.networks))
        else:
            classes = self._classes(n, generator)
        return {self.image: self._fake(n, classes, generator).float()}
