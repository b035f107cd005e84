"""A reference and a generated dataset under comparison: the per-event columns every metric reads,
computed once per dataset and name (one dask pass), and the events' weights: the generated
events' when a weight variable is named (DCTR), the reference's own event weights when its store
carries unequal ones (biased generation, e.g. the jets simulator's ``pt_hat_bias``).

Snapshot selection, ``physgen evaluate`` and DCTR build a :class:`Comparison` and hand it to
the registered metrics, so each metric sees the same columns wherever it is asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from physgen.errors import PhysgenError
from physgen.metrics._columns import default_metric_names, event_columns, weight_values
from physgen.metrics.weights import event_weights
from physgen.observables import observable_names
from physgen.schema import EVENT

__all__ = ["Comparison"]


class _Columns:
    """The per-event columns of one dataset, by requested name, computed on first use."""

    def __init__(self, ds: xr.Dataset):
        self.ds = ds
        self._by_name: dict[str, dict[str, np.ndarray]] = {}

    def get(self, names: Sequence[str]) -> dict[str, np.ndarray]:
        missing = [n for n in names if n not in self._by_name]
        if missing:
            self._by_name |= event_columns(self.ds, missing)
        return {k: v for n in names for k, v in self._by_name[n].items()}

    def prefetch(self, names: Sequence[str], advance: Callable[[int], None]) -> None:
        """Compute ``names`` one store chunk of events at a time, calling ``advance(events)`` after each
        (a progress bar that counts events); the result is what :meth:`get` would compute."""
        missing = [n for n in names if n not in self._by_name]
        n_events = int(self.ds.sizes.get(EVENT, 0))
        if not missing or not n_events:
            return
        step = max(int(self.ds.attrs.get("physgen", {}).get("chunk_events") or n_events), 1)
        parts = []
        for start in range(0, n_events, step):
            parts.append(event_columns(self.ds.isel({EVENT: slice(start, start + step)}), missing))
            advance(min(step, n_events - start))
        self._by_name |= {n: {k: np.concatenate([p[n][k] for p in parts]) for k in parts[0][n]} for n in missing}


class Comparison:
    """``reference`` vs ``generated`` (``xarray.Dataset``s of one schema), the generated events
    weighted by the per-event variable ``weights`` when it is named (DCTR), the reference events by
    their store's event weights (``reference_weights``; None when the reference is unweighted)."""

    def __init__(self, reference: xr.Dataset, generated: xr.Dataset, *, weights: str | None = None):
        self.reference, self.generated, self.weight_name = reference, generated, weights
        self.weights = weight_values(generated, weights)
        self.reference_weights = event_weights(reference, "the reference")
        self._ref, self._gen = _Columns(reference), _Columns(generated)
        self._cache: dict[Hashable, Any] = {}

    @property
    def is_weighted(self) -> bool:
        """Whether either sample carries event weights (only weight-aware metrics then apply)."""
        return self.weights is not None or self.reference_weights is not None

    def weighted(self, weights: str | None) -> Comparison:
        """The same datasets (and computed columns) with other generated-event weights."""
        other = Comparison.__new__(Comparison)
        other.reference, other.generated, other.weight_name = self.reference, self.generated, weights
        other.weights = weight_values(self.generated, weights)
        other.reference_weights = self.reference_weights
        other._ref, other._gen, other._cache = self._ref, self._gen, {}
        return other

    def provides(self, names: Sequence[str]) -> bool:
        """Whether both datasets hold or can compute every one of ``names``."""
        return all(n in ds.data_vars or n in observable_names(ds) for ds in (self.reference, self.generated)
                   for n in names)

    def requested(self, names: Sequence[str] | None) -> list[str]:
        """``names``, or by default the reference's metric names that the generated dataset also provides."""
        if names is None:  # the reference's defaults that the generated dataset also provides
            return [n for n in default_metric_names(self.reference) if self.provides([n])]
        return list(names)

    def prefetch(self, names: Sequence[str] | None = None, *, advance: Callable[[int], None] = lambda n: None) -> None:
        """Compute the columns :meth:`columns` will return, store chunk by store chunk, reference then
        generated, calling ``advance(events)`` after each chunk (for an events/s progress bar)."""
        requested = self.requested(names)
        self._ref.prefetch(requested, advance)
        self._gen.prefetch(requested, advance)

    def columns(self, names: Sequence[str] | None = None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Matching reference and generated columns of ``names``; by default the reference's
        :func:`default_metric_names`, less columns that hold one and the same value in both samples
        (a fixed condition tells nothing about the generator and makes covariances singular)."""
        requested = self.requested(names)
        ref, gen = self._ref.get(requested), self._gen.get(requested)
        common = [k for k in ref if k in gen]
        if names is None:
            common = [k for k in common if not _same_constant(ref[k], gen[k])]
        if not common:
            msg = f"reference and generated share no columns to compare (asked for {requested})"
            raise PhysgenError(msg)
        return {k: ref[k] for k in common}, {k: gen[k] for k in common}

    def matrices(self, names: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The columns as (events × columns) arrays, columns in sorted order."""
        ref, gen = self.columns(names)
        keys = sorted(ref)
        return np.stack([ref[k] for k in keys], axis=1), np.stack([gen[k] for k in keys], axis=1)

    def cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per key for this comparison (several metrics share one expensive pass)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]


def _same_constant(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(a.size and b.size and a.min() == a.max() == b.min() == b.max())
