"""Reference simulators: a registry of plug-ins and the chunked, parallel, resumable driver.

Simulators shipped: ``mixture`` (DCTR toys), ``showers`` (parametric calorimeter showers).
Importing this package registers them.
"""

from physgen.sim import mixtures  # noqa: F401  (registers the simulator)
from physgen.sim import showers  # noqa: F401  (registers the showers simulator)
from physgen.sim._base import Simulator, get_simulator, parse_options, register_simulator, simulator_names
from physgen.sim._driver import build_simulator, chunk_plan, simulate

__all__ = [
    "Simulator", "build_simulator", "chunk_plan", "get_simulator", "parse_options", "register_simulator",
    "simulate", "simulator_names",
]


def __dir__() -> list[str]:
    return __all__
