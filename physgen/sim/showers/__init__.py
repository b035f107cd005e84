"""Parametric calorimeter showers (GFlash-style EM, simple hadronic) for any layered or voxel spec.

The reference simulator for calorimeters, since Geant4 cannot run here: docs/PHYSICS.md §4–5,
Grindhammer & Peters (hep-ex/0001020). Modules: ``_stack`` (sampling media and depth maps),
``_gflash`` (longitudinal and radial EM profiles, spots), ``_hadronic`` (π± showers),
``_deposit`` (spots → cells), ``_photon_cells`` (a cascade's soft photons drawn cell by cell), ``_simulator`` (the registered ``showers`` simulator), ``_tune``
(the constants fitted to Geant4, kept in ``tunes.yaml``), ``_fidelity`` (the comparison with a
Geant4 sample that the tuning script, the benchmark and the tests share).
"""

from physgen.sim.showers._deposit import CellReadout
from physgen.sim.showers._gflash import em_spots, radial_parameters, sample_radius, shower_shape, spot_count
from physgen.sim.showers._hadronic import pion_spots
from physgen.sim.showers._simulator import CONDITION_UNITS, ShowerOptions, ShowerSimulator
from physgen.sim.showers._spots import Spots
from physgen.sim.showers._stack import Stack, mip_dedx
from physgen.sim.showers._tune import EmTune, PionTune, Tune, load_tune, tune_names

__all__ = [
    "CONDITION_UNITS", "CellReadout", "EmTune", "PionTune", "ShowerOptions", "ShowerSimulator", "Spots", "Stack",
    "Tune", "em_spots", "load_tune", "mip_dedx", "pion_spots", "radial_parameters", "sample_radius",
    "shower_shape", "spot_count", "tune_names",
]


def __dir__() -> list[str]:
    return __all__
