"""DCTR on the three Gaussian-mixture toys of paper 004 with a stand-in imperfect generator.

Reference: the toy simulator. Generator: the same mixture with perturbed component weights, widths
×1.4 and means shifted by 0.05 (a stand-in for a briefly trained toy GAN, until the GAN pipeline
``specs/pipelines/dctr_toy_*.yaml`` runs). DCTR: the shipped classifier specs. Reports ⟨S²⟩ of
each coordinate before and after weighting and their ratio (paper: 0.4–0.5 typical).

    python benchmarks/bench_dctr_toys.py [--events N] [--epochs E]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from physgen.reweight import reweight, separation_power
from physgen.sim import simulate
from physgen.sim.mixtures import mixture_components
from physgen.specs import LoadedSpec, SpecRegistry, parse_spec
from physgen.store import create_store, open_store, resolve_dataset

TOYS = {"bimodal_1d": ("toy_bimodal_1d", "dctr_toy_1d"), "circle_8": ("toy_circle_8", "dctr_toy_2d"),
        "grid_5x5": ("toy_grid_5x5", "dctr_toy_2d")}
RESULTS = Path(__file__).parent / "results"


def imperfect_sample(mixture: str, n: int, rng: np.random.Generator) -> np.ndarray:
    means, sigma = mixture_components(mixture)
    weights = rng.dirichlet(np.full(len(means), 4.0))
    component = rng.choice(len(means), n, p=weights)
    return means[component] + 0.05 + rng.normal(0.0, 1.4 * sigma, (n, means.shape[1]))


def run_toy(toy: str, events: int, epochs: int, folder: Path) -> dict:
    dataset, model = TOYS[toy]
    ref = simulate(dataset, folder / f"{toy}_ref.zarr", events=events, progress=False)
    resolved = resolve_dataset(dataset)
    points = imperfect_sample(toy, events, np.random.default_rng(11))
    writer = create_store(str(folder / f"{toy}_gen.zarr"), resolved.schema, chunk_events=resolved.chunk_events,
                          provenance={"specs": resolved.spec_texts(), "producer": {"kind": "imperfect mixture"}})
    names = resolved.schema.names
    writer.append({name: points[:, k].astype(np.float32) for k, name in enumerate(names)})
    data = yaml.safe_load(SpecRegistry.default().get("model", model).text)
    data["training"]["epochs"] = epochs
    spec = LoadedSpec(parse_spec(data), yaml.safe_dump(data), model)
    start = time.perf_counter()
    metrics = reweight(ref, writer.url, spec, out=folder / f"{toy}_dctr", progress=False)
    seconds = time.perf_counter() - start
    ds_ref, ds_gen = open_store(ref), open_store(writer.url)
    weights = ds_gen.dctr_weight.values
    out = {"toy": toy, "events": events, "epochs": epochs, "seconds": seconds, "temperature": metrics["temperature"],
           "auc": metrics["auc_after_calibration"], "weights": metrics["weights"], "s2": {}}
    for name in names:
        r, g = ds_ref[name].values, ds_gen[name].values
        bins = np.linspace(min(r.min(), g.min()), max(r.max(), g.max()), 101)
        before, after = separation_power(r, g, bins), separation_power(r, g, bins, weights)
        out["s2"][name] = {"before": before, "after": after, "ratio": after / before}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run_toy(toy, args.events, args.epochs, Path(tmp)) for toy in TOYS]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    meta = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "nproc": os.cpu_count(), "cpu": cpu,
            "torch_threads": args.threads, "command": f"python benchmarks/bench_dctr_toys.py --events {args.events} "
                                                      f"--epochs {args.epochs} --threads {args.threads}",
            "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "dctr_toys.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2))
    lines = [f"DCTR toys ({meta['date']}, {meta['nproc']} × {cpu}, torch threads {args.threads}, commit {meta['commit']}): "
             f"`{meta['command']}`; generator = imperfect mixture stand-in", "",
             "| toy | coordinate | ⟨S²⟩ before | ⟨S²⟩ after | after/before | AUC | T | max w | time [s] |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        for name, s2 in row["s2"].items():
            lines.append(f"| {row['toy']} | {name} | {s2['before']:.4f} | {s2['after']:.4f} | {s2['ratio']:.2f} | "
                         f"{row['auc']:.3f} | {row['temperature']:.2f} | {row['weights']['max']:.2f} | {row['seconds']:.0f} |")
    (RESULTS / "dctr_toys.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
