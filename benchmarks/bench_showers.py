"""Throughput of the parametric shower simulator: showers per second per core, per dataset spec.

One process, one core (numpy and single-threaded numba loops, no threads); each dataset runs a warm-up
chunk, then the best of ``--repeats`` timed chunks of ``--events`` showers (spec seed). The rate
per core is showers per CPU second of this process (``time.process_time``), which does not
depend on other load of a shared machine; the wall-clock rate is recorded next to it.
Targets (issue 12): ≥ 1000 showers per CPU second in the CaloGAN geometry, ≥ 200 for the ILD
ECAL. The paper's Geant4 took 1772 ms per CaloGAN shower (paper 001); Geant4 measured here in the
same run as the parametric model is in ``bench_fidelity.py``.

    python benchmarks/bench_showers.py [--events 2000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from physgen.sim import build_simulator
from physgen.store import resolve_dataset

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ["calogan_eplus", "calogan_gamma", "calogan_piplus", "calogan_conditional_eplus", "ild_photons_50gev"]
GEANT4_MS_PER_CALOGAN_SHOWER = 1772.0


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def bench(name: str, events: int, repeats: int) -> dict[str, float | str | int]:
    dataset = resolve_dataset(str(ROOT / "specs" / "datasets" / f"{name}.yaml"))
    sim = build_simulator(dataset)
    seed = dataset.spec.seed
    sim.simulate(min(events, 200), np.random.SeedSequence(seed, spawn_key=(999,)))  # warm-up
    cpu, wall = [], []
    for i in range(repeats):
        start, start_wall = time.process_time(), time.perf_counter()
        sim.simulate(events, np.random.SeedSequence(seed, spawn_key=(i,)))
        cpu.append(time.process_time() - start)
        wall.append(time.perf_counter() - start_wall)
    rate = events / min(cpu)
    row = {"dataset": name, "particle": sim.options.particle, "detector": dataset.detector_spec.name,
           "spots_scale": sim.options.spots_scale, "events": events, "showers_per_s_per_core": round(rate, 1),
           "ms_per_shower": round(1000 / rate, 4),
           "wall_showers_per_s": round(events / min(wall), 1)}
    if name.startswith("calogan"):
        row["speedup_vs_geant4"] = round(GEANT4_MS_PER_CALOGAN_SHOWER * rate / 1000)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for name in DATASETS:
        events = args.events if name.startswith("calogan") else max(args.events // 10, 50)
        rows.append(bench(name, events, args.repeats))
        print(rows[-1], flush=True)
    meta = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "nproc": os.cpu_count(),
            "cpu": cpu_model(), "python": platform.python_version(), "numpy": np.__version__,
            "command": "python " + " ".join(["benchmarks/bench_showers.py", *sys.argv[1:]]),
            "load_average": ", ".join(f"{x:.1f}" for x in os.getloadavg())}
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "showers.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    lines = [f"Parametric showers, one core ({meta['date']}; {meta['nproc']} × {meta['cpu']}; load average "
             f"{meta['load_average']}; `{meta['command']}`)", "",
             "| dataset | particle | detector | spots scale | showers/s/core (CPU) | ms/shower | wall showers/s | × paper-001 Geant4 (1772 ms) |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['dataset']} | {r['particle']} | {r['detector']} | {r['spots_scale']} | "
              f"{r['showers_per_s_per_core']:,.0f} | {r['ms_per_shower']:.3f} | {r['wall_showers_per_s']:,.0f} | "
              f"{r.get('speedup_vs_geant4', '–')} |"
              for r in rows]
    (out / "showers.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
