"""The sparse far cells of a shower (its halo), generated as hits instead of learnt cell by cell.

A 50 GeV photon in the ILD Si–W ECAL lights ≈ 520 of its 27 000 cells; the fewest cells that hold 90 % of each
layer's mean energy are 751 in all, the other ≈ 26 000 share 10 % of the energy and ≈ 240 hits per shower, each
cell lit in a few per cent of the showers or fewer. A density generator cannot learn 26 000 mostly-zero cells one
by one; it can learn what the shower-level observables see of them — per layer their energy and their number of
hits — and leave where those hits sit, and how the energy splits among them, to the training showers' statistics:

* the hits are placed, without replacement, at cells drawn with probability proportional to each cell's
  occupancy in the training showers (the fraction of showers in which it is lit);
* their energies are drawn from the training spectrum of the halo's lit cells (its quantiles, by inverse
  transform sampling), each hit's excess over the spectrum's lowest value (the readout threshold) scaled by its
  cell's mean excess relative to the halo's (a cell far from the axis is lit by softer deposits than one beside the
  core: with one spectrum for the whole halo, coarse cells such as the CaloGAN's 40 mm ones took too much energy far
  out and the layer-1 width came out 0.5 standard deviations wide), and then stretched so that they add up to the
  energy the generator gives the halo: e_i = e_min + s c_i (q_i − e_min), s ≥ 0, c_i the cell's relative excess.

The halo hits are thus independent of each other given their number and energy, i.e. the halo's lateral
structure is the training showers' average one. This is the factorisation of a hit-based fast simulation (hits
placed from an average profile, as GFlash's spots, Grindhammer, Rudowicz, Peters, NIM A290 (1990) 469), with
the number of hits and their energy learnt shower by shower.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict

import numpy as np
import torch

__all__ = ["HaloSpectrum", "fit_halo", "sample_halo"]

QUANTILE_LEVELS = 101
"""Quantiles of the lit cells' energies kept for inverse transform sampling (every percentile)."""


class HaloSpectrum(TypedDict):
    """What :func:`sample_halo` needs of one halo group: its cells' occupancy and its lit cells' energies."""

    occupancy: list[float]
    """Per cell of the group, the fraction of training showers in which it is lit."""
    quantiles: list[float]
    """The lit cells' energies at the levels 0, 1 / 100, …, 1 (the first: the lowest, i.e. the threshold)."""
    excess: NotRequired[list[float]]
    """Per cell, the mean of its lit energies above the lowest, relative to that of all lit cells (1: never lit;
    absent in spectra fitted before it existed, which place every hit's energy alike)."""


def fit_halo(cells: np.ndarray) -> HaloSpectrum:
    """The occupancy, the energy quantiles and the cells' relative excess of the ``(events, cells)`` energies of one
    halo group (a group with no lit cell gets occupancy 0 and quantiles 0: it generates no hits)."""
    cells = np.asarray(cells, dtype=float)
    on = cells > 0
    lit = cells[on]
    quantiles = np.quantile(lit, np.linspace(0, 1, QUANTILE_LEVELS)) if lit.size else np.zeros(QUANTILE_LEVELS)
    hits = on.sum(axis=0)
    above = np.where(on, cells - quantiles[0], 0.0).sum(axis=0)
    mean_above = above.sum() / max(hits.sum(), 1)
    excess = np.where((hits > 0) & (mean_above > 0), above / np.maximum(hits, 1) / max(mean_above, 1e-300), 1.0)
    return {"occupancy": on.mean(axis=0).tolist(), "quantiles": quantiles.tolist(), "excess": excess.tolist()}


def sample_halo(counts: torch.Tensor, energy: torch.Tensor, halo: HaloSpectrum,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """The ``(events, cells)`` energies (float64) of a halo group with ``counts`` hits and ``energy`` in all per
    event (``(events,)`` each; counts are clipped to the cells that were ever lit), placed and spread as the module
    docstring says; the random numbers come from ``generator``."""
    occupancy = torch.as_tensor(halo["occupancy"], dtype=torch.float64, device=energy.device)
    quantiles = torch.as_tensor(halo["quantiles"], dtype=torch.float64, device=energy.device)
    cells = torch.zeros(len(energy), len(occupancy), dtype=torch.float64, device=energy.device)
    counts = counts.long().clamp(0, int((occupancy > 0).sum()))
    hit = counts > 0
    n_max = int(counts.max()) if len(counts) else 0
    if n_max == 0:
        return cells
    where = torch.multinomial(occupancy.expand(int(hit.sum()), -1), n_max, generator=generator)
    position = torch.rand(where.shape, dtype=torch.float64, device=energy.device, generator=generator)
    position = position * (QUANTILE_LEVELS - 1)
    low = position.floor().long().clamp(max=QUANTILE_LEVELS - 2)
    drawn = torch.lerp(quantiles[low], quantiles[low + 1], position - low)
    kept = torch.arange(n_max, device=energy.device) < counts[hit].unsqueeze(1)
    floor = quantiles[0]
    if "excess" in halo:  # each hit's excess over the floor scaled by its cell's
        excess = torch.as_tensor(halo["excess"], dtype=torch.float64, device=energy.device)
        drawn = floor + (drawn - floor) * excess[where]
    above = torch.where(kept, drawn - floor, 0.0)
    spare = (energy[hit].double() - counts[hit] * floor).clamp(min=0)
    stretch = spare / above.sum(dim=1).clamp(min=torch.finfo(above.dtype).tiny)
    values = torch.where(kept, floor + stretch.unsqueeze(1) * above, 0.0)
    cells[hit] = cells[hit].scatter(1, where, values)
    return cells
