"""Events per second per core of the Pythia 8 reference simulators (``jets``, ``zmumu``).

Runs each simulator serially in this process (one core) for ``--events`` accepted events, the
way the driver runs one chunk, and reports events per wall-clock second and per CPU second of
this process (the latter is the per-core rate even on a shared, loaded machine). Pythia
initialisation and, for ``zmumu``, building the pileup pool are timed separately. For scale,
it also times Pythia alone (``nextBatch``, no detector, no selection) for each generator.

    python benchmarks/bench_pythia.py [--events 400]

Writes benchmarks/results/pythia.json and benchmarks/results/pythia.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np

from physgen.sim import build_simulator
from physgen.store import resolve_dataset

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def bench(spec: str, events: int, seed: int) -> dict:
    dataset = resolve_dataset(str(ROOT / "specs" / "datasets" / spec))
    simulator = build_simulator(dataset)
    setup = 0.0
    if dataset.spec.producer.name == "zmumu":  # build the (cached) pileup pool outside the timing
        wall, _ = _clock()
        simulator.simulate(1, np.random.SeedSequence(seed + 1))
        setup = time.perf_counter() - wall
    wall, cpu = _clock()
    simulator.simulate(events, np.random.SeedSequence(seed))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"simulator": dataset.spec.producer.name, "dataset": dataset.spec.name, "events": events,
            "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "events_per_s_wall": round(events / wall, 1),
            "events_per_cpu_s": round(events / cpu, 1), "setup_s": round(setup, 2)}


def bench_generators(simulator, events: int, seed: int) -> list[dict]:
    """Raw Pythia events per CPU second of each generator of ``simulator`` (before any selection)."""
    generators = getattr(simulator, "generators", {}) or {"hard": simulator.hard, "pileup": simulator.pileup}
    rows = []
    for label, generator in generators.items():
        generator.start(seed)
        cpu = time.process_time()
        generator.batch(events)
        cpu = time.process_time() - cpu
        name = {1: "signal", 0: "background"}.get(label, label)
        rows.append({"simulator": f"{simulator.name}: Pythia only ({name})", "events": events,
                     "events_per_cpu_s": round(events / cpu, 1)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rows = []
    for spec in ("jets_wprime_qcd.yaml", "zmumu.yaml"):
        rows.append(bench(spec, args.events, args.seed))
        simulator = build_simulator(resolve_dataset(str(ROOT / "specs" / "datasets" / spec)))
        rows += bench_generators(simulator, args.events, args.seed)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT, check=False).stdout.strip()
    meta = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "nproc": os.cpu_count(), "cpu": cpu,
            "load_average_1min": round(os.getloadavg()[0], 2), "commit": commit,
            "command": f"python benchmarks/bench_pythia.py --events {args.events}"}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "pythia.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    lines = [f"Pythia 8 simulators ({meta['date']}, {meta['nproc']} × {cpu}, load average "
             f"{meta['load_average_1min']}, commit {commit}; `{meta['command']}`):", "",
             "| simulator | events | wall (s) | events/s (wall) | events/CPU-s (per core) | setup (s) |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['simulator']} | {r['events']} | {r.get('wall_s', '')} | {r.get('events_per_s_wall', '')} | "
              f"{r['events_per_cpu_s']} | {r.get('setup_s', '')} |" for r in rows]
    (RESULTS / "pythia.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
