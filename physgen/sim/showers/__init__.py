"""Parametric calorimeter showers (GFlash-style EM, simple hadronic) for any layered or voxel spec.

The reference simulator for calorimeters, since Geant4 cannot run here: docs/PHYSICS.md §4–5,
Grindhammer & Peters (hep-ex/0001020). Modules: ``_stack`` (sampling media and depth maps),
``_gflash`` (longitudinal and radial EM profiles, spots), ``_hadronic`` (π± showers),
``_deposit`` (spots → cells), ``_simulator`` (the registered ``showers`` simulator).
"""

from physgen.sim.showers._deposit import CellReadout
from physgen.sim.showers._gflash import em_spots, radial_parameters, sample_radius, shower_shape, spot_count
from physgen.sim.showers._hadronic import pion_spots
from physgen.sim.showers._simulator import CONDITION_UNITS, ShowerOptions, ShowerSimulator
from physgen.sim.showers._spots import Spots
from physgen.sim.showers._stack import Stack, mip_dedx, sampling_stochastic_term

__all__ = [
    "CONDITION_UNITS", "CellReadout", "ShowerOptions", "ShowerSimulator", "Spots", "Stack", "em_spots",
    "mip_dedx", "pion_spots", "radial_parameters", "sample_radius", "sampling_stochastic_term",
    "shower_shape", "spot_count",
]


def __dir__() -> list[str]:
    return __all__
