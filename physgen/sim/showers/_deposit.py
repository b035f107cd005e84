"""Depositing spots into the cells of a layered or voxel calorimeter spec.

Spots are moved from shower coordinates (path along the axis, radius, the spot's azimuth or a uniform one)
to the detector frame: the axis enters at (x0, y0, 0) with direction
(sin θ cos φ, sin θ sin φ, cos θ). Each spot then lands in the readout layer holding its
depth and in the cell holding its (x, y); all showers of a batch are binned at once with
one :func:`numpy.bincount`. Spots outside a layer's cell grid go to that layer's overflow;
spots in front of or behind the calorimeter leak out.

Readout ``total`` records the deposit itself (CaloGAN: Pb + LAr). Readout ``active`` records
the energy in the active medium, counted in charged-particle crossings: a spot of deposit e
makes Poisson(e / e_x) crossings of the active gap, e_x being the mixture's MIP loss over one
sampling period, and each crossing leaves a gamma-distributed (Landau stand-in) energy of mean
f_samp · e_x. This gives the sampling fluctuation σ²/E = e_x (1 + 1/k) at any granularity and,
unlike a per-spot gamma smearing, the right occupancy of sparse cells, which sets the hit count
above a MIP threshold. The threshold is applied per cell.

An active plane samples the shower where it sits, at the back of its period (the stacks put the
absorber first), not averaged over the period: with ``active`` readout each spot is counted by
the nearest active plane (the plane's region runs between the midpoints to its neighbours) and
weighted by period / region length, so the visible energy follows the energy density at the
plane. Averaging over the period instead puts the readout half an absorber plate too deep
(0.3 X0 in the ILD ECAL: ~half a layer on its longitudinal centroid, against Geant4).
"""

from __future__ import annotations

import numpy as np

from physgen.geometry import layer_boundaries
from physgen.specs import LayeredCalorimeter, VoxelCalorimeter
from physgen.sim.showers._spots import Spots
from physgen.sim.showers._stack import Stack
from physgen.units import to_magnitude

__all__ = ["CellReadout", "LANDAU_SHAPE", "AZIMUTHS"]

AZIMUTHS = 4096
"""Spot azimuths are drawn among this many equally spaced directions (a table lookup instead of cos, sin)."""
_COS, _SIN = np.cos(2 * np.pi * (np.arange(AZIMUTHS) + 0.5) / AZIMUTHS), np.sin(2 * np.pi * (np.arange(AZIMUTHS) + 0.5) / AZIMUTHS)

LANDAU_SHAPE = 4.0
"""Shape of the gamma distribution standing in for the Landau spread of one crossing's deposit
(≈ 78 % of single crossings then pass a threshold at 60 % of the mean, as a MIP in 0.5 mm Si does)."""


class CellReadout:
    """The cell grids of a calorimeter spec and the binning of spots into them."""

    def __init__(self, geometry: LayeredCalorimeter | VoxelCalorimeter, stack: Stack):
        self.geometry = geometry
        self.stack = stack
        self.depth_edges = layer_boundaries(geometry)
        if isinstance(geometry, LayeredCalorimeter):
            grids = [(*layer.cells, *(to_magnitude(s, "mm") for s in layer.cell_size)) for layer in geometry.layers]
        else:
            ny, nx = geometry.cells[1:]
            sy, sx = (to_magnitude(s, "mm") for s in geometry.cell_size)
            grids = [(ny, nx, sy, sx)] * geometry.cells[0]
        self.ny, self.nx, self.sy, self.sx = (np.array(col) for col in zip(*grids))
        sizes = self.ny * self.nx
        self.offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.n_cells = int(sizes.sum())
        # per-layer lookup tables indexed by searchsorted(depth_edges, z, "right"): 0 is in front of the
        # calorimeter, 1..n_layers the layers, n_layers + 1 behind it; the two outer rows have no cells
        def padded(values, dtype):
            return np.concatenate([[0], values, [0]]).astype(dtype)

        self._nx, self._ny = padded(self.nx, np.int64), padded(self.ny, np.int64)
        self._inv_sx, self._inv_sy = padded(1.0 / self.sx, float), padded(1.0 / self.sy, float)
        self._half_nx, self._half_ny = padded(self.nx / 2, float), padded(self.ny / 2, float)
        self._offset = padded(self.offset, np.int64)
        self._plane_edges, self._plane_row, self._plane_weight, self._plane_section = self._sampling_regions()

    def _sampling_regions(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Depth edges (mm) of the regions whose deposits a cell row records, and per region (0 in
        front, …, the last behind, as ``searchsorted`` of the edges gives) its row (0 in front,
        1..n_layers, n_layers + 1 behind), energy weight and the section whose sampling it has. ``total`` readout: the layers themselves. ``active``: one region per active
        plane around the plane's centre, weighted by period / region length."""
        if self.geometry.readout == "total":
            rows = np.arange(self.n_layers + 2)
            return self.depth_edges, rows, np.ones(self.n_layers + 2), np.zeros(self.n_layers + 2, dtype=np.intp)
        centres, periods = [], []
        front = 0.0
        for s in self.geometry.sections:
            d_abs, d_act = to_magnitude(s.absorber_thickness, "mm"), to_magnitude(s.active_thickness, "mm")
            centres += [front + k * (d_abs + d_act) + d_abs + d_act / 2 for k in range(s.periods)]
            periods += [d_abs + d_act] * s.periods
            front += s.periods * (d_abs + d_act)
        centres, periods = np.array(centres), np.array(periods)
        middles = (centres[1:] + centres[:-1]) / 2
        edges = np.concatenate([[centres[0] - periods[0] / 2], middles, [centres[-1] + periods[-1] / 2]])
        layer = np.searchsorted(self.depth_edges, centres, side="right")  # 1..n_layers
        rows = np.concatenate([[0], layer, [self.n_layers + 1]])
        weight = np.concatenate([[0.0], periods / np.diff(edges), [0.0]])
        section = self.stack.section(np.concatenate([[centres[0]], centres, [centres[-1]]]))
        return edges, rows, weight, section

    @property
    def n_layers(self) -> int:
        return len(self.depth_edges) - 1

    def _visible(self, rng: np.random.Generator, energy: np.ndarray, section: np.ndarray) -> np.ndarray:
        """Energy the cells record of spot deposits ``energy`` sampled by planes of ``section``."""
        if self.geometry.readout == "total":
            return energy
        per_crossing = self.stack.mip_loss[section] * self.stack.period[section]  # MeV deposited per MIP crossing
        crossings = rng.poisson(energy / per_crossing)
        fraction = self.stack.sampling_fraction[section]
        return fraction * per_crossing / LANDAU_SHAPE * rng.standard_gamma(crossings * LANDAU_SHAPE)

    def deposit(self, rng: np.random.Generator, spots: Spots, n_events: int, x0: np.ndarray, y0: np.ndarray,
                theta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell energies (n_events, n_cells) and overflow (n_events, n_layers) of the ``spots``."""
        ev = spots.event
        turn = rng.integers(0, AZIMUTHS, len(spots))
        if spots.azimuth is not None:
            given = ~np.isnan(spots.azimuth)
            turn[given] = (spots.azimuth[given] * AZIMUTHS).astype(np.int64) % AZIMUTHS
        a, b = spots.radius * _COS[turn], spots.radius * _SIN[turn]
        if spots.shift_x is not None:
            a, b = a + spots.shift_x, b + spots.shift_y
        if not np.any(theta):  # normal incidence: the shower frame is the detector frame
            x, y, z = x0[ev] + a, y0[ev] + b, spots.path
        else:
            st, ct, sp, cp = np.sin(theta)[ev], np.cos(theta)[ev], np.sin(phi)[ev], np.cos(phi)[ev]
            # axis d = (st cp, st sp, ct); transverse unit vectors u1 = (ct cp, ct sp, −st), u2 = (−sp, cp, 0)
            x = x0[ev] + spots.path * st * cp + a * ct * cp - b * sp
            y = y0[ev] + spots.path * st * sp + a * ct * sp + b * cp
            z = spots.path * ct - a * st
        region = np.searchsorted(self._plane_edges, z, side="right")
        row = self._plane_row[region]  # 0 in front, 1..n_layers, n_layers + 1 behind
        energy = self._visible(rng, spots.energy * self._plane_weight[region], self._plane_section[region])
        nx, ny = self._nx[row], self._ny[row]
        ix = np.floor(x * self._inv_sx[row] + self._half_nx[row]).astype(np.int64)
        iy = np.floor(y * self._inv_sy[row] + self._half_ny[row]).astype(np.int64)
        in_grid = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
        cell = (ev * self.n_cells + self._offset[row] + iy * nx + ix)[in_grid]
        cells = np.bincount(cell, energy[in_grid], minlength=n_events * self.n_cells).reshape(n_events, self.n_cells)
        out = ~in_grid & (row > 0) & (row <= self.n_layers)
        overflow = np.bincount(ev[out] * self.n_layers + row[out] - 1, energy[out], minlength=n_events * self.n_layers)
        return self.geometry.apply_threshold(cells), overflow.reshape(n_events, self.n_layers)

    def split(self, cells: np.ndarray) -> dict[str, np.ndarray]:
        """Flat cells (n_events, n_cells) → the detector's store variables."""
        n = len(cells)
        if isinstance(self.geometry, VoxelCalorimeter):
            return {self.geometry.variable: cells.reshape(n, *self.geometry.cells).astype(np.float32)}
        return {layer.name: cells[:, o:o + ny * nx].reshape(n, ny, nx).astype(np.float32)
                for layer, o, ny, nx in zip(self.geometry.layers, self.offset, self.ny, self.nx)}
