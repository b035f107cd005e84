"""Classifier scan of EM tune variants against the shipped Geant4 CaloGAN samples (issue 12).

The rerunnable record of the hand scans that set EM constants of ``physgen/sim/showers/tunes.yaml``:
each variant (a JSON object of EM constants that replace the ``geant4`` tune's) is simulated at the
Geant4 sample's incident energies (``--repeat`` per Geant4 shower, bench_fidelity's 5 by default) with
simulation and classifier seed s for each ``--seeds`` s, as ``bench_fidelity.py --seed s`` does, and
scored by the classifier AUC on all shower-shape columns (:func:`physgen.metrics.classifier_test`) and,
per incident-energy bin of ``fidelity_by_energy.py``, by the AUC of the bin and the shift of the three
sparsities' means in units of Geant4's spread (hit counts: what separated most at 30–100 GeV).

    python benchmarks/scan_em_tune.py --sample e+ --seeds 1 2 3 '{}' '{"halo_flight_share": 0.5}'

Prints one JSON line per variant and seed, and the mean AUC over the seeds per variant.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _geant4_samples import load_reference, parametric_simulator  # noqa: E402
from fidelity_by_energy import EDGES_GEV, SHIPPED  # noqa: E402

from physgen.metrics import classifier_test  # noqa: E402
from physgen.sim.showers._fidelity import simulated_columns  # noqa: E402


def score(name: str, reference, update: dict, seed: int, repeat: int) -> dict:
    sim = parametric_simulator(name)
    sim.tune = sim.tune.model_copy(update={"em": sim.tune.em.model_copy(update=update)})
    energy = np.repeat(reference.energy_gev, repeat)
    generated = simulated_columns(sim, energy, seed)
    columns = [k for k in reference.columns if np.ptp(reference.columns[k]) > 0]
    r_all = np.stack([reference.columns[k] for k in columns], axis=1)
    g_all = np.stack([generated[k] for k in columns], axis=1)
    bins = {}
    for low, high in zip(EDGES_GEV[:-1], EDGES_GEV[1:]):
        r = r_all[(reference.energy_gev >= low) & (reference.energy_gev < high)]
        g = g_all[(energy >= low) & (energy < high)]
        shift = [(g[:, columns.index(f"sparsity_calogan_{layer}")].mean() - r[:, columns.index(f"sparsity_calogan_{layer}")].mean())
                 / r[:, columns.index(f"sparsity_calogan_{layer}")].std() for layer in range(3)]
        bins[f"{low:g}-{min(high, 100):g}"] = {"auc": round(classifier_test(r, g, seed=seed).auc, 3),
                                               "sparsity_shift_sd": [round(float(x), 2) for x in shift]}
    return {"sample": name, "update": update, "seed": seed, "auc": round(classifier_test(r_all, g_all, seed=seed).auc, 3),
            "by_energy": bins}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="JSON objects of EM constants replacing the geant4 tune's")
    parser.add_argument("--sample", choices=sorted(SHIPPED), default="e+")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--repeat", type=int, default=5, help="parametric showers per Geant4 shower")
    args = parser.parse_args()
    reference = load_reference(args.sample, SHIPPED[args.sample])
    for text in args.variants:
        update = json.loads(text)
        aucs = []
        for seed in args.seeds:
            row = score(args.sample, reference, update, seed, args.repeat)
            aucs.append(row["auc"])
            print(json.dumps(row), flush=True)
        print(json.dumps({"sample": args.sample, "update": update, "seeds": args.seeds,
                          "mean_auc": round(float(np.mean(aucs)), 3)}), flush=True)


if __name__ == "__main__":
    main()
