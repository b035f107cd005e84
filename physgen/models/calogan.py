"""CaloGAN recipes: the energy-conditioned three-layer shower GAN of paper 001 (Paganini,
de Oliveira, Nachman, arXiv:1705.02355, 1712.10321; hep-lbdl/CaloGAN ``models/train.py``)
and its conditional version of paper 003 (ξ = (E, x0, y0, θ, φ)).

* Data: the readout layers (2-D inputs, front to back) in **GeV** — the stores hold MeV, the
  spec's ``scale`` transform (``std: 1000``) converts and its inverse converts back — and the
  incident ``energy`` condition in GeV (untransformed: the nets scale it by 1/100).
  ``calogan_conditional`` also reads the four attributes (x0, y0, θ, φ), standardised by
  ``scale`` transforms to order one.
* A voxel calorimeter (one 3-D input ``(layers, rows, cols)``, e.g. the ILD ECAL of paper 004) is
  read as that many 2-D layers of one size: the compact options below are not specific to three
  layers. Generated cells below the detector's readout threshold (0.1 MeV for ILD; in the
  training space through the spec's transforms) are set to zero, in training too (the
  discriminator sees what is stored), where the cut passes a smooth gate's gradient so that the
  generator learns which cells should cross it.
* ``overflow`` (energy outside each layer's window, one number per layer): the papers' networks
  do not generate it. When it is among the inputs (so that generated stores have the training
  store's schema) it is **written as zeros** — a generated shower deposits everything inside
  the readout windows. Any 1-D input is treated so (:attr:`CaloGan.zero_inputs`).
* Training step: one discriminator update on separate all-real and all-fake batches
  (:func:`~physgen.models.nets.calogan_discriminator_loss`), one generator update for the
  same requested conditions (energy-L1 weight λ_E = 0.05; paper 003 adds the attribute
  regression ``λᵀ|ξ − Ξ|``). Optimisers (Adam, lr G 2e-4 / D 2e-5, β1 0.5) come from the spec.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt
from torch import nn

from physgen.errors import SpecError
from physgen.models._base import DataDescription, Recipe, register_architecture
from physgen.models._recipes import latent_noise, required_condition
from physgen.models.blocks import apply_cell_threshold, feature_columns, feature_mmd2
from physgen.models.nets import (
    CaloGanDiscriminator,
    CaloGanGenerator,
    CaloGanNormalisedGenerator,
    CaloGanPhysicsDiscriminator,
    ConditionalCaloGanDiscriminator,
    ConditionalCaloGanGenerator,
    GanLoss,
    calogan_discriminator_loss,
    calogan_generator_loss,
    cell_threshold,
)
from physgen.specs import ModelSpec

__all__ = ["CaloGan", "CaloGanHyperparameters", "ConditionalCaloGan", "ConditionalCaloGanHyperparameters"]


class CaloGanHyperparameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latent_dim: PositiveInt = 1024
    dense_channels: PositiveInt = 36
    conv_channels: PositiveInt = 16
    lc_channels: PositiveInt = 6
    discriminator_channels: list[PositiveInt] = [16, 32, 64, 128]
    mbd_kernels: PositiveInt = 10
    mbd_dims: PositiveInt = 10
    energy_weight: float = Field(0.05, ge=0, description="λ_E of the energy-L1 term")
    energy: str = Field("energy", description="the incident-energy condition")
    generator: Literal["streams", "normalised"] = Field(
        "streams", description="streams: the paper's per-layer streams; normalised: a dense trunk with an "
        "energy-normalised output (CaloGanNormalisedGenerator; compact specs)")
    discriminator: Literal["layers", "physics"] = Field(
        "layers", description="layers: the paper's per-layer features; physics: the high-level shower "
        "features in the graph (CaloGanPhysicsDiscriminator; compact specs)")
    generator_hidden: list[PositiveInt] = Field([512, 512], description="dense trunk of generator: normalised")
    response: tuple[float, float] = Field(
        (1.0, 0.05), description="generator: normalised: E_tot/E_inc = centre · (1 + range · tanh): 1 ± 0.05 for "
        "the CaloGAN total readout, the sampling fraction and its spread for an active-only readout")
    dense_conditioning: bool = Field(False, description="generator: normalised: the energy beside every dense "
                                                        "layer's input, not only beside z")
    discriminator_hidden: list[PositiveInt] = Field([256, 256], description="dense head of discriminator: physics")
    group_mbd: tuple[NonNegativeInt, PositiveInt] = Field(
        (3, 5), description="discriminator: physics: minibatch-discrimination kernels and dims per feature group")
    feature_mmd: float = Field(0.0, ge=0, description="discriminator: physics: weight of the generator's "
                               "MMD² between real and generated standardised shower features (0: off)")
    mmd_features: list[str] | None = Field(None, description="feature_mmd: the feature groups it compares (names of "
                                           "CaloGanPhysicsDiscriminator.GROUPS; None: all)")
    mmd_bandwidths: tuple[float, ...] = Field(
        (2.0, 8.0, 32.0, 128.0), description="feature_mmd: the kernels' σ² in standardised-feature units (the "
        "squared distance of two showers is ≈ twice the number of features)")
    start_from_data: bool = Field(False, description="generator: normalised: start from the average real shower "
                                  "(CaloGanNormalisedGenerator.start_from on the first batch)")
    adversarial_weight: float = Field(1.0, ge=0, description="weight of the generator's adversarial loss; 0: "
                                      "moment matching on the features alone (feature_mmd), no discriminator updates")
    cell_features: int = Field(128, ge=0, description="discriminator: physics: width of its view of the cells "
                                                      "(0: features only)")


class ConditionalCaloGanHyperparameters(CaloGanHyperparameters):
    attribute_weights: list[float] | None = Field(None, description="λ of the four attribute regressions")
    soft_sparsity: tuple[float, float] = (4.0, 1.0e-3)


@register_architecture("calogan")
class CaloGan(Recipe):
    """Recipe of CaloGAN (hyperparameters: :class:`CaloGanHyperparameters`); ``conditions: [energy]``."""

    Hyperparameters = CaloGanHyperparameters
    network_names = ("generator", "discriminator")
    n_attributes = 0

    def __init__(self, spec: ModelSpec, data: DataDescription):
        super().__init__(spec, data)
        hp = self.hp
        self.layers = [n for n in data.inputs if len(data.variables[n].shape) == 2]
        self.voxels = next((n for n in data.inputs if len(data.variables[n].shape) == 3), None)
        self.zero_inputs = [n for n in data.inputs if len(data.variables[n].shape) == 1]
        self.energy = hp.energy
        self.attributes = [c for c in data.conditions if c != self.energy]
        one_kind = bool(self.layers) != (self.voxels is not None)  # layers or one voxel grid, not both
        if not one_kind or self.energy not in data.conditions or len(self.attributes) != self.n_attributes:
            msg = (f"model {spec.name!r}: {self.architecture} reads 2-D layer inputs or one 3-D voxel input, "
                   f"the condition {self.energy!r} and {self.n_attributes} attribute conditions; got inputs {data.inputs}, "
                   f"conditions {data.conditions}")
            raise SpecError(msg)
        self.latent_dim, self.energy_weight = hp.latent_dim, hp.energy_weight
        if hp.start_from_data and hp.generator != "normalised":
            msg = f"model {spec.name!r}: start_from_data needs generator: normalised (its output heads)"
            raise SpecError(msg)
        if hp.feature_mmd > 0 and hp.discriminator != "physics":
            msg = f"model {spec.name!r}: feature_mmd needs discriminator: physics (its shower features)"
            raise SpecError(msg)
        if self.voxels is None:
            sizes = [data.variables[n].shape for n in self.layers]
        else:
            n_layers, *size = data.variables[self.voxels].shape
            sizes = [tuple(size)] * n_layers
        self.threshold = self._threshold()
        self.mmd_columns = feature_columns(spec.name, CaloGanPhysicsDiscriminator.GROUPS,
                                           CaloGanPhysicsDiscriminator.group_widths(len(sizes)), hp.mmd_features)
        self.networks = nn.ModuleDict({"generator": self._generator(sizes, hp),
                                       "discriminator": self._discriminator(sizes, hp)})

    def _generator(self, sizes, hp) -> nn.Module:
        if hp.generator == "normalised":
            return CaloGanNormalisedGenerator(sizes, self.latent_dim, hidden=tuple(hp.generator_hidden),
                                              dense_conditioning=hp.dense_conditioning, response=hp.response,
                                              n_attributes=self.n_attributes)
        return self._paper_generator(sizes, hp)

    def _discriminator(self, sizes, hp) -> nn.Module:
        if hp.discriminator == "physics":
            return CaloGanPhysicsDiscriminator(sizes, self._cell_centres(), hidden=tuple(hp.discriminator_hidden),
                                               cells=hp.cell_features, mbd_kernels=hp.mbd_kernels,
                                               mbd_dims=hp.mbd_dims, group_mbd=tuple(hp.group_mbd),
                                               n_attributes=self.n_attributes)
        return self._paper_discriminator(sizes, hp)

    def _paper_generator(self, sizes, hp) -> nn.Module:
        return CaloGanGenerator(sizes, self.latent_dim, dense_channels=hp.dense_channels,
                                conv_channels=hp.conv_channels, lc_channels=hp.lc_channels)

    def _paper_discriminator(self, sizes, hp) -> nn.Module:
        return CaloGanDiscriminator(sizes, channels=tuple(hp.discriminator_channels),
                                    mbd_kernels=hp.mbd_kernels, mbd_dims=hp.mbd_dims)

    def _cell_centres(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Cell-centre coordinates (y, x) of each layer in mm, from the training store's coordinates
        (the ones the observables use); zeros when rebuilt without the store (the checkpoint's
        discriminator state carries them)."""
        if self.voxels is not None:  # one grid, the same for every layer
            info = self.data.variables[self.voxels]
            return [self._centres(self.voxels, info.dims[1:], info.shape[1:])] * info.shape[0]
        return [self._centres(n, self.data.variables[n].dims, self.data.variables[n].shape) for n in self.layers]

    def _centres(self, name: str, dims: tuple[str, ...], shape: tuple[int, ...]) -> tuple[torch.Tensor, ...]:
        if self.data.reference is None:
            return tuple(torch.zeros(n) for n in shape)
        cells = self.data.reference[name]
        return tuple(torch.tensor(cells[dim].values, dtype=torch.float32) for dim in dims)

    def _threshold(self) -> float:
        """The voxel detector's readout threshold in the training space (0 for layered inputs, and
        when rebuilt without the store: the checkpoint's extra state carries it)."""
        if self.voxels is None or self.data.reference is None:
            return 0.0
        threshold = torch.tensor([cell_threshold(self.data.reference.physgen.detector)], dtype=torch.float64)
        return float(self.data.encode({self.voxels: threshold})[self.voxels])

    def _layers(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """The readout layers of a batch, front to back."""
        return list(batch[self.voxels].unbind(1)) if self.voxels is not None else [batch[n] for n in self.layers]

    def _attributes(self, batch: dict[str, torch.Tensor]) -> torch.Tensor | None:
        return self.data.concat(batch, self.attributes) if self.attributes else None

    def _fake(self, energy, attributes, generator: torch.Generator | None = None, *,
              training: bool = True) -> tuple[torch.Tensor, ...]:
        """Generated layers; with a readout threshold t, cells below it are zero. In training the cut
        passes the gradient of a smooth gate ``x · σ((x − t) / 0.1 t)`` (a surrogate gradient,
        straight-through style: Bengio et al., arXiv:1308.3432), so that a cell near the cut learns
        whether to cross it while the discriminator sees exactly what is stored."""
        z = latent_noise(self.networks, len(energy), self.latent_dim, generator)
        layers = self.networks["generator"](z, energy, attributes)
        if self.threshold <= 0:
            return layers
        cut = tuple(apply_cell_threshold(x, self.threshold) for x in layers)
        if not training:
            return cut
        gates = (x * torch.sigmoid((x - self.threshold) / (0.1 * self.threshold)) for x in layers)
        return tuple(c + (g - g.detach()) for c, g in zip(cut, gates, strict=True))

    def _loss_options(self, attributes) -> tuple[dict[str, Any], dict[str, Any]]:
        """Extra keyword arguments of the discriminator and generator losses (conditional version)."""
        return {}, {}

    def training_step(self, batch, step):
        D = self.networks["discriminator"]
        real = self._layers(batch)
        energy = batch[self.energy].reshape(-1)
        attributes = self._attributes(batch)
        d_options, g_options = self._loss_options(attributes)
        if isinstance(D, CaloGanPhysicsDiscriminator) and not D.fitted:
            D.fit(real, energy)
            self.state_sync(D)
        if step == 0 and self.hp.start_from_data:
            self.networks["generator"].start_from(real, energy)
            self.state_sync(self.networks["generator"])
        logged, adversarial = {}, self.hp.adversarial_weight > 0
        if adversarial:
            with torch.no_grad():
                fake = self._fake(energy, attributes)
            d = calogan_discriminator_loss(D, real, energy, fake, energy, energy_weight=self.energy_weight,
                                           **d_options)
            self.optimizer_step("discriminator", d.total)
            logged = {"d_loss": d.total.item()} | {f"d_{k}": v for k, v in d.parts.items()}
        fake = self._fake(energy, attributes)
        if adversarial:
            g = calogan_generator_loss(D, fake, energy, energy_weight=self.energy_weight, **g_options)
            g.total = self.hp.adversarial_weight * g.total
        else:
            g = GanLoss(torch.zeros((), device=energy.device), {})
        if self.hp.feature_mmd > 0:
            with torch.no_grad():
                target = self._mmd_features(D, real, energy, attributes)
            mmd = feature_mmd2(target, self._mmd_features(D, fake, energy, attributes), self.hp.mmd_bandwidths)
            g.total = g.total + self.hp.feature_mmd * mmd
            g.parts["mmd"] = mmd.item()
        self.optimizer_step("generator", g.total)
        return logged | {"g_loss": g.total.item()} | {f"g_{k}": v for k, v in g.parts.items()}

    def _mmd_features(self, D: CaloGanPhysicsDiscriminator, layers, energy, attributes) -> torch.Tensor:
        """The standardised shower features the MMD compares, with the (standardised) attributes
        beside them: fakes are made for the real batch's conditions, so the MMD then compares the
        joint distributions of conditions and showers, not only the showers' marginals."""
        features = D.standardised(layers, energy)[0][:, self.mmd_columns]
        return features if attributes is None else torch.cat([features, attributes], dim=1)

    @torch.no_grad()
    def sample(self, n, conditions, generator):
        energy = required_condition(self.spec.name, conditions, self.energy)
        images = self._fake(energy, self._attributes(conditions), generator, training=False)
        if self.voxels is not None:
            out = {self.voxels: torch.stack(images, dim=1).float()}
        else:
            out = {name: x.float() for name, x in zip(self.layers, images, strict=True)}
        return out | {name: torch.zeros(n, *self.data.variables[name].shape, device=energy.device)
                      for name in self.zero_inputs}

    def extra_state(self):
        return {"threshold": self.threshold}

    def load_extra_state(self, state):
        self.threshold = float(state.get("threshold", 0.0))


@register_architecture("calogan_conditional")
class ConditionalCaloGan(CaloGan):
    """Recipe of paper 003's conditional CaloGAN: ``conditions: [energy, x0, y0, theta, phi]``
    (attributes standardised by the spec), attribute regression with weights ``attribute_weights``.
    The compact options (``generator: normalised``, ``discriminator: physics``) take the four
    attributes beside the energy, the physics discriminator regresses them, and ``feature_mmd``
    compares the showers' features jointly with the attributes."""

    Hyperparameters = ConditionalCaloGanHyperparameters
    n_attributes = 4

    def _paper_generator(self, sizes, hp) -> nn.Module:
        return ConditionalCaloGanGenerator(sizes, self.latent_dim, n_attributes=self.n_attributes,
                                           dense_channels=hp.dense_channels,
                                           conv_channels=hp.conv_channels, lc_channels=hp.lc_channels)

    def _paper_discriminator(self, sizes, hp) -> nn.Module:
        return ConditionalCaloGanDiscriminator(sizes, n_attributes=self.n_attributes,
                                               soft_sparsity=tuple(hp.soft_sparsity),
                                               channels=tuple(hp.discriminator_channels),
                                               mbd_kernels=hp.mbd_kernels, mbd_dims=hp.mbd_dims)

    def _loss_options(self, attributes):
        weights = self.hp.attribute_weights
        return ({"real_attributes": attributes, "attribute_weights": weights},
                {"requested_attributes": attributes, "attribute_weights": weights})
