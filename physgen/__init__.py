"""physgen: spec-driven fast simulation for particle physics.

Specs (YAML) → Zarr stores of events with units and provenance → lazy observables →
generative models and reweighting trained from stores → generated stores of the same
schema, evaluated by the same code.
"""

from importlib.metadata import PackageNotFoundError, version

from physgen.store import open_store

try:
    __version__ = version("physgen")
except PackageNotFoundError:  # pragma: no cover - source tree without install
    __version__ = "0+unknown"

__all__ = ["__version__", "open_store"]
