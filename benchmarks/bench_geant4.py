"""Cost of physgen's Geant4 readout: the ``geant4`` simulator against bare Geant4, in one process.

"Bare Geant4" shoots the same primaries (same seeds, same physics list and cut) into the same
plates with no cells and no scorers, and records nothing: the cost of the physics alone. The
``geant4`` simulator adds the replicated cells, the native scorers, the per-event reading of
their hits maps and the conversion into store variables (``simulate()`` as the CLI calls it).
Both are timed in CPU seconds of this process (``time.process_time``), interleaved repeat by
repeat so that machine load hits both alike; the ratio of their sums is the overhead
(target ≤ 1.5, issue 12). A prototype with a Python stepping action cost 3–4× (shared/GEANT4.md).

    python benchmarks/bench_geant4.py [--repeats 3] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import yaml

from _benchio import write_results
from physgen.sim import build_simulator
from physgen.specs import LoadedSpec, parse_spec
from physgen.store import resolve_dataset

ROOT = Path(__file__).resolve().parents[1]
CASES = [  # (label, dataset spec, energy condition, GeV, showers per repeat)
    ("e+ 10 GeV, CaloGAN Pb/LAr", "geant4_calogan_eplus", "energy", 10.0, 40),
    ("e+ 50 GeV, CaloGAN Pb/LAr", "geant4_calogan_eplus", "energy", 50.0, 12),
    ("γ 50 GeV, ILD Si-W ECAL", "geant4_ild_photons_50gev", "incident_energy", 50.0, 12),
]


def fixed_energy_dataset(name: str, condition: str, energy_gev: float):
    """The shipped dataset spec with its incident energy fixed at ``energy_gev``."""
    path = ROOT / "specs" / "datasets" / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    data["conditions"][condition] = {"distribution": "fixed", "value": energy_gev, "units": "GeV"}
    text = yaml.safe_dump(data, sort_keys=False)
    return resolve_dataset(LoadedSpec(parse_spec(data, source=str(path)), text, str(path)))


def bench(label: str, name: str, condition: str, energy: float, events: int, repeats: int) -> dict:
    simulator = build_simulator(fixed_energy_dataset(name, condition, energy))
    warm = np.random.SeedSequence(12, spawn_key=(999,))
    simulator.simulate(2, warm)  # physics tables, first-event set-up
    simulator.cpu_seconds(2, warm, read_out=False)
    physgen_cpu, bare_cpu = [], []
    for i in range(repeats):
        seed = np.random.SeedSequence(12, spawn_key=(i,))
        start = time.process_time()
        simulator.simulate(events, seed)
        physgen_cpu.append(time.process_time() - start)
        bare_cpu.append(simulator.cpu_seconds(events, seed, read_out=False))
    n = events * repeats
    return {"case": label, "dataset": name, "showers": n,
            "bare_showers_per_cpu_s": round(n / sum(bare_cpu), 2),
            "physgen_showers_per_cpu_s": round(n / sum(physgen_cpu), 2),
            "bare_cpu_s_per_shower": round(sum(bare_cpu) / n, 4),
            "physgen_cpu_s_per_shower": round(sum(physgen_cpu) / n, 4),
            "ratio": round(sum(physgen_cpu) / sum(bare_cpu), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the showers per repeat")
    args = parser.parse_args()
    rows = []
    for label, name, condition, energy, events in CASES:
        rows.append(bench(label, name, condition, energy, max(1, round(events * args.scale)), args.repeats))
        print(rows[-1], flush=True)
    simulator = build_simulator(resolve_dataset(str(ROOT / "specs" / "datasets" / "geant4_calogan_eplus.yaml")))
    producer = simulator.producer()
    columns = ["case", "showers", "bare_showers_per_cpu_s", "physgen_showers_per_cpu_s", "bare_cpu_s_per_shower",
               "physgen_cpu_s_per_shower", "ratio"]
    notes = [f"{producer['geant4_version']} via geant4_pybind {producer['geant4_pybind_version']}, physics list "
             f"datafree_em, production cut {producer['production_cut_mm']} mm; one process, serial run manager",
             "bare: the same primaries into the same plates without cells or scorers; physgen: "
             "`Geant4Simulator.simulate` (replicated cells, G4PSEnergyDeposit3D scorers, hits maps read per event)",
             "ratio = physgen CPU time / bare CPU time over interleaved repeats (target ≤ 1.5; a Python stepping "
             "action costs 3–4×, shared/GEANT4.md)"]
    write_results("geant4", rows, columns, notes)


if __name__ == "__main__":
    main()
