"""How many accepted jets the parton-level veto of the ``jets`` simulator would lose, and how many events it spares.

The veto (``physgen.sim._parton_veto``) drops an event before hadronisation when no parton-level
jet comes near the jet cuts. Here it only records its verdict: each event of the shipped LAGAN
spec (``jets_wprime_qcd``, with ``parton_veto: {}``: default margins) is hadronised and run through the full selection, and
the accepted events that the veto would have dropped are counted, for the spec's selection (with
the 60-100 GeV mass window) and without the mass window (``jets_wprime_qcd_nowindow``'s veto), for
W' and QCD events separately (one process each, in parallel, for ``--minutes`` of wall time).

    python benchmarks/bench_parton_veto.py [--minutes 10] [--seed 1]

Writes benchmarks/results/parton_veto.json and benchmarks/results/parton_veto.md.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _benchio import write_results

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT / "specs" / "datasets"
SELECTIONS = {"jets_wprime_qcd": "60 < m < 100 GeV", "jets_wprime_qcd_nowindow": "no mass window"}


def _with_veto(name: str) -> str:
    """A copy of a shipped spec with the parton veto on (default margins), in a temporary folder."""
    import tempfile

    import yaml

    data = yaml.safe_load((DATASETS / f"{name}.yaml").read_text())
    data["simulator"]["options"]["parton_veto"] = {}
    path = Path(tempfile.mkdtemp()) / "specs" / "datasets" / f"{name}.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(yaml.safe_dump(data))
    return str(path)


def record(label: int, minutes: float, seed: int) -> list[dict]:
    """Full-chain acceptance and the veto's verdicts on the same events, for both selections."""
    from physgen.sim import build_simulator
    from physgen.sim._parton_veto import PartonJetVeto
    from physgen.store import resolve_dataset

    simulators = {name: build_simulator(resolve_dataset(_with_veto(name))) for name in SELECTIONS}
    verdicts: dict[str, list[bool]] = {name: [] for name in SELECTIONS}
    vetoes = {name: s.generators[label].hooks for name, s in simulators.items()}

    def record_only(hook, event):  # both selections' verdicts on the event of the generator running
        for name, veto in vetoes.items():
            verdicts[name].append(veto.can_pass(event))
        return False

    PartonJetVeto.doVetoPartonLevel = record_only
    running = simulators["jets_wprime_qcd"]
    generator = running.generators[label]
    generator.start(seed)
    accepted = {name: [] for name in SELECTIONS}
    stop = time.monotonic() + 60 * minutes
    while time.monotonic() < stop:
        batch = generator.batch(100)
        event, eta, phi, energy = running._calorimeter(batch)
        for k in range(len(batch)):
            for name, simulator in simulators.items():
                mask = event == k
                accepted[name].append(simulator._leading_jet(eta[mask], phi[mask], energy[mask]) is not None)
        assert all(len(v) == len(accepted[n]) for n, v in verdicts.items())  # one verdict per event
    rows = []
    for name, selection in SELECTIONS.items():
        n = len(accepted[name])
        kept = [k for k in range(n) if accepted[name][k]]
        lost = sum(not verdicts[name][k] for k in kept)
        hadronised = sum(verdicts[name])
        rows.append({"class": {1: "W'", 0: "QCD"}[label], "selection": selection, "events": n,
                     "accepted": len(kept), "lost_by_veto": lost,
                     "lost_fraction": f"{lost / max(len(kept), 1):.2%}",
                     "lost_95cl_upper": f"{(lost + 3) / max(len(kept), 1):.2%}" if lost == 0 else "",
                     "hadronised_fraction": f"{hadronised / n:.1%}"})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with ProcessPoolExecutor(2) as pool:
        futures = [pool.submit(record, label, args.minutes, args.seed + label) for label in (1, 0)]
        rows = [row for future in futures for row in future.result()]
    notes = [
        "Every event is hadronised and selected; the veto (default margins: 25 GeV below the pT cut, 0.2 beyond "
        "|η| < 2, 20 GeV below the mass window, on untrimmed parton-level anti-kT R = 1.0 jets) only records whether "
        "it would have dropped the event. lost_by_veto: accepted events it would have dropped; with none, "
        "lost_95cl_upper is the 95 % upper limit 3/accepted.",
        "hadronised_fraction: share of events the veto lets through to hadronisation (the rest skip it, ~25 % "
        "of Pythia's time per event here, and the calorimeter and clustering).",
    ]
    write_results("parton_veto", rows, ["class", "selection", "events", "accepted", "lost_by_veto", "lost_fraction",
                                        "lost_95cl_upper", "hadronised_fraction"], notes)


if __name__ == "__main__":
    main()
