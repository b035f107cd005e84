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
from physgen.models.nets import (
    DcganDiscriminator,
    DcganGenerator,
    LaganDiscriminator,
    LaganGenerator,
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
        generator_cls, discriminator_cls = _VARIANTS[hp.variant]
        size = data.variables[self.image].shape
        self.networks = nn.ModuleDict({
            "generator": generator_cls(size, self.latent_dim, self.n_classes, filters=hp.generator_filters),
            "discriminator": discriminator_cls(size, self.n_classes, mbd_kernels=hp.mbd_kernels,
                                               mbd_dims=hp.mbd_dims, dropout=hp.dropout,
                                               filters=hp.discriminator_filters),
        })

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
        d = lagan_discriminator_loss(D, real, real_classes, fake, fake_classes, flip=self.flip)
        self.optimizer_step("discriminator", d.total)
        logs = {"d_loss": d.total.item()} | {f"d_{k}": v for k, v in d.parts.items()}
        for _ in range(self.g_steps):
            classes = self._classes(n)
            g = lagan_generator_loss(D, self._fake(n, classes), classes, aux_flip=self.aux_flip)
            self.optimizer_step("generator", g.total)
        return logs | {"g_loss": g.total.item()} | {f"g_{k}": v for k, v in g.parts.items()}

    @torch.no_grad()
    def sample(self, n, conditions, generator):
        if self.label and conditions and self.label in conditions:
            classes = conditions[self.label].round().long().to(network_device(self.networks))
        else:
            classes = self._classes(n, generator)
        return {self.image: self._fake(n, classes, generator).float()}
