"""Fidelity and speed of the parametric showers against Geant4, in one run (issue 12, item 4).

For each Geant4 reference sample (the shipped validation samples ``geant4_calogan_eplus``,
``…_gamma``, ``…_piplus`` and ``geant4_ild_photons_50gev`` by default, or ``--reference
NAME=PATH`` with a store or a prototype ``.npz``) the parametric ``showers`` simulator makes
``--repeat`` showers per Geant4 shower at the same incident energies, and
:func:`physgen.sim.showers._fidelity.fidelity` gives per shower-shape column the separation power
⟨S²⟩ and both means, and the classifier two-sample AUC on all columns together (CaloChallenge
practice; 0.5 = indistinguishable), each for ``--seeds`` seeds of the parametric sample and the
classifier (a 500-shower ILD test scatters by ±0.04 from seed to seed): the table gives the seeds' mean
⟨S²⟩ per column and AUC, the per-seed AUCs beside it, and the target is judged on the mean. Speed, in showers per CPU second of this process
(``time.process_time``, which the other load of a shared machine barely moves), in the same run and at
the same incident energies: Geant4 (physgen's ``geant4`` simulator on the ``geant4_*`` spec,
``--geant4-events`` showers after a warm-up) and the parametric simulator on those showers' energies,
tiled to ``--rate-events`` (both costs grow with the energy: the first 20 showers of the e+ spec average
43 GeV against 50.6 over 2000, so timing each on its own draw understated the speed-up by ≈ 14 %).

Targets (issue 12): e+ and γ every shower-shape ⟨S²⟩ ≤ 0.05 and AUC ≤ 0.75; π+ AUC ≤ 0.85;
parametric ≥ 1000 showers per CPU-s in the CaloGAN geometry and ≥ 1000× Geant4; ILD ≥ 200/s.

    python benchmarks/bench_fidelity.py [--repeat 5] [--seeds 3] [--geant4-events 40] [--reference e+=PATH ...]

Writes ``benchmarks/results/fidelity.json|.md`` (summary) and ``fidelity_observables.md`` (per column).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from _benchio import RESULTS, write_results  # noqa: E402
from _geant4_samples import PARAMETRIC_SPECS, load_reference, parametric_simulator  # noqa: E402

from physgen.sim import build_simulator  # noqa: E402
from physgen.sim.showers._fidelity import fidelity, simulated_columns  # noqa: E402
from physgen.store import resolve_dataset  # noqa: E402

GEANT4_SPECS = {name: f"geant4_{spec}" for name, spec in PARAMETRIC_SPECS.items()}
S2_TARGET, AUC_TARGET = 0.05, {"e+": 0.75, "gamma": 0.75, "pi+": 0.85, "ild_gamma": 0.75}
RATE_TARGET = {"e+": 1000, "gamma": 1000, "pi+": 1000, "ild_gamma": 200}


def shipped_reference(name: str) -> str:
    from physgen.sim.geant4 import validation_sample

    return validation_sample(GEANT4_SPECS[name])


def parametric_rate(name: str, energy_gev: np.ndarray, events: int) -> float:
    """Showers per CPU second of the parametric simulator (after a warm-up) at the incident energies
    ``energy_gev`` (those of the timed Geant4 showers, tiled to ``events``): both simulators' cost grows
    with the energy, so the speed-up compares showers of the same energies. The warm-up is a whole pass: it
    compiles the kernels and builds the tables, and it lets glibc's malloc raise its mmap and trim thresholds
    (they follow the largest array freed so far). Before that, the heap is handed back to the OS after every
    batch and the next one faults its pages in again: π+ in the CaloGAN stack on 2000 tiled showers, 11 faults
    and 12 % of the CPU time in the kernel per shower on a first pass, 2 and 2-4 % on the next (pion20,
    2026-12-01, load 3); with ``--rate-events 200`` the thresholds never rise and every pass pays 21-26 faults
    per shower, 16-28 % (so rates at a few hundred events understate a real run's). The simulation driver's
    workers are long-lived and write chunks of thousands of events: they pay it once."""
    sim = parametric_simulator(name)
    tiled = np.resize(np.asarray(energy_gev, dtype=np.float64), events)
    rng = np.random.default_rng(0)
    sim.showers(rng, {"energy": tiled})  # warm-up: compiled kernels, tables, the allocator's heap
    start = time.process_time()
    sim.showers(rng, {"energy": tiled})
    return events / (time.process_time() - start)


def geant4_rate(name: str, events: int) -> tuple[float | None, np.ndarray | None, str]:
    """Showers per CPU second of physgen's ``geant4`` simulator on the ``geant4_*`` spec (after a warm-up),
    and the incident energies (GeV) of the timed showers, in a fresh process: Geant4 allows one physics
    list per process (EM for e+ and γ, FTFP_BERT for π+)."""
    script = [sys.executable, __file__, "--time-geant4", name, "--geant4-events", str(events)]
    result = subprocess.run(script, capture_output=True, text=True, check=False)
    if result.returncode:
        return None, None, f"geant4 simulator failed: {result.stderr.strip().splitlines()[-1:]}"
    timed = json.loads(result.stdout.strip().splitlines()[-1])
    return timed["rate"], np.array(timed["energy_gev"]), "physgen geant4 simulator, same run"


def _time_geant4(name: str, events: int) -> None:
    sim = build_simulator(resolve_dataset(str(ROOT / "specs" / "datasets" / f"{GEANT4_SPECS[name]}.yaml")))
    sim.simulate(2, np.random.SeedSequence(1, spawn_key=(999,)))  # physics tables, geometry
    start = time.process_time()
    showers = sim.simulate(events, np.random.SeedSequence(1, spawn_key=(0,)))
    rate = events / (time.process_time() - start)
    print(json.dumps({"rate": rate, "energy_gev": showers[sim.options.energy_condition].astype(float).tolist()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", action="append", default=[], metavar="NAME=PATH",
                        help="e+, gamma, pi+ or ild_gamma = Geant4 store or prototype .npz (default: shipped samples)")
    parser.add_argument("--repeat", type=int, default=5, help="parametric showers per Geant4 shower")
    parser.add_argument("--geant4-events", type=int, default=40,
                        help="Geant4 showers timed per sample (20 gave π+ 7.2-8.9/s, 12, 30 or 40 gave 5.7-6.1/s: "
                        "its showers 13-20 are cheap ones, pion21 2026-12-01)")
    parser.add_argument("--rate-events", type=int, default=2000, help="parametric showers timed per sample")
    parser.add_argument("--seed", type=int, default=1, help="first seed")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the parametric sample and classifier")
    parser.add_argument("--time-geant4", metavar="NAME", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time_geant4:
        _time_geant4(args.time_geant4, args.geant4_events)
        return
    paths = dict(item.split("=", 1) for item in args.reference) or {n: shipped_reference(n) for n in GEANT4_SPECS}

    rows, per_column, details = [], {}, {}
    for name, path in paths.items():
        ref = load_reference(name, path)
        sim = parametric_simulator(name)
        energies = np.repeat(ref.energy_gev, args.repeat)
        runs = [fidelity(ref.columns, simulated_columns(sim, energies, seed), seed=seed)
                for seed in range(args.seed, args.seed + args.seeds)]
        fid = replace(runs[0], s2={k: float(np.mean([r.s2[k] for r in runs])) for k in runs[0].s2},
                      mean_generated={k: float(np.mean([r.mean_generated[k] for r in runs])) for k in runs[0].s2},
                      auc=float(np.mean([r.auc for r in runs])))
        events = args.rate_events if name != "ild_gamma" else max(args.rate_events // 5, 50)
        g4_rate, g4_energy, g4_how = geant4_rate(
            name, args.geant4_events if name != "ild_gamma" else max(args.geant4_events // 2, 2))
        if g4_rate is None and ref.cpu_s_per_shower:
            g4_rate, g4_how = 1.0 / ref.cpu_s_per_shower, "recorded by the reference sample"
        if g4_energy is None:  # no timed Geant4 showers: the reference sample's energies
            g4_energy = ref.energy_gev
        rate = parametric_rate(name, g4_energy, events)
        worst, worst_s2 = fid.worst
        over = sorted(k for k, v in fid.s2.items() if v > S2_TARGET)
        rows.append({
            "sample": name, "geant4": Path(path.split("::")[-1]).name, "n_geant4": fid.n_reference,
            "n_parametric": fid.n_generated, "mean_s2": round(float(np.mean(list(fid.s2.values()))), 4),
            "worst_s2": f"{worst_s2:.3f} ({worst})", "columns_over_0.05": f"{len(over)} of {len(fid.s2)}",
            "s2_noise": round(fid.s2_noise, 4), "auc": round(fid.auc, 3),
            "auc_seeds": " / ".join(f"{r.auc:.3f}" for r in runs), "auc_target": AUC_TARGET[name],
            "parametric_per_cpu_s": round(rate), "rate_target": RATE_TARGET[name],
            "geant4_per_cpu_s": round(g4_rate, 2) if g4_rate else "–",
            "speedup": f"{rate / g4_rate:,.0f}×" if g4_rate else "–",
        })
        per_column[name] = {k: (fid.s2[k], fid.mean_reference[k], fid.mean_generated[k]) for k in fid.s2}
        details[name] = {"over_target": over, "geant4_timing": g4_how, "path": path,
                         "timed_mean_energy_gev": float(np.mean(g4_energy))}
        print(rows[-1], flush=True)

    columns = ["sample", "geant4", "n_geant4", "n_parametric", "mean_s2", "worst_s2", "columns_over_0.05",
               "s2_noise", "auc", "auc_seeds", "auc_target", "parametric_per_cpu_s", "rate_target", "geant4_per_cpu_s", "speedup"]
    notes = [
        "Parametric showers at the Geant4 sample's incident energies (normal incidence at the centre); ⟨S²⟩ on "
        "30 equal-population bins of the Geant4 sample per column; s2_noise = bins/4·(1/N₁ + 1/N₂), the ⟨S²⟩ two samples of one "
        "distribution show from counting alone.",
        "AUC: physgen.metrics.classifier_test (MLP 64-64, 60/20/20 split, temperature-calibrated) on all "
        "shower-shape columns; 0.5 = indistinguishable. mean_s2, worst_s2, the columns over 0.05 and auc are means over "
        f"seeds {args.seed}–{args.seed + args.seeds - 1} (parametric sample and classifier), auc_seeds each seed's AUC.",
        "Speed: showers per CPU second of one process, both simulators at the same incident energies (the "
        "timed Geant4 showers', tiled for the parametric timing; mean "
        + ", ".join(f"{n} {d['timed_mean_energy_gev']:.1f} GeV" for n, d in details.items())
        + "); Geant4: " + "; ".join(f"{n}: {d['geant4_timing']}" for n, d in details.items()) + ".",
        "Columns over ⟨S²⟩ 0.05: " + "; ".join(f"{n}: {', '.join(d['over_target']) or 'none'}"
                                                for n, d in details.items()) + ".",
        f"Load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}.",
    ]
    write_results("fidelity", rows, columns, notes, extra={"per_column": per_column, "details": details})
    names = list(per_column)
    all_columns = list(dict.fromkeys(k for n in names for k in per_column[n]))
    lines = ["### fidelity_observables", "",
             "⟨S²⟩ per shower-shape column, parametric vs Geant4 (mean Geant4 / mean parametric); bold: over 0.05.", "",
             "| column | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for k in all_columns:
        cells = []
        for n in names:
            if k not in per_column[n]:
                cells.append("–")
                continue
            s2, mr, mg = per_column[n][k]
            value = f"**{s2:.3f}**" if s2 > S2_TARGET else f"{s2:.3f}"
            cells.append(f"{value} ({mr:.4g} / {mg:.4g})")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    (RESULTS / "fidelity_observables.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
