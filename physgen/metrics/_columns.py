"""Per-event columns of a dataset for metrics: its default observables flattened to 1-D plus its
stored scalar features, computed in one dask pass.

The default columns are what a generator is judged on: class labels (``signal``), event weights
and variables added after the store was made (DCTR weights) are not; a feature schema marks
labels and weights with ``role:``.
"""

from __future__ import annotations

import dask
import numpy as np
import xarray as xr

from physgen.errors import PhysgenError
from physgen.observables import columns, compute, default_observables, observable_names
from physgen.schema import EVENT

__all__ = ["default_metric_names", "event_columns", "weight_values"]


def _per_event(ds: xr.Dataset, name: str) -> bool:
    return name in ds.data_vars and ds[name].dims == (EVENT,)


def default_metric_names(ds: xr.Dataset) -> list[str]:
    """The schema's observables and its stored per-event features of role ``feature`` (every stored
    per-event variable when the dataset carries no feature schema)."""
    names = list(default_observables(ds))
    features = ds.physgen.features if "physgen" in ds.attrs else None
    stored = [f.name for f in features.features if f.role == "feature"] if features is not None else list(ds.data_vars)
    return names + [str(n) for n in stored if n not in names and _per_event(ds, str(n))]


def event_columns(ds: xr.Dataset, names: list[str] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """``names`` (observable or stored-variable names; default :func:`default_metric_names`) as
    1-D float64 columns, grouped by name (``layer_energy`` → ``{"layer_energy_0": …, …}``).

    An observable computable from the cells wins over a stored feature of the same name
    (``jet_mass`` from the image, as a generated store can only have that).
    """
    wanted = default_metric_names(ds) if names is None else list(names)
    computable = set(observable_names(ds))
    derived = [n for n in wanted if n in computable]
    stored = [n for n in wanted if n not in computable and _per_event(ds, n)]
    missing = [n for n in wanted if n not in computable and n not in ds.data_vars]
    if missing:
        msg = f"{missing} are neither observables computable from this dataset nor stored variables"
        raise PhysgenError(msg)
    not_per_event = [n for n in wanted if n not in computable and n in ds.data_vars and not _per_event(ds, n)]
    if not_per_event:
        msg = f"{not_per_event} are stored per cell, not per event; name observables of them instead"
        raise PhysgenError(msg)
    observables = compute(ds, derived) if derived else xr.Dataset()
    lazy = {n: columns(observables[[n]]) for n in derived}
    lazy |= {n: {n: ds[n]} for n in stored}
    computed = dask.compute({n: {k: v.data for k, v in cols.items()} for n, cols in lazy.items()})[0]
    return {n: {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()} for n, cols in computed.items()}


def weight_values(ds: xr.Dataset, variable: str | None) -> np.ndarray | None:
    """The per-event weights ``variable`` of ``ds`` (None when no variable is named)."""
    if variable is None:
        return None
    if not _per_event(ds, variable):
        msg = f"weight variable {variable!r} is not a per-event variable of the generated store " \
              f"(it has {sorted(str(n) for n in ds.data_vars if _per_event(ds, str(n)))})"
        raise PhysgenError(msg)
    return np.asarray(ds[variable].values, dtype=np.float64)
