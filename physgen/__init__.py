"""physgen: spec-driven fast simulation for particle physics.

Specs (YAML) → Zarr stores of events with units and provenance → lazy observables →
generative models and reweighting trained from stores → generated stores of the same
schema, evaluated by the same code.
"""

from physgen.provenance import package_version
from physgen.store import open_store

__version__ = package_version("physgen")

__all__ = ["__version__", "open_store"]
