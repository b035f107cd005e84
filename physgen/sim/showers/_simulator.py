"""The ``showers`` simulator: parametric EM and hadronic showers in any calorimeter spec."""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from physgen.errors import SpecError
from physgen.sim._base import Simulator, register_simulator
from physgen.sim._incidence import CONDITION_UNITS, Incidence
from physgen.sim.showers._deposit import CellReadout
from physgen.sim.showers._gflash import PHOTON_CONVERSION_X0, SPOT_EXPONENT, em_spots, halo_count
from physgen.sim.showers._hadronic import pion_spots
from physgen.sim.showers._photon_cells import MAX_TABLE_SLOTS, PhotonCellTable
from physgen.sim.showers._spots import SpotParts, Spots
from physgen.sim.showers._stack import Stack
from physgen.sim.showers._tune import EmTune, PionTune, Tune, load_tune
from physgen.specs import LayeredCalorimeter, VoxelCalorimeter

__all__ = ["ShowerOptions", "ShowerSimulator", "CONDITION_UNITS"]

MAX_SPOTS_PER_SHOWER = 1_000_000
"""Spots one shower may need (50 GeV ILD photons need about 10⁴); beyond, memory and time explode."""

MIN_COS_THETA = 1e-3
"""Grazing incidence is capped here (θ ≤ 89.94°) so that path lengths stay finite."""


class ShowerOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    particle: Literal["e+", "e-", "gamma", "pi+", "pi-"]
    tune: str = Field("geant4", description="named set of fitted model constants (physgen/sim/showers/tunes.yaml)")
    spots_scale: float = Field(1.0, gt=0, description="multiplies the tune's spot counts (speed against granularity)")
    energy_condition: str = Field("energy", description="name of the condition holding the incident energy")
    batch_events: int = Field(16, gt=0, description="showers processed together (part of the seed; 16: the "
                              "spots of a batch stay in the CPU caches, 2x faster than 256)")


@register_simulator
class ShowerSimulator(Simulator):
    """GFlash-style showers of e±, γ and π± deposited into a layered or voxel calorimeter.

    Conditions (energy, and optionally x0, y0, theta, phi) are drawn from the dataset spec's
    ``conditions`` by :class:`~physgen.sim._incidence.Incidence`, as for the ``geant4`` simulator;
    every condition is also stored as the feature of the same name.
    """

    name = "showers"
    Options = ShowerOptions

    def __init__(self, dataset):
        super().__init__(dataset)
        source = dataset.dataset.source
        geometry = dataset.detector_spec.geometry if dataset.detector_spec else None
        if not isinstance(geometry, (LayeredCalorimeter, VoxelCalorimeter)):
            msg = f"{source}: the showers simulator needs a layered or voxel calorimeter detector, got {geometry!r}"
            raise SpecError(msg)
        self.geometry = geometry
        self.stack = Stack.from_geometry(geometry)
        self.tune = load_tune(self.options.tune)
        self.incidence = Incidence(dataset, self.options.energy_condition)
        self.features = self.incidence.features
        self.store_overflow = "overflow" in dataset.schema.names and "overflow" not in self.features

    @property
    def tune(self) -> Tune:
        return self._tune

    @tune.setter
    def tune(self, tune: Tune) -> None:
        """Setting a tune (the scans of ``benchmarks/`` set one per trial) also sets the readout's constants and
        forgets the soft-photon cell tables made with the old one."""
        self._tune = tune
        self.readout = CellReadout(self.geometry, self.stack, tune.em.active_signal_scale, tune.em.track_length_spread,
                                   tune.em.crossing_obliquity)
        self._photon_tables: dict[tuple[float, ...], PhotonCellTable] = {}

    def _photon_cells(self, physics: dict[str, np.ndarray]) -> PhotonCellTable | None:
        """The soft-photon cell table (:mod:`._photon_cells`) for a batch of π± showers at normal incidence on one
        impact point in a ``total`` readout of at most MAX_TABLE_SLOTS cells and overflows (one per impact point,
        made on first use), else None (their photons are drawn one by one)."""
        pion = self.tune.pion
        if (self.readout.geometry.readout != "total" or pion.soft_photon_share <= 0
                or self.readout.n_cells + self.readout.n_layers > MAX_TABLE_SLOTS):
            return None
        n = len(physics["energy"])
        x0, y0, theta = (np.broadcast_to(physics.get(k, 0.0), (n,)) for k in ("x0", "y0", "theta"))
        if n == 0 or np.any(theta != 0) or np.ptp(x0) > 0 or np.ptp(y0) > 0:
            return None
        # (a refit may change the tune of a simulator: its flights are part of the key)
        key = (pion.soft_photon_path, pion.soft_photon_far_path, pion.soft_photon_far_share, float(x0[0]), float(y0[0]))
        if key not in self._photon_tables:
            self._photon_tables[key] = PhotonCellTable.build(self.readout, *key)
        return self._photon_tables[key]

    def _spots(self, rng: np.random.Generator, energy_mev: np.ndarray, cos_theta: np.ndarray,
               photon_cells: PhotonCellTable | None = None) -> Spots | SpotParts:
        o = self.options
        if o.particle.startswith("pi"):
            return pion_spots(rng, self.stack, energy_mev, cos_theta, self.tune, o.spots_scale, photon_cells)
        n = len(energy_mev)
        start = rng.exponential(PHOTON_CONVERSION_X0, n) if o.particle == "gamma" else np.zeros(n)
        charged = np.full(n, 2.0 if o.particle == "gamma" else 1.0)  # the e+e- pair of a conversion, or the e±
        t_offset = np.full(n, self.tune.em.pair_t_max_shift) if o.particle == "gamma" else None
        return em_spots(rng, self.stack, np.arange(n), energy_mev, start, cos_theta, self.tune.em, o.spots_scale,
                        charged=charged, t_offset=t_offset, incident=True)

    def showers(self, rng: np.random.Generator, physics: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Flat cells (showers × cells) and overflow (showers × layers) of showers with the given physical
        inputs (``CONDITION_UNITS``), ``batch_events`` at a time (the batches are part of the seed)."""
        n, step = len(physics["energy"]), self.options.batch_events
        parts = [self._batch(rng, {k: v[i:i + step] for k, v in physics.items()}) for i in range(0, n, step)]
        if not parts:
            return np.zeros((0, self.readout.n_cells)), np.zeros((0, self.readout.n_layers))
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def _batch(self, rng: np.random.Generator, physics: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`showers` of one batch: its spots, deposited together."""
        n = len(physics["energy"])
        zero = np.zeros(n)
        theta = physics.get("theta", zero)
        cos_theta = np.maximum(np.cos(theta), MIN_COS_THETA)
        cells = self._photon_cells(physics) if self.options.particle.startswith("pi") else None
        spots = self._spots(rng, physics["energy"] * 1000.0, cos_theta, cells)
        return self.readout.deposit(rng, spots, n, physics.get("x0", zero), physics.get("y0", zero),
                                    theta, physics.get("phi", zero))

    def simulate(self, n_events, seed):
        rng = np.random.default_rng(seed)
        conditions, physics = self.incidence.draw(rng, n_events)
        self._check(physics)
        cells, overflow = self.showers(rng, physics)
        out = self.readout.split(cells)
        if self.store_overflow:
            out["overflow"] = overflow.astype(np.float32)
        return out | {name: conditions[name].astype(np.float32) for name in self.features}

    def _spots_per_shower(self, energy_gev: float) -> float:
        """Spots (core and halo; for pions the hadronic part too) of a shower of ``energy_gev``, counted as
        :func:`spot_count` and the halo count them (in floating point: no integer overflow), before any is drawn."""
        scale, em = self.options.spots_scale, self.tune.em
        per_gev = em.spots_per_gev + (self.tune.pion.hadron_spots_per_gev if self.options.particle.startswith("pi")
                                      else 0.0)
        return scale * per_gev * energy_gev**SPOT_EXPONENT + halo_count(energy_gev, em, scale)

    def _check(self, physics: dict[str, np.ndarray]) -> None:
        """Showers too large to simulate are a spec error (the incidence checks energies and angles)."""
        most = self._spots_per_shower(float(np.max(physics["energy"], initial=0.0)))
        if most > MAX_SPOTS_PER_SHOWER:
            msg = (f"{self.dataset.dataset.source}: an incident energy of {physics['energy'].max():g} GeV with "
                   f"spots_scale {self.options.spots_scale:g} needs {most:,.0f} spots per shower; at most "
                   f"{MAX_SPOTS_PER_SHOWER:,} are simulated (lower the energies or spots_scale)")
            raise SpecError(msg)

    def producer(self):
        return {"kind": "simulator", "name": self.name, **self.options.model_dump(),
                "model": ("GFlash (Grindhammer-Peters) EM with a diffuse halo + parametric hadronic, "
                          "docs/PHYSICS.md §4-5"),
                "tune_constants": self.tune.model_dump(exclude={"sources"}), "tune_sources": self.tune.sources}

    @classmethod
    def physics(cls, producer):
        """The record without the tune's source notes (words, not physics), without the constants at their
        neutral default (a constant is added to the model at the value that reproduces the model before it,
        so a new constant outdates no model whose showers stay bit-identical) and, for e± and γ, without
        the hadronic constants their showers never use: a refit of the π± model does not outdate a
        model trained on positron showers, which stay bit-identical."""
        out = {key: value for key, value in producer.items() if key != "tune_sources"}
        neutral = {part: {key: field.default for key, field in model.model_fields.items() if not field.is_required()}
                   for part, model in (("em", EmTune), ("pion", PionTune))}
        if not str(producer.get("particle", "")).startswith("pi"):
            neutral.pop("pion")
        out["tune_constants"] = {part: {key: value for key, value in constants.items()
                                        if key not in neutral[part] or value != neutral[part][key]}
                                 for part, constants in producer.get("tune_constants", {}).items() if part in neutral}
        return out
