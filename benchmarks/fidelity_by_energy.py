"""Where in incident energy, and on which columns, the classifier of ``bench_fidelity.py`` separates.

The shower-shape columns see the incident energy (through the layer energies), so a model whose
marginals all agree with Geant4 can still be told apart by how each shape depends on the energy and
on the other shapes. For each Geant4 reference sample (the shipped CaloGAN e+ and γ samples by
default) the parametric showers are made at the same incident energies (``--repeat`` per Geant4
shower) and, in bins of incident energy:

* the classifier two-sample AUC (:func:`physgen.metrics.classifier_test`, seed 0) of the bin alone;
* the Gaussian (Fisher) discriminant D² = Δμᵀ Σ⁻¹ Δμ on the logarithms of the columns, with Σ the mean
  of the two covariance matrices: a smooth, seed-free stand-in for the classifier (for two Gaussians
  of one covariance the best AUC is Φ(√(D²/2))), and the three columns without which D² falls most
  (what the linear discriminant separates on, given all the others);
* the three column pairs whose correlation differs most (Geant4 / parametric).

    python benchmarks/fidelity_by_energy.py [--repeat 5] [--reference e+=PATH ...]

Writes ``benchmarks/results/fidelity_by_energy.json|.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np
from scipy.stats import norm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchio import write_results  # noqa: E402
from _geant4_samples import load_reference, parametric_simulator  # noqa: E402

from physgen.metrics import classifier_test  # noqa: E402
from physgen.sim.showers._fidelity import simulated_columns  # noqa: E402

SHIPPED = {"e+": "geant4_calogan_eplus", "gamma": "geant4_calogan_gamma"}
EDGES_GEV = (1.0, 10.0, 30.0, 60.0, 100.01)
"""Incident-energy bins (GeV) of the uniform 1–100 GeV CaloGAN samples: 200-600 Geant4 showers each."""


def discriminant(reference: np.ndarray, generated: np.ndarray) -> float:
    """Fisher's D² of two samples (rows: showers) on the logarithms of their (positive) columns."""
    r, g = np.log(np.abs(reference) + 1e-9), np.log(np.abs(generated) + 1e-9)
    shift = g.mean(axis=0) - r.mean(axis=0)
    covariance = 0.5 * (np.cov(r, rowvar=False) + np.cov(g, rowvar=False))
    return float(shift @ np.linalg.solve(covariance, shift))


def energy_bins(name: str, reference, generated: dict[str, np.ndarray], energy: np.ndarray) -> list[dict]:
    columns = [k for k in reference.columns if k in generated and np.ptp(reference.columns[k]) > 0]
    r_all = np.stack([reference.columns[k] for k in columns], axis=1)
    g_all = np.stack([generated[k] for k in columns], axis=1)
    rows = []
    for low, high in zip(EDGES_GEV[:-1], EDGES_GEV[1:]):
        r = r_all[(reference.energy_gev >= low) & (reference.energy_gev < high)]
        g = g_all[(energy >= low) & (energy < high)]
        d2 = discriminant(r, g)
        keep = [discriminant(r[:, [j for j in range(len(columns)) if j != i]], g[:, [j for j in range(len(columns))
                                                                                   if j != i]])
                for i in range(len(columns))]
        top = np.argsort(np.array(keep) - d2)[:3]
        c_r, c_g = np.corrcoef(r, rowvar=False), np.corrcoef(g, rowvar=False)
        upper = np.triu_indices(len(columns), 1)
        pairs = np.argsort(-np.abs((c_g - c_r)[upper]))[:3]
        rows.append({
            "sample": name, "energy_gev": f"{low:g}-{min(high, 100):g}", "n_geant4": len(r), "n_parametric": len(g),
            "auc": round(classifier_test(r, g, seed=0).auc, 3), "d2": round(d2, 2),
            "gaussian_auc": round(float(norm.cdf(np.sqrt(d2 / 2))), 3),
            "d2_lost_without": ", ".join(f"{columns[i]} {d2 - keep[i]:.2f}" for i in top),
            "correlation_geant4_parametric": ", ".join(
                f"{columns[upper[0][k]]}·{columns[upper[1][k]]} {c_r[upper[0][k], upper[1][k]]:+.2f} / "
                f"{c_g[upper[0][k], upper[1][k]]:+.2f}" for k in pairs),
        })
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", action="append", default=[], metavar="NAME=PATH",
                        help="e+ or gamma = Geant4 store or prototype .npz (default: the shipped samples)")
    parser.add_argument("--repeat", type=int, default=5, help="parametric showers per Geant4 shower")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    paths = dict(item.split("=", 1) for item in args.reference) or SHIPPED
    rows = []
    for name, path in paths.items():
        reference = load_reference(name, path)
        energy = np.repeat(reference.energy_gev, args.repeat)
        rows += energy_bins(name, reference, simulated_columns(parametric_simulator(name), energy, args.seed), energy)
    notes = [
        "Per bin of incident energy: classifier AUC (physgen.metrics.classifier_test, MLP 64-64, seed 0; ≈ 0.02-0.03 "
        "scatter at 200-600 Geant4 showers); Fisher's D² on the logs of the shower-shape columns and its Gaussian AUC "
        "Φ(√(D²/2)); the three columns whose removal lowers D² most (by how much); the three column pairs whose "
        "correlation differs most (Geant4 / parametric).",
        f"{args.repeat} parametric showers per Geant4 shower, seed {args.seed}, at the Geant4 sample's energies.",
        f"Load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}.",
    ]
    columns = ["sample", "energy_gev", "n_geant4", "n_parametric", "auc", "d2", "gaussian_auc", "d2_lost_without",
               "correlation_geant4_parametric"]
    write_results("fidelity_by_energy", rows, columns, notes)


if __name__ == "__main__":
    main()
