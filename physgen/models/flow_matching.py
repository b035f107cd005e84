"""Conditional flow matching: a generator that integrates a learnt velocity field from noise to data.

Flow matching (Lipman, Chen, Ben-Hamu, Nickel, Le, arXiv:2210.02747) trains a velocity field
v_θ(x, t[, c]) whose ODE dx/dt = v_θ carries the standard normal at t = 0 to the data at t = 1. With
the *optimal-transport* conditional path of that paper (its Eqs. 20–23) a training event x₁ and a noise
draw x₀ ~ N(0, 1) define the straight line

    x_t = (1 − (1 − σ_min) t) x₀ + t x₁,    u_t = x₁ − (1 − σ_min) x₀,

and the conditional flow-matching loss is E_{t~U(0,1), x₀, x₁} ‖v_θ(x_t, t[, c]) − u_t‖². At σ_min = 0 this
is the rectified flow of Liu, Gong, Liu (arXiv:2209.03003, their Eq. 1: X_t = t X₁ + (1 − t) X₀, target
X₁ − X₀). Its minimiser is the marginal velocity E[u_t | x_t], whose ODE transports N(0, 1) to the data
distribution exactly (Lipman et al., Theorem 1); sampling integrates it with a fixed-step solver.

* Velocity field: an MLP on [x_t, time embedding(t), conditions] → one velocity per generated number. The
  time embedding is sin/cos of 2π f t at ``time_embedding / 2`` frequencies f spaced geometrically from 1 to
  ``max_frequency`` (random Fourier features of Tancik et al., arXiv:2006.10739, on a fixed grid).
* Conditions (``data.conditions`` and ``data.labels``, transformed) enter the field beside x_t, so the same
  recipe is an unconditional or a conditional generator.
* Sampling: ``ode_steps`` fixed steps of ``ode_solver`` (``euler``, ``midpoint``, ``heun``, ``rk4``) from
  t = 0 to 1; the noise is drawn from the caller's torch generator, the rest is deterministic. A sample
  costs ``ode_steps`` × (1, 2, 2, 4) network passes (the solver's stages).
* ``ema_decay``: the sampled (and shipped) network ``generator`` is the exponential moving average of the
  trained network ``velocity``'s weights, updated after each optimiser step (0: a plain copy); EMA is the
  usual companion of flow and diffusion training (e.g. Song et al., arXiv:2011.13456).
* ``coupling: minibatch_ot``: the batch's noise draws are paired with its events by the exact optimal-transport
  plan of the squared distance (a permutation for equal batches; scipy's linear_sum_assignment), not at
  random: OT-CFM of Tong et al. (arXiv:2302.00482, Alg. 2) and Pooladian et al. (arXiv:2304.14772), whose
  straighter, lower-variance targets give a more precise field for the same training.
* ``muon_coordinates: mass`` (Z→μμ features only): the flow learns the two muons not as their Cartesian
  momenta but as (log p_T1, η1, η2, Δφ, log M_ll) (:func:`physgen.models.dimuon.to_mass_coordinates`), standardised with the
  training events' moments; the momenta follow from them, the energies on shell (so it implies
  ``on_shell_muons``). A narrow resonance is a thin shell in momentum space, which a flow smears (the
  Cartesian flow's M_ll came out 3 GeV too wide in RMS); as a coordinate of its own it is a 1-D peak.
  This is the phase-space mapping with the resonance mass as a variable that event generators and the
  LHC flow generators use (e.g. Butter et al., arXiv:2110.13632). ``rest_frame`` goes one step further
  (:func:`physgen.models.dimuon.to_rest_frame_coordinates`): the dimuon system's (log M_ll, log p_T,ll, y_ll) and the leading
  muon's direction in the dimuon rest frame (atanh cos θ*, φ*), the Z's production and decay variables, so
  that p_T,ll and Δφ_μμ, which the ``mass`` coordinates leave as differences of large numbers, are learnt
  as such too.
* ``leading_muon_first`` (Z→μμ features only): zmumu17 stores the muon of larger p_T first and rotates the
  event so that it has p_y = 0, p_x > 0; a flow meets that ordering only approximately (7–11 % of the
  generated events had the larger p_T on the second muon). Such events are relabelled: the muons swap (with
  their isolations) and the event, MET included, is rotated to the convention (:func:`physgen.models.dimuon.leading_muon_first`).
* ``shower_coordinates: energy_fractions`` (calorimeter showers: each input a group of cell energies, a readout
  layer or the overflow; the condition ``incident_energy`` the incident energy): the flow learns a shower in the
  coordinates of CaloFlow (Krause, Shih, arXiv:2106.05285): log(E_tot / E_inc), the layers' stick-breaking
  energy ratios and each layer's cell pattern normalised to its energy, all through a logit, the cells'
  exact zeros dequantised by uniform noise up to ``cell_noise`` (:mod:`physgen.models.shower_fractions`),
  standardised with the training showers' moments. Generated cells below ``cell_threshold`` (default
  ``cell_noise``; higher leaves an empty margin, as ``spread_zeros`` does) are exact zeros; ``fraction_noise``
  and ``fraction_threshold`` do the same relative to the layer energy, so that the noise cells sit at one
  place whatever the incident energy. ``clamp_to_training_range`` clamps each generated coordinate to the
  training showers' range: the flow overshoots the upper edge of the bimodal (zero or not) cell coordinates
  (an edge cell of layer 1: 99 % quantile 2.06 σ for the reference's 1.19 σ, i.e. ×100 in energy), which
  in the energy-weighted lateral widths made the showers 40–65 % too wide
  and each layer holds exactly the energy its learnt coordinates give (energy conservation per layer), so
  E_tot, the layer fractions and the cell patterns each have a density of their own. ``core_shares`` splits
  each layer into groups by its cells' mean training energy (:func:`physgen.models.shower_fractions.ranked_groups`:
  the fewest cells holding the first share, the next ones up to the second, …, and the rest), each normalised on
  its own, so the share of the layer's energy that the far cells hold is a coordinate, not a sum of ~100 cells'
  errors: one layer learnt whole put 15.5 % of the CaloGAN positrons' layer-1 energy outside its 4 hottest cells
  for the reference's 9.8 %. ``layers_along_first_axis`` reads one input as its readout layers (the ILD's single
  (z, y, x) variable: 30 layers), each normalised and split on its own. ``core_cells`` learns only each layer's
  that many hottest cells one by one; the layer's other cells, its halo, enter as their energy and number of
  hits and are generated as hits placed by the training occupancy (:mod:`physgen.models.shower_halo`): a
  50 GeV ILD photon lights ≈ 520 of 27 000 cells, a quarter of them in cells lit in a few per cent of showers.
  ``impact_point`` (showers whose impact point varies, the conditional CaloGAN of paper 003) learns each layer's
  cells in a frame moved by whole cells to the cell under the impact point
  (:func:`physgen.models.shower_fractions.shift_grid`), so that the cell groups ranked by mean energy hold the core
  of every shower, not the area all showers visit; where in that cell the impact point lies is a condition of the
  field.
* ``lr_schedule: cosine``: the learning rate falls from the optimiser's to 0 over ``training.steps``.
* ``on_shell_muons`` (Z→μμ features only): the muon energies of a sample are recomputed from its momenta,
  E = sqrt(|p|² + m_μ²), as the simulator stores them (:func:`physgen.models.dimuon.muon_energies`).

Point masses (exact-zero isolations, absent jets) have no density a flow can learn; the ``spread_zeros``
transform of :mod:`physgen.train` dequantises them for training and maps them back when generating.
"""

from __future__ import annotations

import copy
import math
from typing import Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator
from scipy.optimize import linear_sum_assignment
from torch import nn

from physgen.errors import PhysgenError, SpecError
from physgen.models._base import DataDescription, Recipe, build_optimizer, mlp, register_architecture
from physgen.models.dimuon import (MOMENTUM_FEATURES, MUON_COORDINATES, MUON_FEATURES, leading_muon_first,
                                   muon_energies)
from physgen.models.shower_fractions import (
    GroupEnergies, from_energy_fractions, join_cells, n_ranked_groups, ranked_groups, shift_grid, split_cells,
    to_energy_fractions,
)
from physgen.models.shower_halo import HaloSpectrum, fit_halo, sample_halo
from physgen.specs import ModelSpec
from physgen.units import Quantity, parse_quantity, to_magnitude

__all__ = ["ODE_SOLVERS", "FlowMatching", "FlowMatchingHyperparameters", "VelocityField", "cfm_loss", "integrate",
           "ot_pairing", "straight_path"]

_ACTIVATIONS = {"silu": nn.SiLU, "relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2)}


class FlowMatchingHyperparameters(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hidden_layers: list[PositiveInt] = Field([256, 256, 256], description="widths of the velocity MLP")
    activation: Literal["silu", "relu", "leaky_relu"] = "silu"
    time_embedding: PositiveInt = Field(32, description="sin/cos features of t (an even number)")
    max_frequency: float = Field(100.0, ge=1, description="highest frequency of the time embedding")
    sigma_min: float = Field(0.0, ge=0, lt=1, description="width of the path's end point (0: rectified flow)")
    ode_solver: Literal["euler", "midpoint", "heun", "rk4"] = "midpoint"
    ode_steps: PositiveInt = Field(20, description="fixed integration steps from noise (t=0) to data (t=1)")
    ema_decay: float = Field(0.999, ge=0, lt=1, description="EMA of the sampled weights (0: the trained weights)")
    on_shell_muons: bool = Field(False, description="muon energies computed from the generated momenta and m_mu")
    leading_muon_first: bool = Field(False, description="relabel muons so that the first has the larger p_T")
    muon_coordinates: Literal["cartesian", "mass", "rest_frame"] = Field(
        "cartesian", description="mass: the muons as (log pT1, eta1, eta2, dphi, log M_ll); rest_frame: as the "
        "dimuon system (log M_ll, log pT_ll, y_ll) and the leading muon's direction in its rest frame")
    coupling: Literal["independent", "minibatch_ot"] = Field(
        "independent", description="pairing of noise and data draws in a batch (minibatch_ot: exact OT plan)")
    shower_coordinates: Literal["cells", "energy_fractions"] = Field(
        "cells", description="energy_fractions: a calorimeter shower learnt as log(E_tot/E_inc), the layers' "
        "energy ratios and each layer's normalised cell pattern (CaloFlow, arXiv:2106.05285)")
    incident_energy: str = Field("energy", description="the condition holding the incident energy "
                                 "(shower_coordinates: energy_fractions)")
    cell_noise: str = Field("1 keV", description="uniform noise added to every cell while training "
                            "(shower_coordinates: energy_fractions); generated cells below it are zero")
    cell_threshold: str | None = Field(None, description="generated cells below it are zero (default: cell_noise; "
                                       "higher: an empty margin above the noise cells, shower_coordinates: "
                                       "energy_fractions)")
    fraction_noise: float = Field(0.0, ge=0, lt=1e-3, description="uniform noise added to each cell's fraction of "
                                  "its layer energy while training (shower_coordinates: energy_fractions)")
    fraction_threshold: float = Field(0.0, ge=0, lt=1e-2, description="generated fractions below it are zero "
                                      "(at least fraction_noise; shower_coordinates: energy_fractions)")
    group_energies: GroupEnergies = Field(
        "stick_breaking", description="how E_tot's split over the groups is learnt: CaloFlow's stick-breaking "
        "ratios, or the log of each group's share (softmax back; for many groups, shower_coordinates: "
        "energy_fractions)")
    core_shares: list[float] = Field([], description="ascending shares in (0, 1): each input's cells split by their "
                                     "mean training energy into the fewest holding the first share, the next up to "
                                     "the second, ..., and the rest, each group normalised on its own "
                                     "(shower_coordinates: energy_fractions)")
    layers_along_first_axis: bool | list[str] = Field(
        False, description="the inputs (true: all) whose first axis holds readout layers (the ILD's one (z, y, x) "
        "variable; the CaloGAN layer 0's three rows): each layer is normalised, and split by core_shares, on its "
        "own (shower_coordinates: energy_fractions)")
    core_cells: PositiveInt | None = Field(
        None, description="per layer only its core_cells hottest cells (by mean training energy) are learnt cell by "
        "cell; the others, its halo, are learnt as their energy and number of hits and generated as hits "
        "(physgen.models.shower_halo; shower_coordinates: energy_fractions)")
    impact_point: list[str] = Field(
        [], description="the two conditions holding the impact point (x, y): each input's cells (its last two axes, y "
        "and x) are learnt in a frame moved by whole cells to the cell under it (shower_coordinates: energy_fractions)")
    occupancy_calibration: bool = Field(
        False, description="before each snapshot is scored, one cell threshold per input fitted so that showers "
        "generated at the training showers' energies light as many cells as they do (shower_coordinates: "
        "energy_fractions)")
    occupancy_energy_bins: PositiveInt = Field(
        1, description="occupancy_calibration fits each input's threshold in this many bins of the incident energy "
        "(equal numbers of training showers), interpolated in log E between the bins' median energies")
    clamp_to_training_range: bool = Field(
        False, description="generated flow coordinates clamped to the training showers' range of each "
        "(shower_coordinates: energy_fractions)")
    lr_schedule: Literal["constant", "cosine"] = Field(
        "constant", description="cosine: learning rate from the optimiser's to 0 over training.steps")

    @field_validator("core_shares")
    @classmethod
    def _ascending_shares(cls, value: list[float]) -> list[float]:
        if any(not 0 < s < 1 for s in value) or any(a >= b for a, b in zip(value, value[1:])):
            msg = f"core_shares must ascend within (0, 1), got {value}"
            raise ValueError(msg)
        return value

    @field_validator("time_embedding")
    @classmethod
    def _even(cls, value: int) -> int:
        if value % 2:
            msg = f"time_embedding must be even (sin and cos of each frequency), got {value}"
            raise ValueError(msg)
        return value


class VelocityField(nn.Module):
    """v(x_t, t[, c]): an MLP on the state, a sin/cos embedding of t and the (optional) conditions."""

    def __init__(self, n_features: int, n_conditions: int, hidden: list[int], activation: str = "silu",
                 time_embedding: int = 32, max_frequency: float = 100.0):
        super().__init__()
        frequencies = torch.logspace(0, math.log10(max_frequency), time_embedding // 2)
        self.register_buffer("frequencies", 2 * math.pi * frequencies)
        self.body = mlp([n_features + time_embedding + n_conditions, *hidden, n_features], _ACTIVATIONS[activation])

    def forward(self, x: torch.Tensor, t: torch.Tensor, conditions: torch.Tensor | None = None) -> torch.Tensor:
        """Velocity at states ``x`` (events, features) and times ``t`` (events,) or a scalar."""
        phase = t.reshape(-1, 1).to(x.dtype) * self.frequencies.to(x.dtype)
        phase = phase.expand(len(x), -1)
        parts = [x, torch.sin(phase), torch.cos(phase)]
        if conditions is not None:
            parts.append(conditions.to(x.dtype))
        return self.body(torch.cat(parts, dim=1))


def straight_path(x0: torch.Tensor, x1: torch.Tensor, t: torch.Tensor,
                  sigma_min: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Point x_t and velocity u_t of the optimal-transport conditional path (Lipman et al., Eqs. 22–23)."""
    t = t.reshape(-1, *([1] * (x1.dim() - 1)))
    return (1 - (1 - sigma_min) * t) * x0 + t * x1, x1 - (1 - sigma_min) * x0


def cfm_loss(velocity: nn.Module, x1: torch.Tensor, x0: torch.Tensor, t: torch.Tensor,
             conditions: torch.Tensor | None = None, sigma_min: float = 0.0) -> torch.Tensor:
    """The conditional flow-matching loss: the mean over events of ‖v(x_t, t[, c]) − u_t‖² (Lipman et al.,
    Eq. 23)."""
    xt, target = straight_path(x0, x1, t, sigma_min)
    return ((velocity(xt, t, conditions) - target) ** 2).sum(dim=1).mean()


def ot_pairing(x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
    """Indices ``perm`` such that (x0[perm], x1) is the optimal-transport pairing of the two equal-size batches
    for the squared Euclidean cost (the assignment problem; scipy's Jonker–Volgenant solver)."""
    cost = torch.cdist(x1.detach().float(), x0.detach().float()).pow(2).cpu().numpy()
    rows, cols = linear_sum_assignment(cost)
    return torch.as_tensor(cols[np.argsort(rows)], device=x0.device)


ODE_SOLVERS = {"euler": 1, "midpoint": 2, "heun": 2, "rk4": 4}
"""Fixed-step solvers and their network passes per step."""


def integrate(velocity, x: torch.Tensor, steps: int, solver: str = "midpoint",
              t0: float = 0.0, t1: float = 1.0) -> torch.Tensor:
    """x(t1) of dx/dt = velocity(x, t) from x(t0) = ``x`` in ``steps`` equal steps of ``solver``
    (explicit Euler, midpoint, Heun or classical Runge–Kutta 4; Hairer, Nørsett, Wanner, *Solving ODEs I*, II.1)."""
    if solver not in ODE_SOLVERS:
        msg = f"ode_solver must be one of {sorted(ODE_SOLVERS)}, got {solver!r}"
        raise SpecError(msg)
    h = (t1 - t0) / steps
    for i in range(steps):
        t = torch.full((), t0 + i * h, dtype=x.dtype, device=x.device)
        k1 = velocity(x, t)
        if solver == "euler":
            x = x + h * k1
        elif solver == "midpoint":
            x = x + h * velocity(x + 0.5 * h * k1, t + 0.5 * h)
        elif solver == "heun":
            x = x + 0.5 * h * (k1 + velocity(x + h * k1, t + h))
        else:
            k2 = velocity(x + 0.5 * h * k1, t + 0.5 * h)
            k3 = velocity(x + 0.5 * h * k2, t + 0.5 * h)
            k4 = velocity(x + h * k3, t + h)
            x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


@register_architecture("flow_matching")
class FlowMatching(Recipe):
    """Recipe of the flow-matching generator (the module docstring; :class:`FlowMatchingHyperparameters`).

    Networks: ``velocity`` (trained; ``training.optimizers`` may name it) and ``generator`` (its EMA, sampled
    and exported as the shipped generator).
    """

    Hyperparameters = FlowMatchingHyperparameters
    network_names = ("velocity",)

    def __init__(self, spec: ModelSpec, data: DataDescription):
        super().__init__(spec, data)
        hp = self.hp
        self.n_conditions = data.width(data.conditions + data.labels)
        missing = [f for f in MUON_FEATURES if f not in data.inputs]
        needing = [name for name, on in (("on_shell_muons", hp.on_shell_muons),
                                         (f"muon_coordinates: {hp.muon_coordinates}",
                                          hp.muon_coordinates != "cartesian")) if on]
        if needing and missing:
            msg = f"model {spec.name!r}: {needing[0]} needs the muon features {missing} among data.inputs"
            raise SpecError(msg)
        self.coordinates = MUON_COORDINATES.get(hp.muon_coordinates)
        if hp.leading_muon_first and not (hp.on_shell_muons or self.coordinates):
            msg = (f"model {spec.name!r}: leading_muon_first swaps muon momenta and recomputes their energies; "
                   "it needs on_shell_muons or muon_coordinates other than cartesian")
            raise SpecError(msg)
        self.others = [n for n in data.inputs if n not in MUON_FEATURES] if self.coordinates else data.inputs
        self.coordinate_moments: list[list[float]] | None = None
        """Mean and std of the muon or shower coordinates in the training events (``muon_coordinates`` not
        cartesian, ``shower_coordinates`` not cells)."""
        n_flow = data.width(self.others) + (5 if self.coordinates else 0)
        self.showers = hp.shower_coordinates == "energy_fractions"
        if hp.clamp_to_training_range and not self.showers:
            msg = f"model {spec.name!r}: clamp_to_training_range needs shower_coordinates energy_fractions"
            raise SpecError(msg)
        self.coordinate_range: list[list[float]] | None = None
        """Smallest and largest standardised shower coordinate of the training showers (clamp_to_training_range)."""
        self.cell_groups: list[list[list[int]]] | None = None
        """Per input, its groups of cells by mean training energy (``core_shares``; one group when not split)."""
        self.cell_thresholds: list[list[float]] | None = None
        """Per input, the cell thresholds of ``occupancy_calibration``, one per incident-energy bin (None:
        ``cell_threshold`` for all)."""
        self.threshold_energies: list[float] | None = None
        """The incident energies (the showers' units) at which ``cell_thresholds`` hold; None: one bin."""
        self.halo: list[HaloSpectrum] | None = None
        """Per halo group (``core_cells``), its cells' training occupancy and energy spectrum."""
        self.cell_grid: list[list[float] | None] | None = None
        """Per input with two or more axes, its cells' pitch and centre along y and x (the impact point's units;
        ``impact_point``)."""
        self._gathered: tuple | None = None
        """The cell groups and what :meth:`_gathering` made of them."""
        for name, on in (("core_shares", hp.core_shares), ("occupancy_calibration", hp.occupancy_calibration),
                         ("layers_along_first_axis", hp.layers_along_first_axis),
                         ("core_cells", hp.core_cells is not None),
                         ("impact_point", bool(hp.impact_point)),
                         ("group_energies", hp.group_energies != "stick_breaking")):
            if on and not self.showers:
                msg = f"model {spec.name!r}: {name} needs shower_coordinates energy_fractions"
                raise SpecError(msg)
        if hp.impact_point and (len(hp.impact_point) != 2 or not set(hp.impact_point) <= set(data.conditions)):
            msg = (f"model {spec.name!r}: impact_point names the two conditions holding x and y, got "
                   f"{hp.impact_point} (data.conditions: {data.conditions})")
            raise SpecError(msg)
        if hp.impact_point:  # where in its cell the impact point lies, per input of two or more axes (y, x)
            self.n_conditions += 2 * sum(len(data.variables[n].shape) >= 2 for n in data.inputs)
        layered = hp.layers_along_first_axis
        unknown = sorted(set(layered) - set(data.inputs)) if isinstance(layered, list) else []
        if unknown:
            msg = f"model {spec.name!r}: layers_along_first_axis names {unknown}, not among data.inputs {data.inputs}"
            raise SpecError(msg)
        if hp.occupancy_calibration and spec.training.selection is None:
            msg = (f"model {spec.name!r}: occupancy_calibration is fitted before each snapshot is scored; "
                   "it needs training.selection")
            raise SpecError(msg)
        if self.showers:
            self.cell_noise, self.cell_threshold, self.incident_factor = self._shower_units(spec, data)
            n_flow = sum(self._n_coordinates(name) for name in data.inputs) + (hp.group_energies == "log_shares")
        if hp.lr_schedule == "cosine" and spec.training.steps is None:
            msg = f"model {spec.name!r}: lr_schedule cosine decays over training.steps; set it (not epochs)"
            raise SpecError(msg)
        velocity = VelocityField(n_flow, self.n_conditions, hp.hidden_layers, hp.activation,
                                 hp.time_embedding, hp.max_frequency)
        generator = copy.deepcopy(velocity).requires_grad_(False)
        self.networks = nn.ModuleDict({"velocity": velocity, "generator": generator})

    def _shower_units(self, spec: ModelSpec, data: DataDescription) -> tuple[float, float, float]:
        """``cell_noise`` and ``cell_threshold`` in the cells' energy units and the factor from the incident
        energy's units to them
        (``shower_coordinates: energy_fractions``; SpecError when the spec does not fit it)."""
        hp = self.hp
        if self.coordinates or hp.on_shell_muons or hp.leading_muon_first:
            msg = f"model {spec.name!r}: shower_coordinates energy_fractions does not combine with the muon options"
            raise SpecError(msg)
        if hp.incident_energy not in data.conditions:
            msg = (f"model {spec.name!r}: shower_coordinates energy_fractions needs the incident energy "
                   f"{hp.incident_energy!r} among data.conditions {data.conditions} (hyperparameter incident_energy)")
            raise SpecError(msg)
        units = sorted({data.variables[n].units for n in data.inputs})
        if len(units) != 1 or not Quantity(1.0, units[0]).check("[energy]"):
            msg = f"model {spec.name!r}: shower_coordinates energy_fractions needs inputs of one energy unit, got {units}"
            raise SpecError(msg)
        try:
            noise = to_magnitude(parse_quantity(hp.cell_noise, "[energy]"), units[0])
            threshold = noise if hp.cell_threshold is None else to_magnitude(
                parse_quantity(hp.cell_threshold, "[energy]"), units[0])
            factor = to_magnitude(Quantity(1.0, data.variables[hp.incident_energy].units), units[0])
        except PhysgenError as exc:
            msg = f"model {spec.name!r}: hyperparameters.cell_noise, cell_threshold or the incident energy's units: {exc}"
            raise SpecError(msg) from None
        if noise <= 0:
            msg = f"model {spec.name!r}: hyperparameters.cell_noise must be positive, got {hp.cell_noise!r}"
            raise SpecError(msg)
        if hp.fraction_threshold < hp.fraction_noise:
            msg = (f"model {spec.name!r}: hyperparameters.fraction_threshold {hp.fraction_threshold} is below "
                   f"fraction_noise {hp.fraction_noise}: noise fractions would come back as energy")
            raise SpecError(msg)
        if threshold < noise:
            msg = (f"model {spec.name!r}: hyperparameters.cell_threshold {hp.cell_threshold!r} is below cell_noise "
                   f"{hp.cell_noise!r}: noise cells would come back as energy")
            raise SpecError(msg)
        return noise, threshold, factor

    def _layering(self, name: str) -> tuple[int, int, int]:
        """Input ``name``'s layers (``layers_along_first_axis``; else one), cells per layer, and learnt (core) cells
        per layer (``core_cells``; else all)."""
        variable, layered = self.data.variables[name], self.hp.layers_along_first_axis
        layers = variable.shape[0] if layered is True or (isinstance(layered, list) and name in layered) else 1
        size = variable.size // layers
        return layers, size, size if self.hp.core_cells is None else min(self.hp.core_cells, size)

    def _n_coordinates(self, name: str) -> int:
        """The flow coordinates of input ``name``: one energy coordinate per group of cells, one fraction per core
        cell, and per halo its fraction (the constant 1 of a one-cell group) and its number of hits."""
        layers, size, core = self._layering(name)
        groups = n_ranked_groups(layers * size, self.hp.core_shares, layers=layers, core_cells=self.hp.core_cells)
        return groups + layers * core + 2 * layers * (core < size)

    def _halo_flags(self) -> list[bool]:
        """Per group of cells (all inputs, in order), whether it is a layer's halo (``core_cells``)."""
        flags = []
        for name in self.data.inputs:
            layers, size, core = self._layering(name)
            flags += ([False] * n_ranked_groups(core, self.hp.core_shares) + [True] * (core < size)) * layers
        return flags

    def configure_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One optimiser, for ``velocity`` (the EMA ``generator`` is not trained by gradients)."""
        training = self.spec.training
        self.optimizers = {"velocity": build_optimizer(self.networks["velocity"].parameters(),
                                                       training.optimizers.get("velocity", training.optimizer))}
        return self.optimizers

    def initialise(self, data) -> None:
        """With ``muon_coordinates`` other than cartesian or ``shower_coordinates`` other than cells: the mean and
        std of those coordinates in the training events (at most the first 50 000; showers: 20 000, with their
        training noise from a fixed seed), which standardise them for the flow."""
        if self.showers:
            cells = self.data.width(self.data.inputs)
            n = min(data.n_train, 20_000, max(1000, 200_000_000 // cells))  # ILD: 7400 showers, 0.8 GB
            names = [*self.data.inputs, self.hp.incident_energy, *self.hp.impact_point]
            events = data.ds[names].isel(event=slice(0, n)).compute()
            if self.hp.impact_point:
                units = data.ds[self.hp.impact_point[0]].attrs.get("units", "")
                self.cell_grid = [_cell_grid(data.ds, k, units) for k in self.data.inputs]
            physical = self._framed({k: torch.as_tensor(events[k].values) for k in names})
            self.cell_groups = [ranked_groups(physical[k].reshape(n, -1).sum(dim=0).numpy(), self.hp.core_shares,
                                              layers=self._layering(k)[0], core_cells=self.hp.core_cells)
                                for k in self.data.inputs]
            parts = [part for k, groups in zip(self.data.inputs, self.cell_groups, strict=True)
                     for part in split_cells(physical[k].reshape(n, -1), groups)]
            self.halo = [fit_halo(part.numpy()) for part, halo in zip(parts, self._halo_flags(), strict=True) if halo]
            generator, chunk = torch.Generator().manual_seed(0), max(1, 20_000_000 // cells)
            coords = torch.cat([self._shower_coordinates({k: v[a:a + chunk] for k, v in physical.items()}, generator)
                                for a in range(0, n, chunk)])
            mean, std = coords.mean(dim=0), coords.std(dim=0)
            std = torch.where(std > 0, std, 1.0)
            self.coordinate_moments = [mean.tolist(), std.tolist()]
            standard = (coords - mean) / std
            self.coordinate_range = [standard.min(dim=0).values.tolist(), standard.max(dim=0).values.tolist()]
            return
        if not self.coordinates:
            return
        n = min(data.n_train, 50_000)
        events = data.ds[list(MOMENTUM_FEATURES)].isel(event=slice(0, n)).compute()
        coords = self.coordinates[0]({k: torch.as_tensor(events[k].values, dtype=torch.float64)
                                      for k in MOMENTUM_FEATURES})
        self.coordinate_moments = [coords.mean(dim=0).tolist(), coords.std(dim=0).tolist()]

    def extra_state(self):
        return {"coordinate_moments": self.coordinate_moments, "coordinate_range": self.coordinate_range,
                "cell_groups": self.cell_groups, "cell_thresholds": self.cell_thresholds,
                "threshold_energies": self.threshold_energies, "halo": self.halo, "cell_grid": self.cell_grid}

    def load_extra_state(self, state):
        self.coordinate_moments = state.get("coordinate_moments")
        self.coordinate_range = state.get("coordinate_range")
        self.cell_groups = state.get("cell_groups")
        thresholds = state.get("cell_thresholds")  # one float per input in snapshots before the energy bins
        self.cell_thresholds = None if thresholds is None else [t if isinstance(t, list) else [t] for t in thresholds]
        self.threshold_energies = state.get("threshold_energies")
        self.halo = state.get("halo")
        self.cell_grid = state.get("cell_grid")

    def calibrate(self, data) -> None:
        """``occupancy_calibration``: the flow smears each cell's two modes (exact zero, or a deposit of its own
        size) into each other, so a fixed cut lights too few or too many cells. Here each input's threshold is
        the one at which showers generated at the energies of the first (at most 5000) training showers light as
        many of its cells as those showers do: with one fixed 1 keV cut a flow on the CaloGAN positrons lit 90 /
        100 / 18 cells of layers 0 / 1 / 2 for the reference's 119 / 110 / 18, and the classifier AUC on the
        high-level features fell from 0.989 to 0.975 with the fitted thresholds (a 6000-step probe).
        With ``occupancy_energy_bins`` the count is matched in each bin of the incident energy: one threshold for
        all energies lit the positron flow's layer 2 in 58 % of the 1-5 GeV showers for the reference's 33 % and
        in too few cells above 60 GeV (22.0 for 23.8), and that layer's features alone told the flow apart with
        an AUC of 0.82."""
        if not self.hp.occupancy_calibration:
            return
        n = min(data.n_train, 5000)
        names = [*self.data.inputs, *self.data.conditions, *self.data.labels]
        events = data.ds[names].isel(event=slice(0, n)).compute()
        conditions = data.transforms.forward({k: events[k].values for k in self.data.conditions + self.data.labels},
                                             None)
        device = self.networks["generator"].frequencies.device
        self.cell_thresholds = [[self.cell_noise]] * len(self.data.inputs)  # every cell above the noise, to rank
        self.threshold_energies = None
        generated = self.sample(n, {k: torch.from_numpy(v).to(device) for k, v in conditions.items()},
                                torch.Generator(device).manual_seed(0))
        cells = self._framed(self.data.inverse({k: generated[k] for k in self.data.inputs})
                             | {k: torch.as_tensor(events[k].values) for k in self.hp.impact_point})
        incident = events[self.hp.incident_energy].values.astype(np.float64) * self.incident_factor
        bins = np.array_split(np.argsort(incident, kind="stable"), min(self.hp.occupancy_energy_bins, n))
        self.cell_thresholds = [
            [max(self._matching_threshold(cells[name][torch.from_numpy(b)], events[name].values[b], order),
                 self.cell_noise) for b in bins]
            for name, (order, _, _) in zip(self.data.inputs, self._gathering(), strict=True)]
        self.threshold_energies = [float(np.median(incident[b])) for b in bins] if len(bins) > 1 else None

    def _matching_threshold(self, generated: torch.Tensor, reference: np.ndarray, order: torch.Tensor) -> float:
        """The cut on the ``generated`` core cells (``order``) at which they and the halo's hits light as many
        cells as ``reference``: midway between the lit-th and the next largest core cell, plus the noise's mean (the
        cut acts on a cell before it loses that mean and its layer is rescaled to its energy, by a factor near
        one); the noise where no cut can match."""
        flat = generated.double().reshape(len(generated), -1)
        core = flat[:, order.to(flat.device)].flatten().cpu()  # the core cells: the halo's hits stay as they are
        core_lit = int((core > 0).sum())
        lit = int((reference > 0).sum()) - int((flat > 0).sum()) + core_lit
        if not 0 < lit <= core_lit:
            return self.cell_noise
        ranked = [float(torch.kthvalue(core, core.numel() - k + 1).values) if k <= core.numel() else 0.0
                  for k in (lit, lit + 1)]
        return sum(ranked) / 2 + self.cell_noise / 2

    def _cuts(self, incident: torch.Tensor) -> list[float | torch.Tensor]:
        """Per input, its cell threshold: ``cell_threshold``, the calibrated one, or per event (a column) the
        calibrated ones interpolated in log E between their bins' energies at each shower's ``incident``."""
        if self.cell_thresholds is None:
            return [self.cell_threshold] * len(self.data.inputs)
        if self.threshold_energies is None:
            return [t[0] for t in self.cell_thresholds]
        log_e = np.log(incident.double().cpu().numpy())
        at = np.log(self.threshold_energies)
        return [torch.as_tensor(np.exp(np.interp(log_e, at, np.log(t))), device=incident.device).unsqueeze(1)
                for t in self.cell_thresholds]

    def _framed(self, physical: dict[str, torch.Tensor], direction: int = 1) -> dict[str, torch.Tensor]:
        """``physical`` with its inputs' cells moved into the frame of ``impact_point`` (``direction`` 1: the cell
        under the impact point to the grid's centre) or back out of it (−1); as it is without ``impact_point``."""
        if not self.hp.impact_point:
            return physical
        out = dict(physical)
        for name, (rows, columns, _) in self._cell_offsets(physical).items():
            out[name] = shift_grid(physical[name], direction * rows, direction * columns)
        return out

    def _cell_offsets(self, physical: dict[str, torch.Tensor]) -> dict[str, tuple[torch.Tensor, ...]]:
        """Per input of two or more axes, the whole cells (rows, columns) from the grid's centre to the cell under
        the impact point of ``physical``, and where in that cell it lies ``(events, 2)``: (y, x) in cells, in ±½."""
        if self.cell_grid is None:
            msg = f"model {self.spec.name!r}: the cell grid of impact_point is missing (a run not initialised?)"
            raise SpecError(msg)
        x, y = (physical[k].double() for k in self.hp.impact_point)
        offsets = {}
        for name, grid in zip(self.data.inputs, self.cell_grid, strict=True):
            if grid is not None:
                pitch_y, pitch_x, centre_y, centre_x = grid
                position = torch.stack([(y - centre_y) / pitch_y, (x - centre_x) / pitch_x], dim=1)
                whole = torch.round(position)
                offsets[name] = (whole[:, 0].long(), whole[:, 1].long(), position - whole)
        return offsets

    def _moments(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.coordinate_moments is None:
            msg = f"model {self.spec.name!r}: the coordinates' moments are missing (a run not initialised?)"
            raise SpecError(msg)
        mean, std = (torch.as_tensor(m, dtype=like.dtype, device=like.device) for m in self.coordinate_moments)
        return mean, std

    def _shower_coordinates(self, physical: dict[str, torch.Tensor],
                            generator: torch.Generator | None = None, *, dequantise: bool = True) -> torch.Tensor:
        """The energy-fraction coordinates (float64) of showers in physical units (inputs and incident energy)."""
        incident = physical[self.hp.incident_energy].double() * self.incident_factor
        groups, counts = [], []
        for name, (order, sizes, flags) in zip(self.data.inputs, self._gathering(), strict=True):
            cells, layers = physical[name].reshape(len(incident), -1), self._layering(name)[0]
            order = order.to(cells.device)
            core = iter(torch.split(cells[:, order], sizes, dim=1))
            if any(flags):  # a layer's halo is its cells outside the core: summed, not gathered
                halo = cells.clone()
                halo[:, order] = 0
                halo = halo.reshape(len(cells), layers, -1)
                energy, lit = halo.sum(dim=2), halo.sign().sum(dim=2)  # sign: 30x faster than a bool sum here
            per_layer = len(flags) // layers
            for k, is_halo in enumerate(flags):
                groups.append(energy[:, k // per_layer, None] if is_halo else next(core))
                if is_halo:
                    counts.append(lit[:, k // per_layer])
        coords = to_energy_fractions(groups, incident, self.cell_noise, fraction_noise=self.hp.fraction_noise,
                                     dequantise=dequantise, generator=generator, group_energies=self.hp.group_energies)
        if not counts:
            return coords
        counts = torch.stack(counts, dim=1).double().round()
        jitter = torch.rand(counts.shape, generator=generator, dtype=counts.dtype) if dequantise else 0.5
        return torch.cat([coords, torch.log1p(counts + jitter)], dim=1)  # a halo's hits, dequantised

    def _gathering(self) -> list[tuple[torch.Tensor, list[int], list[bool]]]:
        """Per input, how its cells become the groups of :meth:`_shower_coordinates`, built once per grouping: the
        core groups' cells (one index, group after group), their sizes, and per group whether it is a halo."""
        if self._gathered is None or self._gathered[0] is not self.cell_groups:
            halo, plan = iter(self._halo_flags()), []
            for name, cell_groups in zip(self.data.inputs, self._cell_groups(), strict=True):
                flags = [next(halo) for _ in cell_groups]
                core = [g for g, is_halo in zip(cell_groups, flags, strict=True) if not is_halo]
                plan.append((torch.as_tensor([i for g in core for i in g], dtype=torch.long), [len(g) for g in core],
                             flags))
            self._gathered = (self.cell_groups, plan)
        return self._gathered[1]

    def _cell_groups(self) -> list[list[list[int]]]:
        """Per input its groups of cells; a run from before ``core_shares`` existed has one group per input."""
        if self.cell_groups is None:
            if self.hp.core_shares or self.hp.layers_along_first_axis or self.hp.core_cells is not None:
                msg = f"model {self.spec.name!r}: the shower's cell groups are missing (a run not initialised?)"
                raise SpecError(msg)
            return [[list(range(self.data.variables[n].size))] for n in self.data.inputs]
        return self.cell_groups

    def to_flow(self, batch: dict[str, torch.Tensor], *, dequantise: bool = False) -> torch.Tensor:
        """The flow's space of a batch of inputs in the transformed space: the inputs side by side, or with
        ``muon_coordinates`` the standardised muon coordinates followed by the other inputs, or with
        ``shower_coordinates`` the standardised shower coordinates (the batch holds the incident energy too;
        ``dequantise``: the cells' training noise, else its mean)."""
        if self.showers:
            incident = self.hp.incident_energy  # the cells stay float32 until gathered: 27 000 ILD cells
            physical = self.data.inverse({k: batch[k] for k in self.data.inputs}
                                         | {k: batch[k].double() for k in (incident, *self.hp.impact_point)})
            coords = self._shower_coordinates(self._framed(physical), dequantise=dequantise)
            mean, std = self._moments(coords)
            return ((coords - mean) / std).float()
        if not self.coordinates:
            return self.data.concat(batch, self.data.inputs)
        physical = self.data.inverse({k: batch[k].float() for k in MOMENTUM_FEATURES})
        coords = self.coordinates[0](physical)
        mean, std = self._moments(coords)
        return torch.cat([(coords - mean) / std, self.data.concat(batch, self.others)], dim=1)

    def from_flow(self, x: torch.Tensor, conditions: dict[str, torch.Tensor] | None = None,
                  generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Inverse of :meth:`to_flow`: the inputs in the transformed space (muon energies on shell; showers need
        the ``conditions`` with the incident energy, and a halo's hits are placed with ``generator``)."""
        if self.showers:
            if self.hp.clamp_to_training_range:
                if self.coordinate_range is None:
                    msg = f"model {self.spec.name!r}: the coordinates' training range is missing (a run not initialised?)"
                    raise SpecError(msg)
                low, high = (torch.as_tensor(r, dtype=x.dtype, device=x.device) for r in self.coordinate_range)
                x = torch.maximum(torch.minimum(x, high), low)
            mean, std = self._moments(x.double())
            name = self.hp.incident_energy
            incident = self.data.inverse({name: conditions[name].double()})[name] * self.incident_factor
            cell_groups, halo = self._cell_groups(), self._halo_flags()
            coords, n_halo = x.double() * std + mean, sum(halo)
            counts = torch.expm1(coords[:, coords.shape[1] - n_halo:]).floor().clamp(min=0)
            cuts = self._cuts(incident)
            parts = from_energy_fractions(coords[:, :coords.shape[1] - n_halo], incident,
                                          [1 if is_halo else len(g) for g, is_halo in
                                           zip((g for groups in cell_groups for g in groups), halo, strict=True)],
                                          self.cell_noise,
                                          [cut for cut, groups in zip(cuts, cell_groups, strict=True) for _ in groups],
                                          fraction_noise=self.hp.fraction_noise,
                                          fraction_threshold=self.hp.fraction_threshold,
                                          group_energies=self.hp.group_energies)
            if n_halo and self.halo is None:
                msg = f"model {self.spec.name!r}: the halo spectra of core_cells are missing (a run not initialised?)"
                raise SpecError(msg)
            halos = iter(zip(counts.T, self.halo or [], strict=True))

            def hits(energy: torch.Tensor) -> torch.Tensor:
                count, spectrum = next(halos)
                return sample_halo(count, energy[:, 0], spectrum, generator)

            parts = iter([hits(part) if is_halo else part for part, is_halo in zip(parts, halo, strict=True)])
            groups = [join_cells([next(parts) for _ in cells], cells) for cells in cell_groups]
            cells = {n: g.reshape(len(x), *self.data.variables[n].shape)
                     for n, g in zip(self.data.inputs, groups, strict=True)}
            if self.hp.impact_point:  # back from the impact point's frame
                impact = self.data.inverse({k: conditions[k].double() for k in self.hp.impact_point})
                cells = self._framed(cells | impact, -1)
            return self.data.encode({n: cells[n].float() for n in self.data.inputs})
        if not self.coordinates:
            out = self.data.split(x, self.data.inputs)
            if not self.hp.on_shell_muons:
                return out
            physical = self.data.inverse({k: out[k] for k in MOMENTUM_FEATURES})
        else:
            mean, std = self._moments(x)
            out = self.data.split(x[:, 5:], self.others)
            physical = self.coordinates[1](x[:, :5] * std + mean)
        if self.hp.leading_muon_first:
            extras = [k for k in ("met_px", "met_py", "mu1_iso", "mu2_iso") if k in out]
            physical = leading_muon_first(physical | self.data.inverse({k: out[k] for k in extras}))
        return out | self.data.encode(physical) | self.data.encode(muon_energies(physical))

    def _conditioning(self, batch: dict[str, torch.Tensor] | None) -> torch.Tensor | None:
        """The conditions and labels side by side; with ``impact_point`` also where in its cell the impact point
        lies for each input moved into its frame (×2, within ±1): the frame jumps by a cell where the impact point
        crosses a cell's edge, which the field could not tell from x0 and y0 alone (the layer-1 centroid scattered
        by 22 mm about its axis within 2 mm of those edges, 6 mm elsewhere)."""
        names = self.data.conditions + self.data.labels
        if not names or not batch:
            return None
        conditions = self.data.concat(batch, names)
        if not self.hp.impact_point:
            return conditions
        impact = self.data.inverse({k: batch[k].double() for k in self.hp.impact_point})
        within = [2 * offset.to(conditions.dtype) for _, _, offset in self._cell_offsets(impact).values()]
        return torch.cat([conditions, *within], dim=1)

    def _set_learning_rate(self, step: int) -> None:
        """Cosine decay of the learning rate to 0 at ``training.steps`` (Loshchilov, Hutter, arXiv:1608.03983,
        without restarts), a function of the step alone, so a resumed run continues it exactly."""
        training = self.spec.training
        base = training.optimizers.get("velocity", training.optimizer).lr
        for group in self.optimizers["velocity"].param_groups:
            group["lr"] = base * 0.5 * (1 + math.cos(math.pi * min(step / training.steps, 1.0)))

    def training_step(self, batch, step):
        if self.hp.lr_schedule == "cosine":
            self._set_learning_rate(step)
        x1 = self.to_flow(batch, dequantise=True)
        x0 = torch.randn_like(x1)
        if self.hp.coupling == "minibatch_ot":
            x0 = x0[ot_pairing(x0, x1)]
        t = torch.rand(len(x1), device=x1.device)
        loss = cfm_loss(self.networks["velocity"], x1, x0, t, self._conditioning(batch), self.hp.sigma_min)
        self.optimizer_step("velocity", loss)
        self._update_ema()
        return {"cfm_loss": loss.item()}

    @torch.no_grad()
    def _update_ema(self) -> None:
        decay = self.hp.ema_decay
        for averaged, trained in zip(self.networks["generator"].parameters(), self.networks["velocity"].parameters(),
                                     strict=True):
            averaged.lerp_(trained.detach(), 1 - decay)

    @torch.no_grad()
    def sample(self, n, conditions, generator):
        field = self.networks["generator"]
        device = field.frequencies.device
        if self.n_conditions and not conditions:
            msg = f"model {self.spec.name!r} needs its conditions {self.data.conditions + self.data.labels} to sample"
            raise SpecError(msg)
        cond = self._conditioning(conditions)
        n_flow = field.body[-1].out_features
        x0 = torch.randn(n, n_flow, device=device, generator=generator)
        x1 = integrate(lambda x, t: field(x, t, cond), x0, self.hp.ode_steps, self.hp.ode_solver)
        return self.from_flow(x1.float(), conditions, generator)


def _cell_grid(ds, name: str, units: str) -> list[float] | None:
    """Pitch and centre along y and x, in ``units``, of the cells of store variable ``name`` (its last two axes,
    from their coordinates, the cell centres); None for a variable of fewer than two axes besides ``event``."""
    dims = ds[name].dims[1:]
    if len(dims) < 2:
        return None
    centres = [np.asarray(ds[d].values, dtype=float) * to_magnitude(parse_quantity(f"1 {ds[d].attrs['units']}"), units)
               for d in dims[-2:]]
    pitches = [float(np.median(np.diff(c))) if len(c) > 1 else math.inf for c in centres]
    return [*pitches, *(float(c.mean()) for c in centres)]
