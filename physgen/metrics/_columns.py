"""Per-event columns of a dataset for metrics: its default observables flattened to 1-D plus its
stored scalar features (weights excluded), computed in one dask pass."""

from __future__ import annotations

import dask
import numpy as np
import xarray as xr

from physgen.errors import PhysgenError
from physgen.observables import columns, compute, default_observables
from physgen.schema import EVENT

__all__ = ["event_columns", "weight_values"]


def event_columns(ds: xr.Dataset, names: list[str] | None = None, *, exclude: tuple[str, ...] = ()
                  ) -> dict[str, np.ndarray]:
    """``names`` (observable or stored-variable names) as 1-D arrays; default: the schema's observables
    and every stored scalar feature. Observable columns win over stored features of the same name."""
    wanted = names if names is not None else default_observables(ds)
    observable_names = [n for n in wanted if n not in ds.data_vars or names is None]
    stored = [n for n in (wanted if names is not None else ds.data_vars) if n in ds.data_vars
              and ds[n].dims == (EVENT,) and n not in observable_names and n not in exclude]
    lazy = columns(compute(ds, observable_names)) if observable_names else {}
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
