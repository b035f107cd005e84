"""Soft photons of hadronic cascades drawn cell by cell (compound Poisson) instead of photon by photon.

A cascade's soft photons (:func:`._hadronic._soft_photons`) are i.i.d.: each is emitted on the shower axis at
a depth z₀ of the cascade's origin distribution, flies an exponential distance of mean L (a share s of them:
L_far) in an isotropic direction and deposits an exponential energy there. Their number is Poisson. By Poisson
thinning the photons landing in each cell are then independent Poisson counts, of mean λ · p_cell, where p_cell
is the probability that one photon lands there, and the energy of n photons of exponential energies is a gamma
variate of shape n. So a cascade needs one Poisson draw per cell (≈ 500 in the CaloGAN calorimeter) and one gamma
draw per lit cell, not five draws and a cell lookup for each of its thousands of photons; the result has the
same distribution, to the tabulation below.

p_cell = Σ_k w_k P[k, cell]: w_k is the cascade's probability that a photon starts in origin row k (a depth bin on
the axis, :func:`._hadronic._origin_masses`), and P[k, cell] the probability that a photon from depth z_k lands in
the cell. P is computed once per calorimeter, tune and impact point: in each readout layer the photon's distance
from the axis is binned (the z and radius of a point at distance ρ in a uniformly random direction, cos θ
uniform, are integrated exactly in cos θ and by ρ-quantile midpoints in ρ), and each radial bin is spread over
the cells by a ring of points at the readout's own azimuths. Points beyond the grid go to the layer's overflow,
points in front of or behind the calorimeter leak out. This needs a normal incidence (the axis along z) and
``total`` readout (an ``active`` readout samples each deposit by the crossings of its plane).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from physgen.sim.showers._deposit import AZIMUTHS, CellReadout
from physgen.sim.showers._spots import CellDeposits

__all__ = ["PhotonCellTable", "origin_rows", "MAX_TABLE_SLOTS"]

MAX_TABLE_SLOTS = 2048
"""Cell slots (cells and overflows) up to which the table draw is used: it costs ≈ 50 ns per slot and cascade,
the photon-by-photon draw ≈ 30 ns per photon, and a cascade has a few thousand photons (CaloGAN: 507 slots;
a fine ECAL's tens of thousands of cells are cheaper photon by photon)."""

ORIGIN_STEP_MM = 10.0
"""Depth bins (mm along the axis) of the photon origins in and just behind the calorimeter (a tenth of the
soft photons' mean flight in the CaloGAN tune, which smears any origin over the cells by far more)."""

ORIGIN_GROUP = 5
"""Origin bins further behind the calorimeter than two near flights are grouped by this many into one row."""

_FLIGHT_QUANTILES = 512
"""ρ-quantile midpoints of the exponential flight used to integrate P (the midpoint rule in probability)."""

_RING_RADII, _RING_AZIMUTHS = 8, 512
"""Points per radial bin (radii × azimuths) that spread it over the cells."""


def _radial_edges(reach: float) -> np.ndarray:
    """mm: fine near the axis (the strips of a layer are 5 mm wide in CaloGAN), coarser outside, up to ``reach``."""
    return np.unique(np.concatenate([np.arange(0.0, 20.0, 0.5), np.arange(20.0, 100.0, 2.0),
                                     np.arange(100.0, reach, 5.0), [reach]]))


@dataclass(frozen=True)
class PhotonCellTable:
    """Per origin row, the probability that a soft photon lands in each cell slot (cells, then one overflow slot
    per layer; the rest of the row leaks out) for a shower axis entering at (``x0``, ``y0``) at normal incidence."""

    origin_edges: np.ndarray  # mm: fine depth bins of the origins on the axis (origin row 0 is the front face)
    row_of_bin: np.ndarray  # origin row of each fine bin (+ 1: row 0 is the front face)
    probability: np.ndarray  # (rows, slots): cells of the readout, then the overflow of each layer

    @classmethod
    def build(cls, readout: CellReadout, near_path: float, far_path: float, far_share: float, x0: float,
              y0: float) -> PhotonCellTable:
        depth = float(readout.depth_edges[-1])
        longest = max(near_path, far_path)
        edges = np.arange(0.0, depth + 8.0 * longest + ORIGIN_STEP_MM, ORIGIN_STEP_MM)
        centres = 0.5 * (edges[1:] + edges[:-1])
        near_end = np.searchsorted(centres, depth + 2.0 * near_path)
        row_of_bin = np.concatenate([np.arange(near_end),
                                     near_end + np.arange(len(centres) - near_end) // ORIGIN_GROUP]) + 1
        corner = np.hypot(np.abs(x0) + readout.nx * readout.sx / 2, np.abs(y0) + readout.ny * readout.sy / 2).max()
        radii = _radial_edges(float(corner) + 1.0)
        ring = _ring_cells(radii, float(x0), float(y0), 1.0 / readout.sx, readout.nx / 2, 1.0 / readout.sy,
                           readout.ny / 2, readout.nx.astype(np.int64), readout.ny.astype(np.int64))
        origins = np.concatenate([[0.0], centres])  # the front face, then the bin centres
        per_origin = sum(share * _origin_cell_probability(origins, readout, radii, path, ring)
                         for share, path in ((1.0 - far_share, near_path), (far_share, far_path)) if share > 0)
        rows = np.concatenate([[0], row_of_bin])
        size = np.bincount(rows)
        probability = np.zeros((len(size), per_origin.shape[1]))
        np.add.at(probability, rows, per_origin)
        return cls(edges, row_of_bin, probability / size[:, None])

    @property
    def n_rows(self) -> int:
        return len(self.probability)

    def draw(self, rng: np.random.Generator, event: np.ndarray, rows: np.ndarray, energy_mev: np.ndarray,
             mean_energy: float) -> CellDeposits:
        """Cell deposits of Poisson(``energy_mev`` / ``mean_energy``) photons per cascade whose origins fall in the
        rows with probabilities ``rows`` (cascades × rows; what is missing leaks out behind), each of an
        exponential energy of mean the cascade's energy over its photon count (as :func:`._hadronic._soft_photons`)."""
        cascade, slot, energy = _compound_poisson(rng, np.ascontiguousarray(rows), self.probability,
                                                  energy_mev / mean_energy, energy_mev)
        return CellDeposits(event[cascade], slot, energy)


@numba.njit(cache=True, nogil=True)
def _compound_poisson(rng, rows, probability, photons, energy):
    """Per cascade c and slot s, n ~ Poisson(λ[c, s]) photons, λ[c, s] = ``photons``[c] · Σ_k ``rows``[c, k]
    ``probability``[k, s] (and Poisson(``photons``[c] − Σ_s λ[c, s]) that leak out), and for each lit slot the
    energy of its n photons, each an exponential of mean ``energy``[c] over the cascade's total photon count:
    (cascade, slot, energy) of the lit slots.

    The mixture Σ_k rows · probability is summed here, row by row, rather than by a matrix product: numpy's
    multithreaded BLAS spun its threads on every batch, which on two busy cores cost more CPU time than all the
    rest of a π+ shower (2.3× the showers per CPU-s without it, load 3.5, 2026-12-01)."""
    n_cascades, n_slots = len(rows), probability.shape[1]
    counts = np.empty((n_cascades, n_slots), dtype=np.int64)
    total = np.zeros(n_cascades, dtype=np.int64)
    mixture = np.empty(n_slots)
    lit = 0
    for c in range(n_cascades):
        mixture[:] = 0.0
        for k in range(probability.shape[0]):
            if rows[c, k] != 0.0:
                for s in range(n_slots):
                    mixture[s] += rows[c, k] * probability[k, s]
        landing = 0.0
        for s in range(n_slots):
            expected = photons[c] * mixture[s]
            counts[c, s] = _poisson(rng, expected)
            landing += expected
            total[c] += counts[c, s]
            lit += counts[c, s] > 0
        total[c] += rng.poisson(max(photons[c] - landing, 0.0))  # those leaking out share the energy too
    cascade, slot, out = np.empty(lit, dtype=np.int64), np.empty(lit, dtype=np.int64), np.empty(lit)
    i = 0
    for c in range(n_cascades):
        per_photon = energy[c] / max(total[c], 1)
        for s in range(n_slots):
            if counts[c, s] > 0:
                cascade[i], slot[i] = c, s
                k = counts[c, s]  # the sum of k standard exponentials (a gamma variate of shape k)
                out[i] = per_photon * (rng.standard_exponential() if k == 1 else rng.standard_gamma(np.float64(k)))
                i += 1
    return cascade, slot, out


_INVERSION_MAX = 30.0
"""Poisson means up to which :func:`_poisson` inverts the cdf (e^(−λ) stays far from underflow)."""


@numba.njit(cache=True, nogil=True)
def _poisson(rng, mean):
    """A Poisson variate of ``mean``: for small means (most cells) by inverting the cdf with one uniform, which
    costs a third of the generator's multiplication method (one uniform per count); else the generator's."""
    if mean <= 0.0:
        return 0
    if mean > _INVERSION_MAX:
        return rng.poisson(mean)
    u = rng.random()
    k, term = 0, np.exp(-mean)
    cdf = term
    while u > cdf and term > 0.0:
        k += 1
        term *= mean / k
        cdf += term
    return k


@numba.njit(cache=True, nogil=True)
def _ring_cells(radii, x0, y0, inv_sx, half_nx, inv_sy, half_ny, nx, ny):
    """(layers, radial bins, cells of the largest layer + 1): the share of a ring in each radial bin (its radii
    spaced evenly, its azimuths those of the readout's table) in each cell of the layer (flat within the layer,
    as the readout numbers them), and in slot nx · ny beyond the layer's grid (its overflow)."""
    n_layers = len(nx)
    out = np.zeros((n_layers, len(radii) - 1, np.max(nx * ny) + 1))
    stride = AZIMUTHS // _RING_AZIMUTHS
    weight = 1.0 / (_RING_RADII * _RING_AZIMUTHS)
    for layer in range(n_layers):
        for j in range(len(radii) - 1):
            for m in range(_RING_RADII):
                r = radii[j] + (m + 0.5) / _RING_RADII * (radii[j + 1] - radii[j])
                for q in range(_RING_AZIMUTHS):
                    angle = 2.0 * np.pi * (q * stride + 0.5) / AZIMUTHS
                    fx = np.floor((x0 + r * np.cos(angle)) * inv_sx[layer] + half_nx[layer])
                    fy = np.floor((y0 + r * np.sin(angle)) * inv_sy[layer] + half_ny[layer])
                    if 0 <= fx < nx[layer] and 0 <= fy < ny[layer]:
                        slot = np.int64(fy) * nx[layer] + np.int64(fx)
                    else:
                        slot = nx[layer] * ny[layer]
                    out[layer, j, slot] += weight
    return out


def _origin_cell_probability(origins: np.ndarray, readout: CellReadout, radii: np.ndarray, path: float,
                             ring: np.ndarray) -> np.ndarray:
    """(origins, slots): probability that a photon emitted isotropically on the axis at depth ``origins`` (mm),
    absorbed after an exponential flight of mean ``path`` mm, lands in each slot of the readout (its cells, then
    the overflow of each layer)."""
    radial, beyond = _layer_radial(origins, readout.depth_edges, radii, path)
    out = np.zeros((len(origins), readout.n_cells + readout.n_layers))
    for layer, (first, size) in enumerate(zip(readout.offset, readout.nx * readout.ny)):
        in_layer = radial[:, layer, :] @ ring[layer, :, :size + 1]
        out[:, first:first + size] = in_layer[:, :size]
        out[:, readout.n_cells + layer] = in_layer[:, size] + beyond[:, layer]
    return out


@numba.njit(cache=True, nogil=True)
def _layer_radial(origins, depth_edges, radii, path):
    """Probability that the photon lands in readout layer l at a distance from the axis in radial bin j
    (origins × layers × bins), and in layer l beyond the last radius (origins × layers).

    At flight distance ρ the direction's cos θ to the axis is uniform: the point is at depth z₀ + ρ cos θ and
    distance ρ sin θ from the axis, so the cos θ range inside the layer and within radius R is an interval pair,
    measured exactly; ρ runs over the midpoints of _FLIGHT_QUANTILES equal-probability bins of the exponential."""
    n_layers, n_bins = len(depth_edges) - 1, len(radii) - 1
    radial = np.zeros((len(origins), n_layers, n_bins))
    beyond = np.zeros((len(origins), n_layers))
    within = np.empty(len(radii))
    for o in range(len(origins)):
        for layer in range(n_layers):
            for q in range(_FLIGHT_QUANTILES):
                rho = -path * np.log(1.0 - (q + 0.5) / _FLIGHT_QUANTILES)
                lo = max(-1.0, (depth_edges[layer] - origins[o]) / rho)
                hi = min(1.0, (depth_edges[layer + 1] - origins[o]) / rho)
                if hi <= lo:
                    continue
                total = 0.5 * (hi - lo)
                for j in range(len(radii)):  # share of [lo, hi] with |cos θ| ≥ s: distance ≤ radii[j]
                    if radii[j] >= rho:
                        within[j] = total
                        continue
                    s = np.sqrt(1.0 - (radii[j] / rho) ** 2)
                    within[j] = 0.5 * (max(0.0, hi - max(lo, s)) + max(0.0, min(hi, -s) - lo))
                for j in range(n_bins):
                    radial[o, layer, j] += (within[j + 1] - within[j]) / _FLIGHT_QUANTILES
                beyond[o, layer] += (total - within[n_bins]) / _FLIGHT_QUANTILES
    return radial, beyond


def origin_rows(table: PhotonCellTable, bin_masses: np.ndarray, front: np.ndarray) -> np.ndarray:
    """(cascades, rows): the probability of an origin in each row of ``table``, from the masses of its fine
    depth bins (cascades × bins) and of the front face (origins in front of the calorimeter move there)."""
    starts = np.flatnonzero(np.diff(table.row_of_bin, prepend=0))  # the bins of a row are consecutive
    return np.concatenate([front[:, None], np.add.reduceat(bin_masses, starts, axis=1)], axis=1)
