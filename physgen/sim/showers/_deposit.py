"""Depositing spots into the cells of a layered or voxel calorimeter spec.

Spots are moved from shower coordinates (path along the axis, radius, the spot's azimuth or a uniform one)
to the detector frame: the axis enters at (x0, y0, 0) with direction
(sin θ cos φ, sin θ sin φ, cos θ). Each spot then lands in the readout layer holding its
depth and in the cell holding its (x, y); all showers of a batch are binned at once, by two
compiled (numba) loops over the spots: locating them and summing their energies, in place of a
dozen full-length numpy temporaries per spot. Spots outside a layer's cell grid go to that
layer's overflow; spots in front of or behind the calorimeter leak out.

Readout ``total`` records the deposit itself (CaloGAN: Pb + LAr). Readout ``active`` records
the energy in the active medium, counted in charged-particle crossings: a spot of deposit e
makes Poisson(e / e_x) crossings of the active gap, e_x being the mixture's MIP loss over one
sampling period, and each crossing leaves a gamma-distributed (Landau stand-in) energy of mean
f_samp · e_x. This gives the sampling fluctuation σ²/E = e_x (1 + 1/k) at any granularity and,
unlike a per-spot gamma smearing, the right occupancy of sparse cells, which sets the hit count
above a MIP threshold. The steps of charged tracks (``Spots.exact_crossings``: the leading tracks of an EM
shower) cross every plane they reach: their crossings are counted exactly, not drawn. The threshold is applied
per cell. ``signal_scale`` (the tune's ``active_signal_scale``)
multiplies f_samp: a shower's particles do not leave a MIP's signal per unit deposit.

Independent Poisson crossings per spot understate the sampling fluctuation of a whole shower: a real shower's
crossings are not independent (one track crosses several planes; how much of the energy ends in soft photons
absorbed in the tungsten, and how much in charged tracks that reach the silicon, is decided shower by shower).
``track_length_spread`` σ (the tune's) multiplies the expected crossings of every spot of a shower (not the
exactly counted leading tracks) by one log-normal factor of mean 1 and log-sd σ: more charged track length means
more signal *and* more lit cells, as in Geant4. On the shipped ILD photons at a fixed longitudinal centroid the
visible energy scatters by 40.5 MeV in Geant4 and 29.7 MeV with independent crossings, and the hit count grows
with the visible energy (+0.05 hits/MeV) where independent crossings make it fall (−0.22).

A shower's particles cross the thin active planes at all angles, not at normal incidence: a particle on a path
1/cos θ times the period deposits that much more in the period *and* in the plane it crosses. ``crossing_obliquity``
k (the tune's) makes a deposit e cross e / (k e_x) times, each crossing with k times a normal MIP's mean signal (the
sampling fraction kept): fewer, larger crossings, so fewer lit cells just above the threshold. Geant4's ILD photons
(shipped geant4_ild_photons_50gev) put 6.7 % of their hits below 0.15 MeV and, in the sparse cells beyond 40 mm of
the axis, have their most frequent deposit at 0.25–0.6 MeV (a MIP at normal incidence in 0.5 mm Si: 0.19 MeV
on average); normal incidence gave 11.6 %, k = 1.4 gives 6.7 %.

An active plane samples the shower where it sits, at the back of its period (the stacks put the
absorber first), not averaged over the period: with ``active`` readout each spot is counted by
the nearest active plane (the plane's region runs between the midpoints to its neighbours) and
weighted by period / region length, so the visible energy follows the energy density at the
plane. Averaging over the period instead puts the readout half an absorber plate too deep
(0.3 X0 in the ILD ECAL: ~half a layer on its longitudinal centroid, against Geant4).
"""

from __future__ import annotations

import numba
import numpy as np

from physgen.geometry import layer_boundaries
from physgen.specs import LayeredCalorimeter, VoxelCalorimeter
from physgen.sim.showers._spots import CellDeposits, SpotParts, Spots
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

    def __init__(self, geometry: LayeredCalorimeter | VoxelCalorimeter, stack: Stack, signal_scale: float = 1.0,
                 track_length_spread: float = 0.0, crossing_obliquity: float = 1.0):
        self.geometry = geometry
        self.stack = stack
        self.signal_scale = signal_scale  # ``active`` readout: the signal per unit deposit over the MIP sampling fraction
        self.track_length_spread = track_length_spread  # ``active``: log-sd of a shower's crossings per unit deposit
        self.crossing_obliquity = crossing_obliquity  # ``active``: path per crossing over the period (1/cos θ)
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

    def _visible(self, rng: np.random.Generator, energy: np.ndarray, section: np.ndarray, exact: bool = False
                 ) -> np.ndarray:
        """Energy the cells record of spot deposits ``energy`` sampled by planes of ``section``.

        ``exact``: the spots are steps of charged tracks (:attr:`Spots.exact_crossings`): a track crosses every
        plane it reaches, so the crossings are energy / e_x rounded up or down at random (their mean kept),
        not a Poisson number (a converted photon's pair is seen by the next plane with certainty, not 86 % of
        the time). Other spots cross ``crossing_obliquity`` times fewer planes, each with that much more signal."""
        if self.geometry.readout == "total":
            return energy
        per_crossing = self.stack.mip_loss[section] * self.stack.period[section]  # MeV deposited per MIP crossing
        fraction = self.stack.sampling_fraction[section] * self.signal_scale
        if exact:
            crossings = np.floor(energy / per_crossing + rng.random(len(energy)))
        else:
            per_crossing = per_crossing * self.crossing_obliquity
            crossings = rng.poisson(energy / per_crossing)
        return fraction * per_crossing / LANDAU_SHAPE * rng.standard_gamma(crossings * LANDAU_SHAPE)

    def deposit(self, rng: np.random.Generator, spots: Spots | CellDeposits | SpotParts, n_events: int, x0: np.ndarray,
                y0: np.ndarray, theta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cell energies (n_events, n_cells) and overflow (n_events, n_layers) of the ``spots`` (part by part)."""
        cells, overflow = np.zeros(n_events * self.n_cells), np.zeros(n_events * self.n_layers)
        frame = tuple(np.asarray(v, dtype=float) for v in (x0, y0, theta, phi))
        tilted = bool(np.any(frame[2]))  # normal incidence: the shower frame is the detector frame
        nothing = np.zeros(0)
        # total readout: the deposits themselves, added while locating; active: the planes' signal, drawn after
        direct = self.geometry.readout == "total"
        track_length = None  # per shower: its crossings per unit deposit over the mean (``track_length_spread``)
        if not direct and self.track_length_spread > 0:
            sigma = self.track_length_spread
            track_length = np.exp(sigma * rng.standard_normal(n_events) - sigma**2 / 2)
        for part in spots.parts:
            if isinstance(part, CellDeposits):  # already binned (total readout, normal incidence)
                in_grid = part.slot < self.n_cells
                target = np.where(in_grid, part.event * self.n_cells + part.slot,
                                  len(cells) + part.event * self.n_layers + part.slot - self.n_cells)
                _accumulate(target, part.energy, cells, overflow)
                continue
            azimuth = nothing if part.azimuth is None else part.azimuth
            if part.azimuth is None:
                turn = rng.integers(0, AZIMUTHS, len(part))
            elif np.isnan(np.sum(part.azimuth)):  # only the missing (NaN) azimuths are drawn
                drawn = np.isnan(part.azimuth)
                turn = np.zeros(len(part), dtype=np.int64)
                turn[drawn] = rng.integers(0, AZIMUTHS, int(drawn.sum()))
            else:
                turn = np.zeros(0, dtype=np.int64)
            target, region = _locate(part.event, part.path, part.radius, azimuth,
                                     nothing if part.shift_x is None else part.shift_x,
                                     nothing if part.shift_y is None else part.shift_y, turn, part.copies, *frame,
                                     tilted, self._plane_edges, self._plane_row, self.n_layers, self.n_cells,
                                     self._inv_sx, self._half_nx, self._inv_sy, self._half_ny, self._nx, self._ny,
                                     self._offset, part.energy if direct else nothing, cells, overflow)
            if not direct:
                energy = np.repeat(part.energy / part.copies, part.copies) * self._plane_weight[region]
                if track_length is not None and not part.exact_crossings:
                    energy *= np.repeat(track_length[part.event], part.copies)
                energy = self._visible(rng, energy, self._plane_section[region], part.exact_crossings)
                _accumulate(target, energy, cells, overflow)
        return (self.geometry.apply_threshold(cells.reshape(n_events, self.n_cells)),
                overflow.reshape(n_events, self.n_layers))

    def split(self, cells: np.ndarray) -> dict[str, np.ndarray]:
        """Flat cells (n_events, n_cells) → the detector's store variables."""
        n = len(cells)
        if isinstance(self.geometry, VoxelCalorimeter):
            return {self.geometry.variable: cells.reshape(n, *self.geometry.cells).astype(np.float32)}
        return {layer.name: cells[:, o:o + ny * nx].reshape(n, ny, nx).astype(np.float32)
                for layer, o, ny, nx in zip(self.geometry.layers, self.offset, self.ny, self.nx)}


@numba.njit(cache=True, nogil=True)
def _locate(event, path, radius, azimuth, shift_x, shift_y, turn, copies, x0, y0, theta, phi, tilted, plane_edges,
            plane_row, n_layers, n_cells, inv_sx, half_nx, inv_sy, half_ny, nx, ny, offset, energy, cells, overflow):
    """Per spot: where its energy goes (flat cell of the batch, ``len(cells)`` + its layer's overflow slot,
    or −1 when it leaks out in front or behind) and its sampling region (index into ``plane_edges``).
    With ``energy`` given, the spots' energies are added to ``cells`` and ``overflow`` at once and nothing
    is returned (empty arrays). Each spot is deposited ``copies`` times (:attr:`Spots.copies`), its azimuth
    turned by k/copies of a turn, with 1/copies of its energy (entries i·copies + k of the returned arrays).

    One pass over the spots in place of a dozen full-length numpy temporaries; the arithmetic is the
    same, operation by operation, as the vectorised form (so the same cells to the last bit)."""
    n = len(event)
    direct = len(energy) > 0
    target = np.empty(0 if direct else n * copies, dtype=np.int64)
    region = np.empty(0 if direct else n * copies, dtype=np.int64)
    st, ct, sp, cp = np.sin(theta), np.cos(theta), np.sin(phi), np.cos(phi)
    n_edges, n_cell_slots, step = len(plane_edges), len(cells), AZIMUTHS // copies
    for i in range(n):
        e = event[i]
        if len(azimuth) and not np.isnan(azimuth[i]):
            k0 = np.int64(azimuth[i] * AZIMUTHS) & (AZIMUTHS - 1)  # the floor modulo of a power of 2
        else:
            k0 = turn[i]
        share = energy[i] / copies if direct else 0.0
        for c in range(copies):
            k = (k0 + c * step) & (AZIMUTHS - 1)
            a, b = radius[i] * _COS[k], radius[i] * _SIN[k]
            if len(shift_x):
                a, b = a + shift_x[i], b + shift_y[i]
            if tilted:
                # axis d = (st cp, st sp, ct); transverse unit vectors u1 = (ct cp, ct sp, −st), u2 = (−sp, cp, 0)
                x = x0[e] + path[i] * st[e] * cp[e] + a * ct[e] * cp[e] - b * sp[e]
                y = y0[e] + path[i] * st[e] * sp[e] + a * ct[e] * sp[e] + b * cp[e]
                z = path[i] * ct[e] - a * st[e]
            else:
                x, y, z = x0[e] + a, y0[e] + b, path[i]
            if tilted or c == 0:  # (at normal incidence the copies share the spot's depth)
                lo = 0  # searchsorted(plane_edges, z, "right"): the edges ≤ z, counted without branches
                for m in range(n_edges):
                    lo += plane_edges[m] <= z
                row = plane_row[lo]  # 0 in front, 1..n_layers, n_layers + 1 behind
            j = -1
            if 0 < row <= n_layers:
                fx = np.floor(x * inv_sx[row] + half_nx[row])
                fy = np.floor(y * inv_sy[row] + half_ny[row])
                if 0 <= fx < nx[row] and 0 <= fy < ny[row]:
                    j = e * n_cells + offset[row] + np.int64(fy) * nx[row] + np.int64(fx)
                else:
                    j = n_cell_slots + e * n_layers + row - 1
            if not direct:
                target[i * copies + c], region[i * copies + c] = j, lo
            elif j >= n_cell_slots:
                overflow[j - n_cell_slots] += share
            elif j >= 0:
                cells[j] += share
    return target, region


@numba.njit(cache=True, nogil=True)
def _accumulate(target, energy, cells, overflow):
    """Add ``energy`` to ``cells`` or ``overflow`` (flat) at each ``target`` of :func:`_locate` (−1: dropped)."""
    n_cell_slots = len(cells)
    for i in range(len(target)):
        j = target[i]
        if j >= n_cell_slots:
            overflow[j - n_cell_slots] += energy[i]
        elif j >= 0:
            cells[j] += energy[i]
