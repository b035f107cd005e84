"""Histograms of samples for the binned metrics and the report's plots (boost-histogram through ``hist``).

Binning is defined by the **reference sample alone**, so a generated sample cannot move the
bins: one wild generated event must not widen every bin and wash out the comparison (a union
binning did: one event at 20× the maximum cut ⟨S²⟩ by 95 %). Every histogram keeps its
underflow and overflow bins and stores Σw and Σw² per bin (``hist.storage.Weight``), so
weighted samples (DCTR) carry their variances and mplhep draws the same objects.

Three conventions, selected by name (``BINNINGS``), differ in where the edges lie, what happens
outside them and how the fractions are normalised:

``"reference"`` (physgen's default)
    an integer ``bins`` gives **equal-population** bins: the edges are the reference's quantiles
    at 0, 1/bins, …, 1 (weighted quantiles for a weighted reference), so every bin holds the same
    share of the reference (repeated quantiles of a
    discrete or point-mass sample merge; a sample with at most ``bins`` distinct values gets one bin
    per value). Values outside the reference's range are counted in the first / last bin (the flow
    bins are folded into the end bins), and the fractions are normalised over all values.
    Equiprobable cells are the classic choice for χ² tests (Mann & Wald, Ann. Math. Statist. 13
    (1942) 306): no bin is sparsely filled, so χ² keeps its asymptotic distribution, and one
    generated outlier changes ⟨S²⟩ no more than redrawing any one event does (issue 15: 0.5 % vs
    1.9 % on equal-width edges, one 20×-max event in 2000; ``benchmarks/crosscheck_metrics.py``).
``"reference_width"``
    ``bins`` equal-width bins from the reference's minimum to its maximum, flows folded into the end
    bins as for ``"reference"`` (the binning of the report's histograms).
``"calochallenge"``
    the Fast Calorimeter Simulation Challenge 2022 (``code/evaluate_plotting_helper.py``):
    equal-width bins, ``plt.hist(..., density=True)`` × bin widths, i.e. values outside the edges
    are dropped and the fractions are normalised over the values inside.

An array ``bins`` is used as the edges in every convention. Bins are half-open [eᵢ, eᵢ₊₁) except the
last, which includes its upper edge (numpy's ``np.histogram`` convention, so the reference's maximum
is inside the last bin).
"""

from __future__ import annotations

import hist
import numpy as np

from physgen.errors import PhysgenError
from physgen.metrics._samples import as_sample, as_weights

__all__ = ["BINNINGS", "bin_fractions", "binning_edges", "fill", "fill_2d", "quantile_edges", "reference_edges"]

BINNINGS = ("reference", "reference_width", "calochallenge")
"""Binning conventions of the binned metrics (see the module docstring)."""


def check_binning(binning: str) -> str:
    if binning not in BINNINGS:
        msg = f"unknown binning {binning!r}: expected one of {list(BINNINGS)}"
        raise PhysgenError(msg)
    return binning


def _explicit_edges(bins) -> np.ndarray:
    edges = np.asarray(bins, dtype=np.float64)
    if edges.size < 2 or not np.all(np.diff(edges) > 0):
        msg = f"bin edges must be at least two increasing values, got {edges.tolist()!r}"
        raise PhysgenError(msg)
    return edges


def reference_edges(reference, bins: int | np.ndarray = 50) -> np.ndarray:
    """Bin edges from the reference alone: ``bins`` equal-width bins from its minimum to its
    maximum (``np.histogram_bin_edges``; a constant sample gets [x − ½, x + ½]), or ``bins``
    itself when it is an array of increasing edges."""
    if np.ndim(bins) == 1:
        return _explicit_edges(bins)
    return np.histogram_bin_edges(as_sample(reference, "reference"), bins=int(bins))


def quantile_edges(reference, bins: int | np.ndarray = 50, weights=None) -> np.ndarray:
    """Equal-population edges from the reference alone: its quantiles at k/``bins`` (linear
    interpolation, ``np.quantile``; with unequal ``weights``, the weighted quantiles — the inverted
    weighted CDF — so the bins hold equal shares of the distribution the weighted sample stands for),
    repeated values merged. A reference with at most ``bins`` distinct values gets one bin per value
    (edges halfway between neighbours), so a discrete observable is never binned coarser than its
    values; a constant one gets [x − ½, x + ½]. An array ``bins`` is returned as the edges."""
    if np.ndim(bins) == 1:
        return _explicit_edges(bins)
    reference = as_sample(reference, "reference")
    values = np.unique(reference)
    if values.size == 1:
        return np.array([values[0] - 0.5, values[0] + 0.5])
    if values.size <= int(bins):
        return np.concatenate([values[:1], 0.5 * (values[1:] + values[:-1]), values[-1:]])
    levels = np.linspace(0.0, 1.0, int(bins) + 1)
    w = None if weights is None else as_weights(weights, reference)
    if w is None or np.all(w == w[0]):
        return np.unique(np.quantile(reference, levels))
    edges = np.quantile(reference, levels, weights=w, method="inverted_cdf")
    edges[0], edges[-1] = values[0], values[-1]  # the full range, as unweighted: no reference value overflows
    return np.unique(edges)


def binning_edges(reference, bins: int | np.ndarray, binning: str, weights=None) -> np.ndarray:
    """The edges of the ``binning`` convention: equal-population (of the ``weights``-weighted
    reference) for ``"reference"``, equal-width over the reference's range otherwise (see the module
    docstring)."""
    check_binning(binning)
    return quantile_edges(reference, bins, weights) if binning == "reference" else reference_edges(reference, bins)


def _axis(edges: np.ndarray) -> hist.axis.Variable:
    """A variable axis whose last bin includes ``edges[-1]`` (boost-histogram's bins are all half-open:
    the upper edge moves up by one unit in the last place, so only values above it overflow)."""
    closed = np.append(edges[:-1], np.nextafter(edges[-1], np.inf))
    return hist.axis.Variable(closed, underflow=True, overflow=True)


def fill(x, edges: np.ndarray, weights=None) -> hist.Hist:
    """A weighted 1D histogram of ``x`` on ``edges``, with flow bins (``hist.Hist``)."""
    x = as_sample(x)
    h = hist.Hist(_axis(np.asarray(edges, dtype=np.float64)), storage=hist.storage.Weight())
    return h.fill(x, weight=as_weights(weights, x))


def fill_2d(x, y, edges_x: np.ndarray, edges_y: np.ndarray, weights=None) -> hist.Hist:
    """A weighted 2D histogram of (``x``, ``y``) with flow bins on both axes."""
    x, y = as_sample(x, "x"), as_sample(y, "y")
    h = hist.Hist(_axis(np.asarray(edges_x, float)), _axis(np.asarray(edges_y, float)), storage=hist.storage.Weight())
    return h.fill(x, y, weight=as_weights(weights, x))


def _fold_flows(values: np.ndarray) -> np.ndarray:
    """Add each axis's underflow to its first bin and its overflow to its last bin, drop the flows."""
    values = values.copy()
    for axis in range(values.ndim):
        moved = np.moveaxis(values, axis, 0)
        moved[1] += moved[0]
        moved[-2] += moved[-1]
    return values[(slice(1, -1),) * values.ndim]


def bin_fractions(h: hist.Hist, binning: str = "reference") -> tuple[np.ndarray, np.ndarray]:
    """The fraction of the (weighted) sample in each bin and its variance (Σw² / (Σw)²), under the
    ``binning`` convention: flows folded into the end bins (``"reference"``, ``"reference_width"``)
    or dropped (``"calochallenge"``). All zeros when nothing falls inside."""
    check_binning(binning)
    values, variances = h.values(flow=True), h.variances(flow=True)
    if binning != "calochallenge":
        values, variances = _fold_flows(values), _fold_flows(variances)
    else:
        inner = (slice(1, -1),) * values.ndim
        values, variances = values[inner], variances[inner]
    total = values.sum()
    if total <= 0:
        return np.zeros_like(values), np.zeros_like(variances)
    return values / total, variances / total**2
