"""Reference simulators: a registry of plug-ins and the chunked, parallel, resumable driver.

Simulators shipped: ``mixture`` (DCTR toys), ``jets`` (W'/QCD jet images) and ``zmumu`` (Z → μμ with
pileup), the last two with Pythia 8. Importing this package registers them.
"""

from physgen.sim import mixtures  # noqa: F401  (registers the simulator)
from physgen.sim import jets, zmumu  # noqa: F401  (Pythia 8 reference simulators)
from physgen.sim._base import Simulator, get_simulator, parse_options, register_simulator, simulator_names
from physgen.sim._driver import build_simulator, chunk_plan, simulate

__all__ = sorted([
    "Simulator", "build_simulator", "chunk_plan", "get_simulator", "parse_options", "register_simulator",
    "simulate", "simulator_names",
])


def __dir__() -> list[str]:
    return __all__
