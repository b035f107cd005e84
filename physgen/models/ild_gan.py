"""ILD 3D WGAN-GP recipe: 30×30×30 photon showers in the ILD Si-W ECAL (the generator class that
paper 004 reweights; Gulrajani et al. 2017 for the loss).

* Data: the voxel cell energies (one 3-D input, in the store's MeV, untransformed so that the
  0.1 MeV readout threshold keeps its meaning) and the incident-energy condition in GeV.
* Training step: ``critic_steps`` (5) critic updates with the gradient penalty λ_GP = 5, each
  on the step's real batch with fresh generated showers, then one generator update.
  Optimisers (Adam, lr G 1e-4 / critic 1e-5) come from the spec; batch 50.
* Sampling applies the detector's readout threshold (cells below it set to zero): the value
  is read from the training store's detector spec (``threshold`` hyperparameter overrides,
  in the cells' units) and kept in the checkpoint.
"""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt
from torch import nn

from physgen.errors import SpecError
from physgen.models._base import DataDescription, Recipe, register_architecture
from physgen.models._recipes import latent_noise, required_condition
from physgen.models.nets import (
    IldCritic,
    IldGenerator,
    cell_threshold,
    wgan_critic_loss,
    wgan_generator_loss,
)
from physgen.specs import ModelSpec

__all__ = ["IldWgan", "IldWganHyperparameters"]


class IldWganHyperparameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latent_dim: PositiveInt = 100
    generator_channels: list[PositiveInt] = [32, 16, 8]
    critic_channels: list[PositiveInt] = [16, 32, 64]
    critic_hidden: PositiveInt = 256
    critic_steps: PositiveInt = 5
    gp_weight: float = Field(5.0, ge=0, description="λ_GP of the gradient penalty")
    threshold: float | None = Field(None, ge=0, description="cell readout threshold (default: the detector's)")


@register_architecture("ild_wgan")
class IldWgan(Recipe):
    """Recipe of the ILD 3D WGAN-GP (hyperparameters: :class:`IldWganHyperparameters`)."""

    Hyperparameters = IldWganHyperparameters
    network_names = ("generator", "critic")

    def __init__(self, spec: ModelSpec, data: DataDescription):
        super().__init__(spec, data)
        hp = self.hp
        if len(data.inputs) != 1 or len(data.variables[data.inputs[0]].shape) != 3 or len(data.conditions) != 1:
            msg = (f"model {spec.name!r}: ild_wgan reads one 3-D cell input and one incident-energy condition, "
                   f"got inputs {data.inputs}, conditions {data.conditions}")
            raise SpecError(msg)
        (self.cells,), (self.energy,) = data.inputs, data.conditions
        self.latent_dim, self.critic_steps = hp.latent_dim, hp.critic_steps
        self.gp_weight = hp.gp_weight
        threshold = hp.threshold
        if threshold is None and data.reference is not None:
            threshold = cell_threshold(data.reference.physgen.detector)
        shape = data.variables[self.cells].shape
        self.networks = nn.ModuleDict({
            "generator": IldGenerator(shape, self.latent_dim, tuple(hp.generator_channels),
                                      threshold=float(threshold or 0.0)),
            "critic": IldCritic(shape, tuple(hp.critic_channels), hp.critic_hidden),
        })

    def _fake(self, energy: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return self.networks["generator"](latent_noise(self.networks, len(energy), self.latent_dim, generator), energy)

    def training_step(self, batch, step):
        C = self.networks["critic"]
        real, energy = batch[self.cells], batch[self.energy].reshape(-1)
        for _ in range(self.critic_steps):
            with torch.no_grad():
                fake = self._fake(energy)
            c = wgan_critic_loss(C, real, fake, energy, gp_weight=self.gp_weight)
            self.optimizer_step("critic", c.total)
        g = wgan_generator_loss(C, self._fake(energy), energy)
        self.optimizer_step("generator", g.total)
        return {"c_loss": c.total.item(), "g_loss": g.total.item()} | c.parts

    @torch.no_grad()
    def sample(self, n, conditions, generator):
        energy = required_condition(self.spec.name, conditions, self.energy)
        G = self.networks["generator"]
        z = latent_noise(self.networks, n, self.latent_dim, generator)
        return {self.cells: G.sample(z, energy).float()}

    def extra_state(self):
        return {"threshold": self.networks["generator"].threshold}

    def load_extra_state(self, state):
        if "threshold" in state:
            self.networks["generator"].threshold = float(state["threshold"])
