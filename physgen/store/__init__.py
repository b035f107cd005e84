"""Zarr v3 stores of events: created from a dataset spec, appended atomically, resumed after a
crash, opened lazily as dask-backed :class:`xarray.Dataset` s with units and provenance; per-event
variables (e.g. DCTR weights) can be added to a finished store with :func:`add_variable`. One writer at a
time: writers hold :func:`store_lock` for the whole run."""

from physgen.store import _accessor  # noqa: F401  (registers ds.physgen)
from physgen.store._compression import COMPRESSIONS, DEFAULT_COMPRESSION
from physgen.store._reader import open_store, read_provenance, validate_store
from physgen.store._schema import ResolvedDataset, default_chunk_events, feature_variables, resolve_dataset
from physgen.store._lock import store_lock
from physgen.store._url import ATTR, EXTRA, normalise_url, remove_store, store_exists
from physgen.store._variables import add_variable
from physgen.store._writer import FORMAT_VERSION, StoreWriter, create_store, open_writer

__all__ = [
    "ATTR", "COMPRESSIONS", "DEFAULT_COMPRESSION", "EXTRA", "FORMAT_VERSION", "ResolvedDataset", "StoreWriter", "add_variable", "create_store",
    "default_chunk_events", "feature_variables", "normalise_url", "open_store", "open_writer",
    "read_provenance", "remove_store", "resolve_dataset", "store_exists", "store_lock", "validate_store",
]


def __dir__() -> list[str]:
    return __all__
