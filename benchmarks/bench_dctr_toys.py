"""DCTR on the three Gaussian-mixture toys of paper 004: the shipped pipelines end to end.

Each toy runs ``physgen run dctr_toy_<toy>`` (reference from the mixture simulator, the toy GAN
trained briefly, its samples DCTR-weighted, ``evaluate`` with the weights) and records ⟨S²⟩
before and after weighting, their ratio (paper: 0.4–0.5 typical; done-criterion < 0.6), the
dilution r, the classifier AUC and the wall time. The evaluation figures (histograms with
ratio panels, weight distribution) are copied to ``benchmarks/results/figures/``.

    python benchmarks/bench_dctr_toys.py [--toys bimodal_1d,circle_8,grid_5x5] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from _benchio import write_results

from physgen.metrics import separation_power
from physgen.pipeline import run_pipeline
from physgen.train import held_out_mask
from physgen.store import open_store

TOYS = ("bimodal_1d", "circle_8", "grid_5x5")
OUT = Path(__file__).parent / "out"
FIGURES = Path(__file__).parent / "results" / "figures"


def held_out_s2(workdir: Path, dctr: dict) -> dict[str, float]:
    """⟨S²⟩ before/after on the events the classifier did not train on (its calibration split,
    re-drawn exactly as ``physgen.reweight`` draws it), a check that the gain is not overfitting."""
    stores = {k: open_store(workdir / f"{k}.zarr") for k in ("reference", "generated")}
    rng = np.random.default_rng(np.random.SeedSequence(dctr["seed"], spawn_key=(0,)))
    fraction = dctr["calibration_fraction"]
    masks = {k: held_out_mask(ds.sizes["event"], fraction, rng) for k, ds in stores.items()}
    weights = stores["generated"][dctr["variable"]].values[masks["generated"]]
    before, after = [], []
    for name in dctr["inputs"]:
        a, b = (stores[k][name].values[masks[k]] for k in ("reference", "generated"))
        before.append(separation_power(a, b, bins=50))  # 50 bins spanning the reference (physgen.metrics)
        after.append(separation_power(a, b, bins=50, weights_b=weights))
    return {"events": int(masks["generated"].sum()), "s2_before": float(np.mean(before)),
            "s2_after": float(np.mean(after)), "s2_ratio": float(np.mean(after) / np.mean(before))}


def run_toy(toy: str) -> dict:
    workdir = OUT / f"dctr_toy_{toy}"
    shutil.rmtree(workdir, ignore_errors=True)  # training refuses a run directory with a checkpoint
    start = time.perf_counter()
    run_pipeline(f"dctr_toy_{toy}", workdir=workdir, overwrite=True)
    seconds = time.perf_counter() - start
    evaluation = json.loads((workdir / "evaluation" / "metrics.json").read_text())
    dctr = json.loads((workdir / "dctr" / "metrics.json").read_text())
    summary = evaluation["summary"]
    spec = yaml.safe_load(json.loads((workdir / "dctr" / "run.json").read_text())["model_spec"]["text"])
    held_out = held_out_s2(workdir, dctr | {"calibration_fraction": spec["training"]["validation_fraction"],
                                            "inputs": spec["data"]["inputs"]})
    FIGURES.mkdir(parents=True, exist_ok=True)
    figures = []
    for caption, path in evaluation.get("figures", {}).items():
        if caption in evaluation["observables"] or caption == "weight distributions":
            target = FIGURES / f"dctr_toy_{toy}_{Path(path).name}"
            shutil.copyfile(path, target)
            figures.append(str(target.relative_to(Path(__file__).parent.parent)))
    return {
        "toy": toy, "seconds": seconds, "events": evaluation["events"],
        "s2_before": summary["s2_mean"], "s2_after": summary["s2_mean_dctr_weight"],
        "s2_ratio": summary["s2_mean_ratio_dctr_weight"], "dilution_median": summary["dilution_median_dctr_weight"],
        "per_observable": {k: {"s2_before": v["s2"], "s2_after": v["s2_dctr_weight"],
                               "ratio": v["s2_ratio_dctr_weight"], "dilution": v["dilution_dctr_weight"]}
                           for k, v in evaluation["observables"].items()},
        "held_out": held_out, "auc": dctr["auc_after_calibration"], "temperature": dctr["temperature"], "weights": dctr["weights"],
        "report": str((workdir / "evaluation" / "report.html").relative_to(Path(__file__).parent.parent)),
        "figures": figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toys", default=",".join(TOYS))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [run_toy(toy) for toy in args.toys.split(",")]
    columns = ["toy", "events", "S2 before", "S2 after", "after/before", "held-out after/before", "dilution r (median)", "AUC", "max w",
               "time [s]"]
    table = [{"toy": r["toy"], "events": f"{r['events']['reference']}/{r['events']['generated']}",
              "S2 before": f"{r['s2_before']:.4f}", "S2 after": f"{r['s2_after']:.4f}",
              "after/before": f"{r['s2_ratio']:.2f}", "held-out after/before": f"{r['held_out']['s2_ratio']:.2f}",
              "dilution r (median)": f"{r['dilution_median']:.2f}",
              "AUC": f"{r['auc']:.3f}", "max w": f"{r['weights']['max']:.2f}", "time [s]": f"{r['seconds']:.0f}"}
             for r in rows]
    notes = [("`physgen run dctr_toy_<toy>` per row: reference from the mixture simulator (events: reference/"
             "generated), the toy GAN of paper 004 trained for 1000 steps (imperfect on purpose), the DCTR "
             "classifier of the paper (100 epochs), `evaluate --weights dctr_weight`; S2 = ⟨S²⟩ mean over coordinates."),
             ("S2 before/after come from `evaluate` on all events, 80 % of which trained the classifier; "
             "'held-out after/before' uses only the 20 % calibration split the classifier never trained on "
             "(50 bins, mean over coordinates)."),
             "Figures: " + ", ".join(f"`{f}`" for r in rows for f in r["figures"])]
    write_results("dctr_toys", table, columns, notes, {"toys": rows, "torch_threads": args.threads})


if __name__ == "__main__":
    main()
