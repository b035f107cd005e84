"""The schema of a store: which per-event variables it holds, with dims, shapes, dtypes and units.

A store's schema is derived from its dataset spec: the detector contributes the cell
arrays (``image``, ``layer_0``…, ``energy``) and the feature schema contributes per-event
features. Every writer (simulators, importers, generators) is checked against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from physgen.errors import SchemaError

__all__ = ["EVENT", "VariableSchema", "StoreSchema", "within_valid_range"]

EVENT = "event"
"""Name of the leading dimension of every per-event variable."""


@dataclass(frozen=True)
class VariableSchema:
    """One per-event variable: its dims and shape after ``event``, dtype and units."""

    name: str
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    dtype: str
    units: str
    long_name: str = ""
    valid_range: tuple[float, float] | None = None

    def check(self, array: np.ndarray, n_events: int | None = None) -> None:
        """Raise :class:`SchemaError` unless ``array`` is ``(n_events, *shape)`` of a castable dtype."""
        if array.shape[1:] != self.shape or array.ndim != len(self.shape) + 1:
            expected = ", ".join(["n_events", *map(str, self.shape)])
            msg = f"variable {self.name!r}: expected shape ({expected}) with dims {(EVENT, *self.dims)}, got {array.shape}"
            raise SchemaError(msg)
        if n_events is not None and array.shape[0] != n_events:
            msg = f"variable {self.name!r}: expected {n_events} events, got {array.shape[0]}"
            raise SchemaError(msg)
        if not np.can_cast(array.dtype, self.dtype, casting="same_kind"):
            msg = f"variable {self.name!r}: expected dtype {self.dtype}, got {array.dtype} (not castable)"
            raise SchemaError(msg)

    @property
    def attrs(self) -> dict[str, object]:
        attrs: dict[str, object] = {"units": self.units or "dimensionless", "long_name": self.long_name or self.name}
        if self.valid_range is not None:
            attrs["valid_range"] = list(self.valid_range)
        return attrs


@dataclass(frozen=True)
class StoreSchema:
    """The variables of a store, in order, and the coordinates of their non-event dims."""

    variables: tuple[VariableSchema, ...]
    coords: dict[str, tuple[np.ndarray, dict[str, object]]] = field(default_factory=dict)

    def __post_init__(self):
        names = [v.name for v in self.variables]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            msg = f"variables {dupes} are defined twice (by the detector and the feature schema?)"
            raise SchemaError(msg)
        clashes = sorted(set(names) & set(self.coords))
        if clashes:
            msg = f"features {clashes} have the names of detector coordinates; rename them in the feature schema"
            raise SchemaError(msg)

    @property
    def names(self) -> list[str]:
        return [v.name for v in self.variables]

    def __getitem__(self, name: str) -> VariableSchema:
        for v in self.variables:
            if v.name == name:
                return v
        raise KeyError(name)

    def check_batch(self, batch: dict[str, np.ndarray]) -> int:
        """Check a batch of events against the schema; return its number of events."""
        missing = [n for n in self.names if n not in batch]
        extra = [n for n in batch if n not in self.names]
        if missing or extra:
            msg = f"batch does not fit the schema: missing {missing}, unexpected {extra}"
            raise SchemaError(msg)
        n = len(next(iter(batch.values()))) if batch else 0
        for v in self.variables:
            v.check(np.asarray(batch[v.name]), n)
        return n


def within_valid_range(x: np.ndarray, valid_range: tuple[float, float] | None) -> np.ndarray:
    """Generated values clipped to the feature's valid range (e.g. isolation ≥ 0, E ≤ √s): what
    ``physgen generate`` writes, and what snapshot selection scores (the same events)."""
    return np.asarray(x) if valid_range is None else np.clip(x, *valid_range)
