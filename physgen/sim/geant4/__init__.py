"""Real Geant4 calorimeter showers, offline and without Geant4's data sets (``simulator: {name: geant4}``).

Geant4 11.4 through the ``geant4_pybind==0.1.3`` wheel, imported lazily: physgen works without
it, and the simulator says what is missing where it cannot load. Modules: ``_offline`` (data-set
stand-ins in physgen's cache, quiet output), ``_lists`` and ``_physics`` (the data-free physics
lists), ``_layout`` (detector spec → plates and cell grids, checked), ``_materials`` (spec
materials → Geant4 materials), ``_calorimeter`` (volumes and native cell scorers), ``_run``
(the process's run manager, seeded batches), ``_simulator`` (the registered ``geant4``
simulator) and ``_samples`` (the shipped validation samples). ``shared/GEANT4.md`` says what
was measured and why.
"""

from physgen.sim.geant4._layout import CellGrid, Layout, Slab
from physgen.sim.geant4._lists import PHYSICS_LISTS, PhysicsListInfo
from physgen.sim.geant4._offline import GEANT4_PYBIND_VERSION, Geant4UnavailableError, cache_dir, load_geant4
from physgen.sim.geant4._samples import validation_sample, validation_sample_dir, validation_samples
from physgen.sim.geant4._simulator import Geant4Options, Geant4Simulator

__all__ = [
    "GEANT4_PYBIND_VERSION", "PHYSICS_LISTS", "CellGrid", "Geant4Options", "Geant4Simulator", "Geant4UnavailableError",
    "Layout", "PhysicsListInfo", "Slab", "cache_dir", "load_geant4", "validation_sample", "validation_sample_dir",
    "validation_samples",
]


def __dir__() -> list[str]:
    return __all__
