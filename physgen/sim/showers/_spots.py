"""Energy spots: the common currency of the shower models and the cell readout.

A spot is a point deposit of a shower, placed by its path length along the shower
axis from the entry point and its radial distance from the axis (GFlash,
Grindhammer & Peters hep-ex/0001020, §4). The azimuth around the axis is given by the
shower model (EM showers: a low-discrepancy sequence per shower) or, where it is missing,
drawn uniformly when the spots are transported into the detector (:mod:`._deposit`). Spots of a sub-shower
or track that is not centred on the axis (a π⁰ shower leaving a hadronic interaction at
an angle, a scattered MIP track) also carry a transverse shift of their centre.

The spots of a shower come in parts (its track, EM and hadronic components): :meth:`Spots.concat` keeps
them as :class:`SpotParts`, which the readout deposits part by part, so the millions of spots of a batch
are not copied into one set of columns (their columns are joined only where a caller asks for one).
A part may also be :class:`CellDeposits`: energies already binned into cell slots (the soft photons of a
hadronic cascade drawn cell by cell, :mod:`._photon_cells`), which the readout adds as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["CellDeposits", "Spots", "SpotParts"]

_MISSING = {"shift_x": 0.0, "shift_y": 0.0, "azimuth": np.nan}
"""Optional columns and the value a part without them has: on the axis, azimuth drawn at deposit."""


@dataclass(frozen=True)
class Spots:
    """Spots of many showers as flat arrays (one entry per spot)."""

    event: np.ndarray  # int: index of the shower in the batch
    path: np.ndarray  # mm along the shower axis from the calorimeter entry point
    radius: np.ndarray  # mm from the axis
    energy: np.ndarray  # MeV deposited (before any sampling fraction)
    shift_x: np.ndarray | None = None  # mm: transverse shift of the spot's centre off the axis (shower frame)
    shift_y: np.ndarray | None = None
    azimuth: np.ndarray | None = None  # turns (0..1) around the axis; NaN or None: drawn uniformly at deposit
    exact_crossings: bool = False  # ``active`` readout: steps of charged tracks, which cross every plane they reach
    copies: int = 1  # each spot deposited this many times, k/copies of a turn apart, 1/copies of its energy each

    @classmethod
    def concat(cls, *parts: Spots | CellDeposits | SpotParts) -> SpotParts:
        """The spots of all ``parts``, in order (nested parts are flattened)."""
        return SpotParts(tuple(p for part in parts for p in part.parts))

    @property
    def parts(self) -> tuple[Spots, ...]:
        return (self,)

    def __len__(self) -> int:
        return len(self.event)


@dataclass(frozen=True)
class CellDeposits:
    """Energies already in the cells of a ``total`` readout at normal incidence (one entry per lit slot)."""

    event: np.ndarray  # int: index of the shower in the batch
    slot: np.ndarray  # int: cell of the readout (flat, < n_cells), or n_cells + layer: that layer's overflow
    energy: np.ndarray  # MeV deposited

    @property
    def parts(self) -> tuple[CellDeposits, ...]:
        return (self,)

    def __len__(self) -> int:
        return len(self.event)


@dataclass(frozen=True)
class SpotParts:
    """Several :class:`Spots` taken together; a column is the parts' columns joined (a part without an
    optional column contributes its missing value: 0 shift, NaN azimuth), made on first use."""

    parts: tuple[Spots | CellDeposits, ...]

    def _joined(self, name: str) -> np.ndarray | None:
        if name in _MISSING and all(getattr(p, name) is None for p in self.parts):
            return None
        return np.concatenate([getattr(p, name) if getattr(p, name) is not None else np.full(len(p), _MISSING[name])
                               for p in self.parts])

    @cached_property
    def event(self) -> np.ndarray:
        return self._joined("event")

    @cached_property
    def path(self) -> np.ndarray:
        return self._joined("path")

    @cached_property
    def radius(self) -> np.ndarray:
        return self._joined("radius")

    @cached_property
    def energy(self) -> np.ndarray:
        return self._joined("energy")

    @cached_property
    def shift_x(self) -> np.ndarray | None:
        return self._joined("shift_x")

    @cached_property
    def shift_y(self) -> np.ndarray | None:
        return self._joined("shift_y")

    @cached_property
    def azimuth(self) -> np.ndarray | None:
        return self._joined("azimuth")

    def __len__(self) -> int:
        return sum(len(p) for p in self.parts)
