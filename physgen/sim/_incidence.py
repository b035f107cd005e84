"""The incident particle of a calorimeter dataset: its energy, impact point and direction, drawn
from the dataset spec's ``conditions`` (paper 003's ξ = (E, x0, y0, θ, φ)).

The condition holding the energy is named by the simulator's ``energy_condition`` option
(``energy`` by default; ILD calls it ``incident_energy``); ``x0``, ``y0``, ``theta`` and ``phi``
are optional (0 when absent). Each is converted from the spec's units to :data:`CONDITION_UNITS`.
The particle enters the calorimeter front (z = 0) at (x0, y0) with direction
(sin θ cos φ, sin θ sin φ, cos θ). Every condition named in the feature schema is also stored
as the feature of the same name.
"""

from __future__ import annotations

import numpy as np
import pint

from physgen.errors import SpecError, did_you_mean
from physgen.store import ResolvedDataset
from physgen.units import ureg

__all__ = ["CONDITION_UNITS", "Incidence"]

CONDITION_UNITS = {"energy": "GeV", "x0": "mm", "y0": "mm", "theta": "rad", "phi": "rad"}
"""The physical inputs of a shower and the units simulators work in; only ``energy`` is required."""


class Incidence:
    """Draws incident particles for a calorimeter dataset; checks the spec when built."""

    def __init__(self, dataset: ResolvedDataset, energy_condition: str = "energy"):
        spec, self.source = dataset.spec, dataset.dataset.source
        roles = {energy_condition: "energy"} | {k: k for k in CONDITION_UNITS if k != "energy"}
        self.features = [f.name for f in dataset.feature_spec.features] if dataset.feature_spec else []
        unknown = [name for name in spec.conditions if name not in roles and name not in self.features]
        if unknown:  # drawn for nothing: a misspelt condition would otherwise be ignored
            lines = [f"{self.source}: conditions.{name}: the simulator neither uses it nor stores it as a feature"
                     f"{did_you_mean(name, [*roles, *self.features])}" for name in unknown]
            raise SpecError("\n".join(lines))
        if energy_condition not in spec.conditions:
            msg = f"{self.source}: conditions must include the incident energy {energy_condition!r}"
            raise SpecError(msg)
        self.roles = {name: roles[name] for name in spec.conditions if name in roles}
        self.factors = {}
        for name, role in self.roles.items():
            units = spec.conditions[name].units or "dimensionless"
            try:
                self.factors[name] = float(ureg.Quantity(1.0, units).to(CONDITION_UNITS[role]).magnitude)
            except pint.DimensionalityError:
                msg = f"{self.source}: conditions.{name} has units {units!r}, expected {CONDITION_UNITS[role]}-compatible"
                raise SpecError(msg) from None
        missing = [f for f in self.features if f not in spec.conditions]
        if missing:
            msg = f"{self.source}: features {missing} have no condition of the same name in `conditions`"
            raise SpecError(msg)
        self.spec = spec

    def draw(self, rng: np.random.Generator, n: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """``n`` draws: the conditions by spec name (spec units) and the physical inputs by role (CONDITION_UNITS)."""
        conditions = self.spec.sample_conditions(rng, n)
        physics = {role: conditions[name] * self.factors[name] for name, role in self.roles.items()}
        zero = np.zeros(n)
        physics = {role: physics.get(role, zero) for role in CONDITION_UNITS}
        if np.any(physics["energy"] <= 0):
            msg = f"{self.source}: conditions gave incident energies <= 0 (min {physics['energy'].min():g} GeV)"
            raise SpecError(msg)
        theta = physics["theta"]
        if np.any((theta < 0) | (theta >= np.pi / 2)):
            msg = f"{self.source}: conditions gave polar angles outside [0, pi/2) (got {theta.min():g}..{theta.max():g} rad)"
            raise SpecError(msg)
        return conditions, physics

    def feature_arrays(self, conditions: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The conditions stored as features, as float32."""
        return {name: conditions[name].astype(np.float32) for name in self.features}

    @staticmethod
    def direction(physics: dict[str, np.ndarray]) -> np.ndarray:
        """Unit vectors (n, 3) of the incident directions."""
        theta, phi = physics["theta"], physics["phi"]
        return np.stack([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)], axis=1)
