"""Per-event columns of a dataset for metrics: its default observables flattened to 1-D plus its
stored scalar features (weights excluded), computed in one dask pass."""

from __future__ import annotations

import dask
import numpy as np
import xarray as xr

from physgen.errors import PhysgenError
from physgen.observables import columns, compute, default_observables, observable_names
from physgen.schema import EVENT

__all__ = ["event_columns", "weight_values"]


def event_columns(ds: xr.Dataset, names: list[str] | None = None, *, exclude: tuple[str, ...] = ()
                  ) -> dict[str, np.ndarray]:
    """``names`` (observable or stored-variable names) as 1-D arrays; default: the schema's observables
    and every stored scalar feature. An observable computable from the cells wins over a stored
    feature of the same name (``jet_mass`` from the image, as a generated store can only have that)."""
    wanted = list(default_observables(ds)) if names is None else list(names)
    computable = set(observable_names(ds))
    derived = [n for n in wanted if n in computable]
    stored = [n for n in (ds.data_vars if names is None else wanted) if n not in computable
              and n in ds.data_vars and ds[n].dims == (EVENT,) and n not in exclude]
    missing = [n for n in wanted if n not in computable and n not in ds.data_vars]
    if missing:
        msg = f"{missing} are neither observables computable from this dataset nor stored variables"
        raise PhysgenError(msg)
    lazy = columns(compute(ds, derived)) if derived else {}
    lazy |= {n: ds[n] for n in stored if n not in lazy}
    computed = dask.compute({k: v.data for k, v in lazy.items()})[0]
    return {k: np.asarray(v, dtype=np.float64) for k, v in computed.items()}


def weight_values(ds: xr.Dataset, variable: str | None) -> np.ndarray | None:
    """The per-event weights ``variable`` of ``ds`` (None when no variable is named)."""
    if variable is None:
        return None
    if variable not in ds.data_vars or ds[variable].dims != (EVENT,):
        msg = f"weight variable {variable!r} is not a per-event variable of the generated store " \
              f"(it has {sorted(n for n, v in ds.data_vars.items() if v.dims == (EVENT,))})"
        raise PhysgenError(msg)
    return np.asarray(ds[variable].values, dtype=np.float64)
