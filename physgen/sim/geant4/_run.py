"""The process's one Geant4 run manager, and showers shot through it in batches.

Geant4 allows one run manager per process and fixes its physics list at the first
``Initialize``; so a process (the CLI, or each dask worker) creates it lazily on its first batch
and reuses it for every later one, in the process's Geant4 thread (:func:`._offline.geant4_call`).
Another calorimeter replaces the world volume (``DefineWorldVolume``; the old volumes stay in
Geant4's stores), another production cut is a ``/run/setCut``; another physics list needs another
process (:class:`Geant4ProcessError`).

A batch is reproducible from its seeds alone: physics tables are built first (``BeamOn(0)``),
then the MixMax engine is seeded and the events run, so a batch gives the same showers whether
it is the first in its process or follows others. Per event, Python sets the gun and reads
the scorers' hits maps once (:mod:`._calorimeter`); steps never reach Python.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from physgen.errors import PhysgenError
from physgen.sim.geant4._calorimeter import Calorimeter, calorimeter_for
from physgen.sim.geant4._layout import Layout
from physgen.sim.geant4._offline import geant4_call, load_geant4, quiet
from physgen.sim.geant4._physics import build_physics_list

__all__ = ["Batch", "Geant4ProcessError", "run_batch"]

g4 = load_geant4()


class Geant4ProcessError(PhysgenError):
    """A request this process's Geant4 cannot serve (e.g. a second physics list)."""


@dataclass(frozen=True)
class Batch:
    """Primaries of one batch: particle name, kinetic energies (MeV), start points (mm) and unit directions."""

    particle: str
    energy: np.ndarray
    position: np.ndarray  # (n, 3)
    direction: np.ndarray  # (n, 3)
    seeds: tuple[int, int, int, int]
    """MixMax seeds (each in 1 .. 2**31 - 1)"""


class _World(g4.G4VUserDetectorConstruction):
    def __init__(self):
        super().__init__()
        self.world = None

    def Construct(self):  # noqa: N802  (Geant4's method names)
        return self.world


class _Gun(g4.G4VUserPrimaryGeneratorAction):
    """One primary per event, taken in turn from the current :class:`Batch`."""

    def __init__(self):
        super().__init__()
        self.gun = g4.G4ParticleGun(1)
        self.batch: Batch | None = None
        self.next = 0

    def load(self, batch: Batch, definition) -> None:
        self.gun.SetParticleDefinition(definition)
        self.batch, self.next = batch, 0

    def GeneratePrimaries(self, event):  # noqa: N802
        b, i = self.batch, self.next
        self.gun.SetParticleEnergy(float(b.energy[i]))
        self.gun.SetParticlePosition(g4.G4ThreeVector(*map(float, b.position[i])))
        self.gun.SetParticleMomentumDirection(g4.G4ThreeVector(*map(float, b.direction[i])))
        self.gun.GeneratePrimaryVertex(event)
        self.next += 1


class _Cells(g4.G4UserEventAction):
    """At the end of each event, the scorers' hits maps → one row of cell energies and overflow (MeV)."""

    def __init__(self):
        super().__init__()
        self.cells = self.overflow = None
        self.collections: list[tuple[int, int]] = []  # (hits collection ID, offset of the layer's first cell)
        self.overflow_collection: int | None = None
        self.event = 0

    def start(self, calorimeter: Calorimeter, n_events: int) -> None:
        manager = g4.G4SDManager.GetSDMpointer()
        offsets = calorimeter.layout.cell_offsets
        self.collections = [(manager.GetCollectionID(name), int(offset))
                            for name, offset in zip(calorimeter.cell_collections, offsets)]
        self.overflow_collection = (manager.GetCollectionID(calorimeter.overflow_collection)
                                    if calorimeter.has_overflow else None)
        self.cells = np.zeros((n_events, calorimeter.layout.n_cells))
        self.overflow = np.zeros((n_events, len(calorimeter.layout.grids)))
        self.event = 0

    def EndOfEventAction(self, event):  # noqa: N802
        hits = event.GetHCofThisEvent()
        if hits is not None:
            row = self.cells[self.event]
            for collection, offset in self.collections:
                for index, energy in hits.GetHC(collection):
                    row[offset + index] += energy
            if self.overflow_collection is not None:
                for layer, energy in hits.GetHC(self.overflow_collection):
                    self.overflow[self.event, layer] += energy
        self.event += 1


class _Actions(g4.G4VUserActionInitialization):
    def __init__(self, gun: _Gun, cells: _Cells):
        super().__init__()
        self.gun, self.cells = gun, cells

    def Build(self):  # noqa: N802
        self.SetUserAction(self.gun)
        self.SetUserAction(self.cells)


class _RunManager:
    def __init__(self, physics_list: str):
        self.physics_list = physics_list
        with quiet():
            self.manager = g4.G4RunManagerFactory.CreateRunManager(g4.G4RunManagerType.Serial)
            self.manager.SetVerboseLevel(0)
            g4.G4EmParameters.Instance().SetVerbose(0)
            self.world = _World()
            self.physics = build_physics_list(physics_list)
            self.manager.SetUserInitialization(self.world)
            self.manager.SetUserInitialization(self.physics)
            self.gun, self.cells = _Gun(), _Cells()  # user actions only once the physics list is set (Run0061)
            self.actions = _Actions(self.gun, self.cells)
            self.manager.SetUserInitialization(self.actions)
        self.calorimeter: Calorimeter | None = None
        self.cut_mm: float | None = None

    def _use(self, calorimeter: Calorimeter, cut_mm: float) -> None:
        if cut_mm != self.cut_mm:  # after SetUserInitialization: Initialize() would undo SetDefaultCutValue
            g4.G4UImanager.GetUIpointer().ApplyCommand(f"/run/setCut {cut_mm!r} mm")
            self.cut_mm = cut_mm
        if calorimeter is self.calorimeter:
            return
        if self.calorimeter is None:
            self.world.world = calorimeter.world
            self.manager.Initialize()
        else:
            self.calorimeter.activate(False)
            calorimeter.activate(True)
            self.manager.DefineWorldVolume(calorimeter.world)
            self.manager.GeometryHasBeenModified()
        self.calorimeter = calorimeter

    def run(self, calorimeter: Calorimeter, cut_mm: float, batch: Batch) -> tuple[np.ndarray, np.ndarray, float]:
        definition = g4.G4ParticleTable.GetParticleTable().FindParticle(batch.particle)
        if definition is None:
            msg = f"particle {batch.particle!r} is not defined by the Geant4 physics list {self.physics_list!r}"
            raise Geant4ProcessError(msg)
        with quiet():
            self._use(calorimeter, cut_mm)
            self.manager.BeamOn(0)  # physics tables for this geometry and cut, before the engine is seeded
        self.gun.load(batch, definition)
        self.cells.start(calorimeter, len(batch.energy))
        g4.HepRandom.setTheSeeds([*batch.seeds, 0], len(batch.seeds))  # the binding reads a 0-terminated list
        start = time.process_time()
        with quiet():
            self.manager.BeamOn(len(batch.energy))
        return self.cells.cells, self.cells.overflow, time.process_time() - start


def run_batch(layout: Layout, materials: dict, physics_list: str, cut_mm: float, batch: Batch, *,
              read_out: bool = True) -> tuple[np.ndarray, np.ndarray, float]:
    """Cell energies (n, n_cells) and overflow (n, n_layers) in MeV of ``batch`` shot into ``layout``
    (``read_out=False``: bare plates, nothing recorded), and the CPU seconds Geant4 took."""
    return geant4_call(_run_batch, layout, materials, physics_list, cut_mm, batch, read_out)


_PROCESS_RUN_MANAGER: list[_RunManager] = []  # at most one, made in the Geant4 thread on the first batch


def _run_batch(layout, materials, physics_list, cut_mm, batch, read_out):
    if not _PROCESS_RUN_MANAGER:
        _PROCESS_RUN_MANAGER.append(_RunManager(physics_list))
    run_manager = _PROCESS_RUN_MANAGER[0]
    if run_manager.physics_list != physics_list:
        msg = (f"this process already runs Geant4 with the physics list {run_manager.physics_list!r}, and "
               f"Geant4 allows one physics list per process; simulate datasets using {physics_list!r} in another "
               f"process (each `physgen simulate` and each dask worker pool is one)")
        raise Geant4ProcessError(msg)
    return run_manager.run(calorimeter_for(layout, materials, read_out=read_out), cut_mm, batch)
