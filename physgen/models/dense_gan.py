"""Dense (fully connected) GAN on per-event features: the Z→μμ GAN of paper 002 and the toy
GANs of paper 004 are this architecture with different sizes (docs/PHYSICS.md §7, §8).

* Generator: noise (``latent_dim``) [+ conditions] → ``generator_layers`` → the input features,
  linear output; activation ``leaky_relu`` (paper 002) or ``relu``.
* Discriminator: features [+ conditions] → ``discriminator_layers`` → 1 logit; the paper's
  sigmoid output is applied inside :func:`torch.nn.functional.binary_cross_entropy_with_logits`
  (same loss, numerically stable).
* Loss: BCE with the non-saturating generator loss, ``d_steps`` discriminator steps per
  ``g_steps`` generator steps. Optional ``mass_constraint: {c1, c2}`` adds paper 002's
  c1 (⟨M_ll⟩ − M̄)² + c2 (σ(M_ll) − σ̄)² to the generator loss, with M_ll computed
  differentiably from the inverse-transformed muon four-vectors and M̄, σ̄ taken from the
  reference store (not hard-coded). ``window: [lo, hi]`` computes both moments of the events
  inside it only, in the reference and in each generated batch: over all events σ(M_ll) is set by
  the far tails (a few % of the events), so matching it says little about the peak's width.
  ``start: S, ramp: R`` switch the penalty on after S steps and raise its weight linearly to full over
  the next R steps (default: on from the first step, as paper 002). ``mmd: λ`` adds λ·MMD²(M_ll) between the
  generated and the real batch (Gaussian kernels of ``mmd_widths``, GeV; Butter, Plehn, Winterhalder,
  arXiv:1907.03764): the moments leave the peak's shape free, and a classifier on the muon features sees a
  core too broad and no radiative tail.
* ``pack: m`` (default 1, as paper 002): the discriminator judges m events of one kind at a time, their
  features side by side (PacGAN, Lin et al. 2018, arXiv:1712.04086): a generator that drops a mode makes
  packs that lack it more often than real packs do, which a discriminator of single events sees only weakly
  (the compact Z→μμ GAN dropped the 31 % of events with a jet above 20 GeV; README, model zoo).
* ``on_shell_muons: true``: the muon energies are not left to the generator but computed from its
  muon momenta, E = sqrt(|p|² + m_μ²), as the simulator stores them (physgen.sim.zmumu; for
  |p| > 10 GeV, E = |p| to 6·10⁻⁵), and put back through the energies' transforms before the
  discriminator, the mass penalty and the output see them. A generator that makes E beside p makes
  E ≠ |p| by a few % to tens of %, which a classifier on the 17 features separates on and which
  widens M_ll (M_ll² ≈ 2 |p1| |p2| (1 − cos θ12) for on-shell muons of |p| ≫ m_μ).
"""

from __future__ import annotations

from functools import partial
from typing import Literal

import dask
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, PositiveInt
from torch import nn

from physgen.errors import SpecError
from physgen.models._base import DataDescription, Recipe, mlp, register_architecture
from physgen.models.blocks import mmd2
from physgen.models.dimuon import MUON_FEATURES, dimuon_mass, muon_energies
from physgen.observables import compute
from physgen.specs import ModelSpec

__all__ = ["DenseGAN", "DenseGANHyperparameters", "DenseNetwork", "mass_mmd2"]

_ACTIVATIONS = {"leaky_relu": lambda slope: partial(nn.LeakyReLU, slope), "relu": lambda slope: nn.ReLU}


def mass_mmd2(generated: torch.Tensor, real: torch.Tensor, widths: list[float]) -> torch.Tensor:
    """Squared maximum mean discrepancy between two samples of M_ll (GeV) with a sum of Gaussian kernels of
    the given widths (biased estimator, Gretton et al. 2012): the resonance-mass loss of Butter, Plehn and
    Winterhalder (arXiv:1907.03764, §3), which a GAN needs to learn a narrow peak's shape, not only its moments:
    :func:`physgen.models.blocks.mmd2` on the 1-D masses, whose kernels take the squared widths."""
    return mmd2(generated.reshape(-1, 1), real.reshape(-1, 1), tuple(w * w for w in widths))


class DenseNetwork(nn.Module):
    """An MLP ``n_in → hidden… → n_out`` whose input is the concatenation of its arguments."""

    def __init__(self, n_in: int, hidden: list[int], n_out: int, activation: str = "leaky_relu",
                 negative_slope: float = 0.2):
        super().__init__()
        if activation not in _ACTIVATIONS:
            msg = f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}"
            raise SpecError(msg)
        self.body = mlp([n_in, *hidden, n_out], _ACTIVATIONS[activation](negative_slope))

    def forward(self, *parts: torch.Tensor) -> torch.Tensor:
        return self.body(torch.cat(parts, dim=1) if len(parts) > 1 else parts[0])


class MassConstraint(BaseModel):
    """Weights of paper 002's c1 (⟨M_ll⟩ − M̄)² + c2 (σ(M_ll) − σ̄)² generator penalty, of the MMD² of
    M_ll beside it, and when they act (the module docstring)."""

    model_config = ConfigDict(extra="forbid")
    c1: float = Field(1e-4, ge=0)
    c2: float = Field(1e-4, ge=0)
    window: tuple[float, float] | None = Field(None, description="GeV: moments of the events inside only")
    mmd: float = Field(0, ge=0, description="weight of the MMD² of M_ll between the generated and the real batch")
    mmd_widths: list[float] = Field([1.0, 2.0, 5.0], description="GeV: widths of the MMD's Gaussian kernels")
    mmd_events: PositiveInt | None = Field(None, description="first events of each batch the MMD uses (cost ∝ n²)")
    start: int = Field(0, ge=0, description="training steps without the penalty")
    ramp: int = Field(0, ge=0, description="steps after `start` over which its weight rises linearly to 1")

    def weight(self, step: int) -> float:
        """Fraction of the weights applied at training step ``step``: 0 before ``start``, then linear to 1 over
        ``ramp``."""
        if step < self.start:
            return 0.0
        return min(1.0, (step - self.start + 1) / self.ramp) if self.ramp else 1.0


class DenseGANHyperparameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    latent_dim: PositiveInt | None = Field(None, description="noise inputs (default: one per generated feature)")
    generator_layers: list[PositiveInt] = [64, 128, 256, 512, 256, 128]
    discriminator_layers: list[PositiveInt] = [128, 128, 256, 256, 128, 64, 32, 16, 8]
    activation: Literal["leaky_relu", "relu"] = "leaky_relu"
    discriminator_activation: Literal["leaky_relu", "relu"] | None = Field(None, description="default: activation")
    negative_slope: float = Field(0.2, ge=0)
    d_steps: PositiveInt = 1
    g_steps: PositiveInt = 1
    mass_constraint: MassConstraint | None = Field(None, description="{c1: 1e-4, c2: 1e-4} for the Z→μμ GAN")
    on_shell_muons: bool = Field(False, description="muon energies computed from the generated momenta and m_μ")
    pack: PositiveInt = Field(1, description="events the discriminator judges together (PacGAN)")


@register_architecture("dense_gan")
class DenseGAN(Recipe):
    """Recipe of the dense GAN (hyperparameters: see the module docstring and :class:`DenseGANHyperparameters`)."""

    Hyperparameters = DenseGANHyperparameters
    network_names = ("generator", "discriminator")

    def __init__(self, spec: ModelSpec, data: DataDescription):
        super().__init__(spec, data)
        hp = self.hp
        self.n_features = data.width(data.inputs)
        self.n_conditions = data.width(data.conditions + data.labels)
        self.latent_dim = hp.latent_dim or self.n_features
        self.d_steps, self.g_steps, self.pack = hp.d_steps, hp.g_steps, hp.pack
        act, slope = hp.activation, hp.negative_slope
        self.networks = nn.ModuleDict({
            "generator": DenseNetwork(self.latent_dim + self.n_conditions, hp.generator_layers,
                                      self.n_features, act, slope),
            "discriminator": DenseNetwork(hp.pack * (self.n_features + self.n_conditions), hp.discriminator_layers,
                                          1, hp.discriminator_activation or act, slope),
        })
        self.mass_constraint = hp.mass_constraint
        self.on_shell_muons = hp.on_shell_muons
        self.mass_targets: tuple[float, float] | None = None
        missing = [f for f in MUON_FEATURES if f not in data.inputs]
        needing = [name for name, on in (("mass_constraint", self.mass_constraint is not None),
                                         ("on_shell_muons", self.on_shell_muons)) if on]
        if missing and needing:
            msg = f"model {spec.name!r}: {needing[0]} needs the muon features {missing} among data.inputs"
            raise SpecError(msg)
        if self.mass_constraint is not None:
            if data.reference is not None:
                self.mass_targets = self._reference_mass(data.reference, self.mass_constraint.window)

    @staticmethod
    def _reference_mass(reference, window: tuple[float, float] | None) -> tuple[float, float]:
        """Mean and RMS of M_ll (the ``m_ll`` observable) in the reference store (inside ``window``), in one
        dask pass."""
        m = compute(reference, ["m_ll"])["m_ll"]
        if window is not None:
            m = m.where((m >= window[0]) & (m <= window[1]))  # NaN outside: skipped by mean and std
        mean, std = dask.compute(m.mean(), m.std())
        return float(mean), float(std)

    def _judge(self, events: torch.Tensor, cond: list[torch.Tensor]) -> torch.Tensor:
        """Discriminator logits of the events in packs of ``pack`` (features and conditions side by side; a
        batch's remainder that fills no pack is left out)."""
        x = torch.cat([events, *cond], dim=1) if cond else events
        n = len(x) // self.pack * self.pack
        return self.networks["discriminator"](x[:n].reshape(n // self.pack, -1))

    def _conditioning(self, batch: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        names = self.data.conditions + self.data.labels
        return [self.data.concat(batch, names)] if names else []

    def _noise(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        device = next(self.networks.parameters()).device
        return torch.randn(n, self.latent_dim, device=device, generator=generator)

    def _generate(self, noise: torch.Tensor, cond: list[torch.Tensor]) -> torch.Tensor:
        """Generator output in the network's space; with ``on_shell_muons`` the muon energies from the momenta."""
        fake = self.networks["generator"](noise, *cond)
        if not self.on_shell_muons:
            return fake
        parts = self.data.split(fake, self.data.inputs)
        momenta = self.data.inverse({k: parts[k].float() for k in MUON_FEATURES if not k.endswith("_e")})
        energies = self.data.encode(muon_energies(momenta))
        return self.data.concat(parts | {k: v.to(fake.dtype) for k, v in energies.items()}, self.data.inputs)

    def training_step(self, batch, step):
        real = self.data.concat(batch, self.data.inputs)
        cond = self._conditioning(batch)
        n = len(real)
        packs = n // self.pack
        ones, zeros = torch.ones(packs, 1, device=real.device), torch.zeros(packs, 1, device=real.device)
        for _ in range(self.d_steps):
            with torch.no_grad():
                fake = self._generate(self._noise(n), cond)
            d_loss = (F.binary_cross_entropy_with_logits(self._judge(real, cond).float(), ones)
                      + F.binary_cross_entropy_with_logits(self._judge(fake, cond).float(), zeros))
            self.optimizer_step("discriminator", d_loss)
        logs: dict[str, float] = {"d_loss": d_loss.item()}
        for _ in range(self.g_steps):
            fake = self._generate(self._noise(n), cond)
            g_loss = F.binary_cross_entropy_with_logits(self._judge(fake, cond).float(), ones)
            logs["g_bce"] = g_loss.item()
            weight = self.mass_constraint.weight(step) if self.mass_constraint is not None else 0.0
            if weight > 0 and self.mass_targets is not None:
                physical = self.data.inverse(self.data.split(fake.float(), self.data.inputs))
                m = dimuon_mass(physical)
                if self.mass_constraint.mmd > 0:
                    k = self.mass_constraint.mmd_events or n
                    parts = self.data.split(real[:k].float(), self.data.inputs)
                    m_real = dimuon_mass(self.data.inverse({name: parts[name] for name in MUON_FEATURES}))
                    mmd = weight * self.mass_constraint.mmd * mass_mmd2(m[:k], m_real, self.mass_constraint.mmd_widths)
                    g_loss = g_loss + mmd
                    logs["mass_mmd"] = mmd.item()
                window = self.mass_constraint.window
                if window is not None:
                    m = m[(m >= window[0]) & (m <= window[1])]
                if m.numel() > 1:  # a batch with (almost) nothing in the window has no moments to match
                    mean, rms = self.mass_targets
                    penalty = weight * (self.mass_constraint.c1 * (m.mean() - mean) ** 2
                                        + self.mass_constraint.c2 * (m.std() - rms) ** 2)
                    g_loss = g_loss + penalty
                    logs |= {"mass_penalty": penalty.item(), "m_ll_mean": m.mean().item()}
            self.optimizer_step("generator", g_loss)
        logs["g_loss"] = g_loss.item()
        return logs

    @torch.no_grad()
    def sample(self, n, conditions, generator):
        cond = self._conditioning(conditions) if conditions else []
        fake = self._generate(self._noise(n, generator=generator), cond)
        return self.data.split(fake.float(), self.data.inputs)

    def extra_state(self):
        return {"mass_targets": self.mass_targets}

    def load_extra_state(self, state):
        if state.get("mass_targets") is not None:
            self.mass_targets = tuple(state["mass_targets"])
