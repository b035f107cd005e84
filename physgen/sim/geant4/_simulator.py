"""The ``geant4`` simulator: real Geant4 showers in any layered or voxel calorimeter spec."""

from __future__ import annotations

from importlib.metadata import version
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from physgen.errors import SpecError
from physgen.sim._base import Simulator, register_simulator
from physgen.sim._incidence import Incidence
from physgen.sim.geant4._layout import Layout
from physgen.sim.geant4._lists import PHYSICS_LISTS
from physgen.sim.geant4._offline import geant4_call, load_geant4
from physgen.specs import LayeredCalorimeter, VoxelCalorimeter
from physgen.specs._quantity import Length
from physgen.units import to_magnitude, ureg

__all__ = ["Geant4Options", "Geant4Simulator"]

GUN_SETBACK_MM = 1.0
"""The primary starts this far in front of the calorimeter (in z), on the line through its impact point."""


class Geant4Options(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    particle: str = Field(description="Geant4 particle name of the primary: e-, e+, gamma, pi+, ...")
    physics_list: Literal[tuple(PHYSICS_LISTS)] = Field(  # type: ignore[valid-type]
        "datafree_em", description="a data-free physics list (physgen.sim.geant4.PHYSICS_LISTS)")
    production_cut: Length = Field("0.7 mm", validate_default=True, description="range cut for secondary production (γ, e±, p)")
    energy_condition: str = Field("energy", description="name of the condition holding the incident energy")

    @model_validator(mode="after")
    def _particle_in_list(self):
        info = PHYSICS_LISTS[self.physics_list]
        if self.particle not in info.particles:
            others = [name for name, other in PHYSICS_LISTS.items() if self.particle in other.particles]
            hint = f"; use physics_list: {others[0]}" if others else ""
            msg = (f"particle {self.particle!r} is not among the primaries of physics list {self.physics_list!r} "
                   f"({', '.join(info.particles)}){hint}")
            raise ValueError(msg)
        if to_magnitude(self.production_cut, "mm") <= 0:
            msg = f"production_cut must be positive, got {self.production_cut}"
            raise ValueError(msg)
        return self


@register_simulator
class Geant4Simulator(Simulator):
    """Geant4 11.4 showers of one primary species, read out in the detector spec's cells.

    The geometry, materials and readout come from the detector spec (:mod:`._layout`,
    :mod:`._materials`, :mod:`._calorimeter`); incident particles from the dataset's
    conditions (:class:`~physgen.sim._incidence.Incidence`); the physics list and production
    cut from the options. Each chunk seeds Geant4's MixMax engine from its own
    ``SeedSequence``, so serial, parallel and resumed runs give identical stores.
    """

    name = "geant4"
    Options = Geant4Options

    def __init__(self, dataset):
        super().__init__(dataset)
        geometry = dataset.detector_spec.geometry if dataset.detector_spec else None
        if not isinstance(geometry, (LayeredCalorimeter, VoxelCalorimeter)):
            msg = (f"{dataset.dataset.source}: the geant4 simulator needs a layered or voxel calorimeter detector, "
                   f"got {type(geometry).__name__ if geometry else 'none'}")
            raise SpecError(msg)
        self.geometry = geometry
        detector_source = dataset.detector.source
        self.layout = Layout.from_geometry(geometry, detector_source)
        self.incidence = Incidence(dataset, self.options.energy_condition)
        self.cut_mm = to_magnitude(self.options.production_cut, "mm")
        self.g4 = load_geant4()
        from physgen.sim.geant4._materials import build_materials

        self.materials, self.material_provenance = geant4_call(build_materials, geometry, detector_source)
        self.to_energy_units = float(ureg.Quantity(1.0, "MeV").to(geometry.energy_units).magnitude)
        self.store_overflow = "overflow" in dataset.schema.names and "overflow" not in self.incidence.features
        self._batch(np.random.SeedSequence(0), 1000)  # conditions off the calorimeter fail now, before any store

    def _batch(self, seed: np.random.SeedSequence, n_events: int):
        """Conditions of ``n_events`` showers and the Geant4 batch shooting them, both from ``seed``."""
        from physgen.sim.geant4._run import Batch

        conditions, physics = self.incidence.draw(np.random.default_rng(seed), n_events)
        half_x, half_y = self.layout.size_x / 2, self.layout.size_y / 2
        if np.any(np.abs(physics["x0"]) > half_x) or np.any(np.abs(physics["y0"]) > half_y):
            msg = (f"{self.dataset.dataset.source}: conditions gave impact points off the calorimeter front "
                   f"(|x0| <= {half_x:g} mm, |y0| <= {half_y:g} mm)")
            raise SpecError(msg)
        direction = self.incidence.direction(physics)
        impact = np.stack([physics["x0"], physics["y0"], np.zeros(n_events)], axis=1)
        start = impact - direction * (GUN_SETBACK_MM / direction[:, 2:3])
        engine = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, 1)).generate_state(4, np.uint32)
        seeds = tuple(int(s) % (2**31 - 1) + 1 for s in engine)  # MixMax seeds: non-zero (the binding stops at 0)
        return conditions, Batch(self.options.particle, physics["energy"] * 1000.0, start, direction, seeds)

    def simulate(self, n_events, seed):
        from physgen.sim.geant4._run import run_batch

        conditions, batch = self._batch(seed, n_events)
        cells, overflow, _ = run_batch(self.layout, self.materials, self.options.physics_list, self.cut_mm, batch)
        cells *= self.to_energy_units
        out = self._split(self.geometry.apply_threshold(cells))
        if self.store_overflow:
            out["overflow"] = (overflow * self.to_energy_units).astype(np.float32)
        return out | self.incidence.feature_arrays(conditions)

    def cpu_seconds(self, n_events: int, seed: np.random.SeedSequence, *, read_out: bool = True) -> float:
        """CPU seconds Geant4 takes for the showers of ``simulate(n_events, seed)``; ``read_out=False``: bare plates."""
        from physgen.sim.geant4._run import run_batch

        _, batch = self._batch(seed, n_events)
        return run_batch(self.layout, self.materials, self.options.physics_list, self.cut_mm, batch, read_out=read_out)[2]

    def _split(self, cells: np.ndarray) -> dict[str, np.ndarray]:
        """Flat cells (n, n_cells) → the detector's store variables."""
        n = len(cells)
        if isinstance(self.geometry, VoxelCalorimeter):
            return {self.geometry.variable: cells.reshape(n, *self.geometry.cells).astype(np.float32)}
        return {layer.name: cells[:, o:o + g.n_cells].reshape(n, g.ny, g.nx).astype(np.float32)
                for layer, g, o in zip(self.geometry.layers, self.layout.grids, self.layout.cell_offsets)}

    def producer(self):
        info = PHYSICS_LISTS[self.options.physics_list]
        return {
            "kind": "simulator", "name": self.name, **self.options.model_dump(mode="json"),
            "geant4_version": self.g4.G4Version.strip("$").removeprefix("Name:").strip(),
            "geant4_pybind_version": version("geant4_pybind"),
            "physics": info.provenance(),
            "production_cut_mm": self.cut_mm,
            "materials": self.material_provenance,
            "random_engine": "MixMaxRng, seeded per chunk from the chunk's SeedSequence",
            "readout": "G4PSEnergyDeposit3D scorers on replicated cells (total deposit per cell and event)"
            if self.geometry.readout == "total" else
            "G4PSEnergyDeposit3D scorers on replicated cells of the active plates (active deposit per cell and event)",
        }
