"""Energy spots: the common currency of the shower models and the cell readout.

A spot is a point deposit of a shower, placed by its path length along the shower
axis from the entry point and its radial distance from the axis (GFlash,
Grindhammer & Peters hep-ex/0001020, §4). The azimuth around the axis is drawn when
the spots are transported into the detector (:mod:`._deposit`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Spots"]


@dataclass(frozen=True)
class Spots:
    """Spots of many showers as flat arrays (one entry per spot)."""

    event: np.ndarray  # int: index of the shower in the batch
    path: np.ndarray  # mm along the shower axis from the calorimeter entry point
    radius: np.ndarray  # mm from the axis
    energy: np.ndarray  # MeV deposited (before any sampling fraction)

    @classmethod
    def concat(cls, *parts: Spots) -> Spots:
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("event", "path", "radius", "energy")))

    def __len__(self) -> int:
        return len(self.event)
