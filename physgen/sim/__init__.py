"""Reference simulators: a registry of plug-ins and the chunked, parallel, resumable driver.

Simulators shipped, registered on import: ``mixture`` (DCTR toys), ``showers`` (parametric
GFlash-style calorimeter showers), ``jets`` (W'/QCD jet images) and ``zmumu`` (Z → μμ with
pileup), the last two with Pythia 8 and FastJet.
"""

from physgen.sim import jets, mixtures, showers, zmumu  # noqa: F401  (register the simulators)
from physgen.sim._base import Simulator, get_simulator, parse_options, register_simulator, simulator_names
from physgen.sim._driver import build_simulator, chunk_plan, default_workers, simulate

__all__ = [
    "Simulator", "build_simulator", "chunk_plan", "default_workers", "get_simulator", "parse_options", "register_simulator",
    "simulate", "simulator_names",
]


def __dir__() -> list[str]:
    return __all__
