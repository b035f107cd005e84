"""What the classifier two-sample test of ``bench_fidelity.py`` separates on: AUC on subsets of the columns.

For each Geant4 reference sample (the shipped CaloGAN validation samples by default) the parametric
showers are made at the same incident energies (``--repeat`` per Geant4 shower) and
:func:`physgen.metrics.classifier_test` is trained on: all shower-shape columns; each layer's columns
alone and all but them; the per-shower columns (E_tot/E_inc, depth and its width) alone; and all
columns but one, for each column. A subset whose AUC alone is high, or without which the AUC falls,
is where the model must change (issue 12: the AUC is ≤ 0.75 only when every layer is). The AUC of a
subset of 400 + 400 test showers scatters by ≈ 0.01-0.02 between seeds.

    python benchmarks/fidelity_ablation.py [--repeat 2] [--reference e+=PATH ...]

Writes ``benchmarks/results/fidelity_ablation.json|.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _benchio import write_results  # noqa: E402
from _geant4_samples import load_reference, parametric_simulator  # noqa: E402

from physgen.metrics import classifier_test  # noqa: E402
from physgen.sim.showers._fidelity import simulated_columns  # noqa: E402

SHIPPED = {"e+": "geant4_calogan_eplus", "gamma": "geant4_calogan_gamma", "pi+": "geant4_calogan_piplus"}
LAYERS = ("0", "1", "2")


def subsets(columns: list[str]) -> dict[str, list[str]]:
    """Named column subsets: all, each layer alone and without it, the per-shower columns, all but one."""
    layer = {n: [c for c in columns if c.endswith(f"_{n}")] for n in LAYERS}
    shower = [c for c in columns if not any(c.endswith(f"_{n}") for n in LAYERS)]
    named = {"all columns": columns}
    for n in LAYERS:
        named[f"layer {n} only"] = layer[n]
        named[f"all but layer {n}"] = [c for c in columns if c not in layer[n]]
    named["per-shower only (E_tot/E_inc, depth, depth width)"] = shower
    named |= {f"all but {c}": [k for k in columns if k != c] for c in columns}
    return named


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", action="append", default=[], metavar="NAME=PATH",
                        help="e+, gamma or pi+ = Geant4 store (default: the shipped CaloGAN samples)")
    parser.add_argument("--repeat", type=int, default=2, help="parametric showers per Geant4 shower")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    paths = dict(item.split("=", 1) for item in args.reference) or SHIPPED

    auc: dict[str, dict[str, float]] = {}
    for name, path in paths.items():
        ref = load_reference(name, path)
        generated = simulated_columns(parametric_simulator(name), np.repeat(ref.energy_gev, args.repeat), args.seed)
        columns = [k for k in ref.columns if np.ptp(np.concatenate([ref.columns[k], generated[k]])) > 0]
        auc[name] = {}
        for label, names in subsets(columns).items():
            test = classifier_test(np.stack([ref.columns[k] for k in names], axis=1),
                                   np.stack([generated[k] for k in names], axis=1), seed=0)
            auc[name][label] = round(test.auc, 3)
        print(name, auc[name], flush=True)

    labels = list(dict.fromkeys(label for per in auc.values() for label in per))
    rows = [{"columns": label} | {name: auc[name].get(label, "–") for name in auc} for label in labels]
    notes = [
        f"Classifier AUC (physgen.metrics.classifier_test, MLP 64-64, seed 0) of the shipped Geant4 samples against "
        f"{args.repeat} parametric showers per Geant4 shower at the same energies, on subsets of the shower-shape "
        "columns; 0.5 = indistinguishable; ≈ 0.01-0.02 scatter.",
        f"Load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}.",
    ]
    write_results("fidelity_ablation", rows, ["columns", *auc], notes, extra={"auc": auc})


if __name__ == "__main__":
    main()
