"""How close parametric showers are to a reference (Geant4) sample, on the high-level shower shapes.

The figures of issue 12 and the CaloChallenge practice (docs/PHYSICS.md §8–9): per observable column
the separation power ⟨S²⟩ and both means, and a classifier two-sample test (AUC) on all columns
together. The columns are physgen observables of the two datasets (:mod:`physgen.observables.calo`,
:mod:`physgen.observables.voxel`), flattened per layer (``sparsity_0``, ``width_x_1``, …), so the
benchmark, the tuning script and the tests measure exactly what ``physgen evaluate`` shows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr

from physgen.metrics import classifier_test, event_columns, separation_power
from physgen.observables._kinds import is_layered
from physgen.schema import EVENT
from physgen.store import ResolvedDataset

__all__ = ["LAYERED_SHAPES", "VOXEL_SHAPES", "S2_BINS", "Fidelity", "batch_dataset", "shower_columns",
           "simulated_columns", "fidelity"]

LAYERED_SHAPES = ("total_over_incident", "layer_energy", "energy_fraction", "shower_depth", "shower_depth_width",
                  "width_x", "width_y", "sparsity_calogan", "e_ratio")
"""The CaloGAN paper's shower shapes (docs/PHYSICS.md §2): E_tot/E_inc, layer energies and fractions, depth and
its width, lateral widths, sparsity and E_ratio per layer."""

VOXEL_SHAPES = ("n_hits", "visible_energy", "longitudinal_centroid", "shower_depth_width", "layer_energy",
                "radial_profile")
"""ILD (paper 004): hits above the MIP cut, visible energy, longitudinal centroid and width, the 30 layer
energies and the radial profile (per-layer lateral shapes of 30 layers would swamp a 500-shower test)."""

S2_BINS = 30
"""Bins of each ⟨S²⟩ histogram (equal-population bins of the reference, physgen's default binning). Two
samples of one distribution give ⟨S²⟩ ≈ bins/4 · (1/N₁ + 1/N₂) from counting noise alone: 0.008 for 2000
vs 10 000."""


@dataclass(frozen=True)
class Fidelity:
    """Per-column ⟨S²⟩ and means (reference, generated), and the classifier AUC on all columns."""

    s2: dict[str, float]
    mean_reference: dict[str, float]
    mean_generated: dict[str, float]
    auc: float | None
    n_reference: int
    n_generated: int
    s2_noise: float = field(default=0.0)

    @property
    def worst(self) -> tuple[str, float]:
        name = max(self.s2, key=self.s2.get)
        return name, self.s2[name]


def shower_columns(ds: xr.Dataset, names: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """The shower-shape columns of a calorimeter dataset (``LAYERED_SHAPES`` or ``VOXEL_SHAPES``)."""
    names = names or (LAYERED_SHAPES if is_layered(ds) else VOXEL_SHAPES)
    return {column: values for group in event_columns(ds, list(names)).values() for column, values in group.items()}


def batch_dataset(dataset: ResolvedDataset, batch: dict[str, np.ndarray]) -> xr.Dataset:
    """An in-memory Dataset of simulated ``batch`` arrays with the coordinates, units and spec provenance
    (hence the detector threshold) that the store of ``dataset`` would have."""
    schema = dataset.schema
    coords = {dim: xr.Variable(dim, values, attrs) for dim, (values, attrs) in schema.coords.items()}
    data = {name: xr.Variable((EVENT, *schema[name].dims), value, schema[name].attrs) for name, value in batch.items()
            if name in schema.names}
    return xr.Dataset(data, coords=coords, attrs={"physgen": {"specs": dataset.spec_texts()}})


def simulated_columns(simulator, energy_gev: np.ndarray, seed: int, names: tuple[str, ...] | None = None
                      ) -> dict[str, np.ndarray]:
    """:func:`shower_columns` of ``showers``-simulator showers at the given incident energies (normal
    incidence at the centre, as the Geant4 samples)."""
    cells, _ = simulator.showers(np.random.default_rng(seed), {"energy": energy_gev})
    batch = simulator.readout.split(cells)
    if simulator.options.energy_condition not in batch:
        batch[simulator.options.energy_condition] = energy_gev.astype(np.float32)
    return shower_columns(batch_dataset(simulator.dataset, batch), names)


def fidelity(reference: dict[str, np.ndarray], generated: dict[str, np.ndarray], *, classifier: bool = True,
             bins: int = S2_BINS, seed: int = 0, **classifier_options) -> Fidelity:
    """⟨S²⟩ per column and the classifier AUC between two sets of :func:`shower_columns`.

    Columns that are constant in both samples (an observable the geometry fixes) are skipped by the
    classifier but kept in the table (their ⟨S²⟩ is 0).
    """
    names = [k for k in reference if k in generated]
    s2 = {k: separation_power(reference[k], generated[k], bins=bins) for k in names}
    auc = None
    if classifier:
        varying = [k for k in names if np.ptp(np.concatenate([reference[k], generated[k]])) > 0]
        ref = np.stack([reference[k] for k in varying], axis=1)
        gen = np.stack([generated[k] for k in varying], axis=1)
        auc = classifier_test(ref, gen, seed=seed, **classifier_options).auc
    n_ref, n_gen = len(reference[names[0]]), len(generated[names[0]])
    return Fidelity(s2=s2, mean_reference={k: float(np.mean(reference[k])) for k in names},
                    mean_generated={k: float(np.mean(generated[k])) for k in names}, auc=auc,
                    n_reference=n_ref, n_generated=n_gen, s2_noise=bins / 4 * (1 / n_ref + 1 / n_gen))
