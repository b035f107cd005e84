"""Accepted jets and effective jets (Kish ESS) per CPU second of the LAGAN jet selection, unbiased
vs pT-hat-biased QCD (the ``jets`` simulator's ``pt_hat_bias``), and where in pT-hat the accepted
QCD jets come from.

A biased sample of n jets with weights w is worth (Σw)²/Σw² unweighted jets (Kish's effective sample
size), so the figure of merit is ESS per CPU second, not accepted jets per CPU second. Rows, side by
side in one run, each ``--jets`` accepted jets of one class through the simulator in this process (as
the driver runs one chunk; Pythia start-up included):

* W' (m_W' = 800 GeV, the shipped spec): Pythia's bias2Selection does not apply to its 2 → 1 process;
* QCD in the narrow pT-hat window [200, 400] GeV (the LAGAN specs' before: it sculpts the background),
  unbiased and biased;
* QCD in a pT-hat window that holds every accepted jet (``--full-window``; the LAGAN specs' now),
  unbiased and biased (the specs use power 3).

Then, for scale, a containment study: ``--study-events`` QCD events in pT-hat [100, 500] GeV with bias
power 4, through the full selection, give the (weighted) share of accepted QCD jets below each pT-hat
edge and the acceptance per pT-hat bin; that is how loose the window must be.

    python benchmarks/bench_jet_bias.py [--jets 80] [--study-events 16000]

Writes benchmarks/results/jet_bias.json and benchmarks/results/jet_bias.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import awkward as ak
import numpy as np

from _benchio import write_results
from physgen.metrics import effective_sample_size
from physgen.sim import build_simulator
from physgen.sim._pythia import event_weights
from physgen.specs import LoadedSpec, assignments, load_with_overrides
from physgen.store import resolve_dataset

ROOT = Path(__file__).resolve().parents[1]
LAGAN = ROOT / "specs" / "datasets" / "jets_wprime_qcd.yaml"
STUDY_EDGES = (100, 125, 150, 175, 200, 225, 250, 275, 300, 325, 350, 400, 450, 500)


def _variant(**options) -> LoadedSpec:
    """The LAGAN dataset spec with its simulator ``options`` changed."""
    return load_with_overrides(LAGAN, "dataset", assignments(options, "simulator.options."))


def bench(label: str, spec: LoadedSpec, jets: int, seed: int) -> dict:
    simulator = build_simulator(resolve_dataset(spec))
    cpu = time.process_time()
    out = simulator.simulate(jets, np.random.SeedSequence(seed))
    cpu = time.process_time() - cpu
    ess = effective_sample_size(out["weight"])
    return {"row": label, "jets": jets, "cpu_s": round(cpu, 1), "jets_per_cpu_s": round(jets / cpu, 2),
            "ess": round(ess, 1), "ess_per_cpu_s": round(ess / cpu, 2)}


def containment(events: int, seed: int) -> tuple[list[dict], dict]:
    """Accepted QCD jets of the LAGAN selection by pT-hat, from a biased sample in [100, 500] GeV."""
    spec = _variant(process="background", pt_hat=[100, 500], pt_hat_bias=4)
    simulator = build_simulator(resolve_dataset(spec))
    generator = simulator.generators[0]
    generator.start(seed)
    pt_hat, weight, accepted = [], [], []
    for _ in range(events // 100):
        batch = generator.batch(100)
        passed = {k for k, cells in simulator._candidates(batch) if simulator._leading_jet(*cells) is not None}
        pt_hat.append(np.sqrt(ak.to_numpy(batch.info.pT2Hat)))
        weight.append(event_weights(batch))
        accepted.append(np.isin(np.arange(len(batch)), list(passed)))
    pt_hat, weight, accepted = map(np.concatenate, (pt_hat, weight, accepted))
    rows = []
    w_acc = weight[accepted]
    for lo, hi in zip(STUDY_EDGES[:-1], STUDY_EDGES[1:], strict=True):
        inside = (pt_hat >= lo) & (pt_hat < hi)
        below = accepted & (pt_hat < hi)
        share = weight[below].sum() / w_acc.sum()
        error = np.sqrt((weight[below] ** 2).sum() * (1 - share) ** 2
                        + (weight[accepted & ~below] ** 2).sum() * share**2) / w_acc.sum()
        rows.append({"pt_hat_bin": f"{lo}-{hi}", "events": int(inside.sum()), "accepted": int((inside & accepted).sum()),
                     "acceptance": round(float(accepted[inside].mean()), 4) if inside.any() else "",
                     "share_of_accepted_below_bin_top": f"{share:.3f} ± {error:.3f}"})
    extent = {"events": int(len(pt_hat)), "accepted": int(accepted.sum()),
              "lowest_accepted_pt_hat": round(float(pt_hat[accepted].min()), 1),
              "highest_accepted_pt_hat": round(float(pt_hat[accepted].max()), 1)}
    return rows, extent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jets", type=int, default=80)
    parser.add_argument("--bias", type=float, default=2.0, help="bias power in the narrow window")
    parser.add_argument("--full-window", type=float, nargs=2, default=(125.0, 450.0))
    parser.add_argument("--full-bias", type=float, default=3.0, help="bias power in the full window")
    parser.add_argument("--study-events", type=int, default=16000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    n, seed = args.jets, args.seed
    full = [float(x) for x in args.full_window]
    rows = [
        bench("W' (bias not applicable: 2 → 1)", _variant(process="signal"), n, seed),
        bench("QCD, pT-hat [200, 400], unbiased (sculpted)",
              _variant(process="background", pt_hat=[200, 400], pt_hat_bias=None), n, seed),
        bench(f"QCD, pT-hat [200, 400], bias power {args.bias:g} (sculpted)",
              _variant(process="background", pt_hat=[200, 400], pt_hat_bias=args.bias), n, seed),
        bench(f"QCD, pT-hat [{full[0]:g}, {full[1]:g}], unbiased",
              _variant(process="background", pt_hat=full, pt_hat_bias=None), n, seed),
        bench(f"QCD, pT-hat [{full[0]:g}, {full[1]:g}], bias power {args.full_bias:g}",
              _variant(process="background", pt_hat=full, pt_hat_bias=args.full_bias), n, seed),
    ]
    study, extent = containment(args.study_events, seed) if args.study_events else ([], {})
    w, q, qb, f, fb = rows

    def mix(a: float, b: float) -> float:  # half W', half QCD: CPU seconds per jet add up
        return round(1 / (0.5 / a + 0.5 / b), 2)

    notes = [
        f"{n} accepted jets per row, one process, Pythia start-up included. ESS = (Σw)²/Σw² of the row's weights "
        "(each class's weights scaled to average 1, as in a store); for unbiased rows ESS = jets.",
        "The LAGAN store is half W', half QCD: its rate follows from the rows (CPU seconds per jet add up): "
        f"narrow window {mix(w['jets_per_cpu_s'], q['jets_per_cpu_s'])} jets/CPU-s; biased "
        f"{mix(w['jets_per_cpu_s'], qb['jets_per_cpu_s'])} jets and {mix(w['ess_per_cpu_s'], qb['ess_per_cpu_s'])} "
        f"ESS/CPU-s; with the full window biased (the LAGAN specs) {mix(w['jets_per_cpu_s'], fb['jets_per_cpu_s'])} jets and "
        f"{mix(w['ess_per_cpu_s'], fb['ess_per_cpu_s'])} ESS/CPU-s, unbiased "
        f"{mix(w['ess_per_cpu_s'], f['ess_per_cpu_s'])}.",
        f"Biasing pays only where the window is wider than the acceptance: in the full window ×"
        f"{fb['ess_per_cpu_s'] / f['ess_per_cpu_s']:.2f} ESS/CPU-s over unbiased; in the narrow window ×"
        f"{qb['ess_per_cpu_s'] / q['ess_per_cpu_s']:.2f}. The honest figure of merit is ESS per CPU second.",
    ]
    if extent:
        notes.append(
            f"Containment study ({extent['events']} QCD events, pT-hat [100, 500] GeV, bias power 4, "
            f"{extent['accepted']} accepted): accepted jets lie at pT-hat {extent['lowest_accepted_pt_hat']}–"
            f"{extent['highest_accepted_pt_hat']} GeV; the table below gives the weighted share of accepted "
            "jets below each bin's upper edge (a window starting at 200 GeV drops the share at 200).")
    write_results("jet_bias", rows, ["row", "jets", "cpu_s", "jets_per_cpu_s", "ess", "ess_per_cpu_s"], notes,
                  extra={"containment": study, "containment_extent": extent})
    if study:
        from _benchio import RESULTS

        columns = list(study[0])
        lines = ["", "Accepted QCD jets by pT-hat (containment study):", "",
                 "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in study]
        with (RESULTS / "jet_bias.md").open("a") as md:
            md.write("\n".join(lines) + "\n")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
