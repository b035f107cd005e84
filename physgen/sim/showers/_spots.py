"""Energy spots: the common currency of the shower models and the cell readout.

A spot is a point deposit of a shower, placed by its path length along the shower
axis from the entry point and its radial distance from the axis (GFlash,
Grindhammer & Peters hep-ex/0001020, §4). The azimuth around the axis is given by the
shower model (EM showers: a low-discrepancy sequence per shower) or, where it is missing,
drawn uniformly when the spots are transported into the detector (:mod:`._deposit`). Spots of a sub-shower
or track that is not centred on the axis (a π⁰ shower leaving a hadronic interaction at
an angle, a scattered MIP track) also carry a transverse shift of their centre.
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
    shift_x: np.ndarray | None = None  # mm: transverse shift of the spot's centre off the axis (shower frame)
    shift_y: np.ndarray | None = None
    azimuth: np.ndarray | None = None  # turns (0..1) around the axis; NaN or None: drawn uniformly at deposit

    @classmethod
    def concat(cls, *parts: Spots) -> Spots:
        columns = {f: np.concatenate([getattr(p, f) for p in parts]) for f in ("event", "path", "radius", "energy")}
        for f, missing in (("shift_x", 0.0), ("shift_y", 0.0), ("azimuth", np.nan)):
            if any(getattr(p, f) is not None for p in parts):
                columns[f] = np.concatenate([getattr(p, f) if getattr(p, f) is not None else np.full(len(p), missing)
                                             for p in parts])
        return cls(**columns)

    def __len__(self) -> int:
        return len(self.event)
