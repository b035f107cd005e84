"""Named, lazy observables of stores: ``compute(ds, ["jet_mass", "tau_21"])``.

Each observable is a pure function of an :class:`xarray.Dataset` returning a labelled
``DataArray`` with ``units`` and ``long_name``; dask in, dask out. Feature-schema specs name
them in their ``observables:`` list. Add one with the :func:`observable` decorator in the
module of its detector kind (jets, calo, voxel, calochallenge, dilepton).
"""

from physgen.observables import calo, calochallenge, dilepton, jets, voxel  # noqa: F401  (registers the observables)
from physgen.observables._io import columns, compute_observables, default_names, write_observables
from physgen.observables._registry import (
    Observable, compute, default_observables, get_observable, observable, observable_names,
)

__all__ = [
    "Observable", "columns", "compute", "compute_observables", "default_names", "default_observables",
    "get_observable", "observable", "observable_names", "write_observables",
]


def __dir__() -> list[str]:
    return __all__
