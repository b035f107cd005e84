"""DCTR on ILD photon showers (paper 004): ``physgen run dctr_ild_photons`` and its quality numbers.

Runs the shipped pipeline (reference showers → ILD 3D GAN trained briefly → high-level and
low-level DCTR → evaluate with both weights) and records ⟨S²⟩ before and after each weighting for
the number of hits, the visible energy, the longitudinal centroid and the mean over the layer
energies, the dilution r, the classifier AUCs, the correlation of the two weights and the time.
``--collect`` only reads an existing pipeline folder (e.g. one run on another machine).

    python benchmarks/bench_dctr_ild.py [--workdir benchmarks/out/dctr_ild_photons] [--collect]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _benchio import write_results

from physgen.pipeline import run_pipeline

WEIGHTS = ("dctr_weight_highlevel", "dctr_weight_lowlevel")
FIGURES = Path(__file__).parent / "results" / "figures"


def _row(label: str, entries: list[dict]) -> dict:
    def mean(key: str) -> float:
        return float(np.mean([e[key] for e in entries]))

    row = {"observable": label, "S2 before": f"{mean('s2'):.4f}"}
    for w in WEIGHTS:
        short = w.rsplit("_", 1)[1]
        row[f"S2 {short}"] = f"{mean(f's2_{w}'):.4f}"
        row[f"ratio {short}"] = f"{mean(f's2_{w}') / mean('s2'):.2f}"
        row[f"r {short}"] = f"{mean(f'dilution_{w}'):.2f}"
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path(__file__).parent / "out" / "dctr_ild_photons")
    parser.add_argument("--collect", action="store_true", help="read an existing pipeline folder, do not run")
    parser.add_argument("--seconds", type=float, help="with --collect: the pipeline's wall time")
    parser.add_argument("--note", action="append", default=[], help="a line added to the notes (how it was run)")
    args = parser.parse_args()
    seconds = args.seconds
    if not args.collect:
        shutil.rmtree(args.workdir, ignore_errors=True)
        start = time.perf_counter()
        run_pipeline("dctr_ild_photons", workdir=args.workdir)
        seconds = time.perf_counter() - start
    evaluation = json.loads((args.workdir / "evaluation" / "metrics.json").read_text())
    runs = {w: json.loads((args.workdir / f"dctr_{w.rsplit('_', 1)[1]}" / "metrics.json").read_text()) for w in WEIGHTS}
    obs, summary = evaluation["observables"], evaluation["summary"]
    layers = [v for k, v in obs.items() if k.startswith("layer_energy_")]
    rows = [_row(k, [obs[k]]) for k in ("n_hits", "visible_energy", "longitudinal_centroid")]
    rows += [_row("layer energies (mean of 30)", layers), _row("all 33 features (mean)", [*layers, *(
        obs[k] for k in ("n_hits", "visible_energy", "longitudinal_centroid"))])]
    FIGURES.mkdir(parents=True, exist_ok=True)
    figures = []
    for caption, path in evaluation.get("figures", {}).items():
        if caption in ("n_hits", "visible_energy", "weight distributions", f"{WEIGHTS[0]} vs {WEIGHTS[1]}"):
            target = FIGURES / f"dctr_ild_{Path(path).name}"
            shutil.copyfile(path, target)
            figures.append(str(target.relative_to(Path(__file__).parent.parent)))
    correlation = summary[f"weight_correlation_{WEIGHTS[0]}_{WEIGHTS[1]}"]
    notes = [
        (f"`physgen run dctr_ild_photons`: {evaluation['events']['reference']} reference showers (parametric "
        f"simulator), {evaluation['events']['generated']} from the ILD 3D GAN trained for 40 steps on CPU "
        "(far from converged: quality needs a GPU and the paper's sizes); high-level MLP (33 features) and "
        "low-level 3D CNN. ⟨S²⟩ on all generated events (80 % trained the classifiers)."),
        "AUC (calibrated, held out): " + ", ".join(f"{w} {runs[w]['auc_after_calibration']:.3f} "
                                                   f"(max w {runs[w]['weights']['max']:.2f}, effective fraction "
                                                   f"{runs[w]['weights']['effective_fraction']:.2f})" for w in WEIGHTS),
        f"Correlation of the two weights: {correlation:.2f}. Pipeline wall time: "
        + (f"{seconds:.0f} s." if seconds is not None else "not measured (collected with --collect)."),
        "Figures: " + ", ".join(f"`{f}`" for f in figures),
        *args.note,
    ]
    columns = list(rows[0])
    write_results("dctr_ild", rows, columns, notes, {"summary": summary, "classifiers": runs})


if __name__ == "__main__":
    main()
