"""Train the paper-size models (and their compact siblings) on one CUDA device within a wall-clock budget,
and measure their quality and throughput: the GPU half of the quality table (issue 14).

What it runs is the shipped quality pipelines (``specs/pipelines/quality_*.yaml``), split in two stages:

1. **References** (CPU, in parallel): every ``simulate`` step of every selected system, the event counts
   scaled by ``--reference-scale``, the machine's cores shared among them (Pythia systems get most).
2. **Models** (one GPU, one process per model, in parallel): for each model the system's remaining steps
   — train (bf16 autocast and the streaming store loader, as ``physgen train`` on CUDA always does;
   checkpoints every :data:`CHECKPOINT_EVERY` steps),
   export the best snapshot as a shipped checkpoint (bf16), generate from that file, DCTR for ILD,
   quality figures — with the model spec swapped in (paper or compact) and the training step stopped
   at a common deadline (``time_limit_s``), so every model trains as long as the budget allows. A model
   whose references finish early starts early.

Results: ``OUT/gpu_quality/`` with one folder per model (pipeline record with wall/CPU times and
hardware, quality.json/.md, the exported checkpoint, the training log) and ``results.json`` /
``results.md`` (steps, training events/s, generation events/s, the figures and targets met), all packed
into ``OUT/gpu_quality.tar.gz``. ``physgen zoo ship OUT/gpu_quality/<model>`` ships one of them.

Example (GPU machine, ≈ 9 minutes)::

    python benchmarks/gpu/train_paper_models.py --out "$OUT" --budget-s 540

CPU check at tiny sizes (what the tests of this repository run)::

    python benchmarks/gpu/train_paper_models.py --out /tmp/gpu_check --device cpu --budget-s 240 \
        --reference-scale 0.01 --systems zmumu,lagan,calogan_eplus,ild_photons --generate-events 300
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml

SYSTEMS: dict[str, tuple[str, ...]] = {
    "zmumu": ("zmumu_gan17", "zmumu_gan17_compact"),
    "lagan": ("lagan", "lagan_compact", "lagan_dcgan"),
    "calogan_eplus": ("calogan_eplus", "calogan_eplus_compact"),
    "calogan_gamma": ("calogan_gamma", "calogan_gamma_compact"),
    "calogan_piplus": ("calogan_piplus", "calogan_piplus_compact"),
    "calogan_conditional_eplus": ("calogan_conditional_eplus", "calogan_conditional_eplus_compact"),
    "ild_photons": ("ild_gan_3d", "ild_gan_3d_compact"),
}
"""Quality pipeline (``quality_<system>``) → the models trained on its references (paper first)."""

PYTHIA_SYSTEMS = {"zmumu": 40.0, "lagan": 25.0}
"""Systems whose references come from Pythia, with their events/s per core (README benchmarks): they
get the cores in proportion to the CPU-seconds they need."""

CHECKPOINT_EVERY = 200
"""Steps between training checkpoints here (the specs say 2000): a run stopped at the deadline keeps
its last checkpoint, so it should be recent."""

RESERVE_S = 120.0
"""Seconds kept after the training deadline for export, generation, DCTR and the quality figures."""

MAX_PACKED_BYTES = 20 * 1024 * 1024
"""Exported checkpoints larger than this stay out of the tarball (the paper-size CaloGANs, ≈ 60 MB in
bf16, could not ship anyway: the zoo's budget is 30 MB); results.json lists what was left out."""


def _shipped_pipeline(system: str) -> dict:
    from physgen.specs import SpecRegistry

    return yaml.safe_load(SpecRegistry.default().get("pipeline", f"quality_{system}").text)


def _physgen(*args: str) -> list[str]:
    return [sys.executable, "-m", "physgen.cli", *args]


def _workers(systems: list[str], scale: float, cores: int) -> dict[str, int]:
    """Cores per system's reference simulation: Pythia systems in proportion to their CPU-seconds."""
    need = {}
    for system in systems:
        events = sum(s["args"]["events"] for s in _shipped_pipeline(system)["steps"] if s["run"] == "simulate")
        need[system] = events * scale / PYTHIA_SYSTEMS.get(system, 2000.0)
    spare = max(cores - sum(1 for s in systems if s not in PYTHIA_SYSTEMS), len(PYTHIA_SYSTEMS))
    pythia = sum(need[s] for s in systems if s in PYTHIA_SYSTEMS) or 1.0
    return {s: max(1, round(spare * need[s] / pythia)) if s in PYTHIA_SYSTEMS else 1 for s in systems}


def _scaled(events: int, scale: float) -> int:
    """A pipeline's event count at ``scale`` (at least 200 events)."""
    return max(int(events * scale), 200)


def simulate_references(system: str, folder: Path, scale: float, workers: int, log: Path) -> float:
    """Run the ``simulate`` steps of ``quality_<system>`` into ``folder`` (resumable); return the wall time."""
    start = time.perf_counter()
    with open(log, "a") as out:
        for step in _shipped_pipeline(system)["steps"]:
            if step["run"] != "simulate":
                continue
            args = step["args"]
            events = _scaled(args["events"], scale)
            store = folder / Path(args["out"].replace("{workdir}", "")).name
            command = _physgen("simulate", args["dataset"], "--events", str(events), "--out", str(store),
                               "--workers", str(workers), "--resume")
            if "seed" in args:
                command += ["--seed", str(args["seed"])]
            subprocess.run(command, check=True, stdout=out, stderr=subprocess.STDOUT)
    return time.perf_counter() - start


def frequent_checkpoints(model: str, folder: Path) -> Path:
    """The shipped model spec with ``checkpoint_every`` = :data:`CHECKPOINT_EVERY`, written into ``folder``."""
    from physgen.specs import SpecRegistry

    spec = yaml.safe_load(SpecRegistry.default().get("model", model).text)
    spec["training"]["checkpoint_every"] = CHECKPOINT_EVERY
    path = folder / f"{model}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def model_pipeline(system: str, model: str, references: Path, folder: Path, deadline: float, scale: float,
                   generate_events: int | None, device: str, min_train_s: float) -> dict:
    """``quality_<system>`` without its simulate steps, for ``model``, reading the shared ``references``
    and training until ``deadline`` (time.time()), at least ``min_train_s``."""
    pipeline = _shipped_pipeline(system)
    compact = next(s["args"]["model_spec"] for s in pipeline["steps"] if s["run"] == "train")
    steps = []
    for step in pipeline["steps"]:
        if step["run"] == "simulate":
            continue
        text = json.dumps(step).replace(compact, model)
        for name in ("reference.zarr", "reference_test.zarr"):
            text = text.replace(f"{{workdir}}/{name}", str(references / name))
        step = json.loads(text)
        if step["run"] == "train":
            step["args"] |= {"steps": 10**9, "device": device,  # the deadline ends it
                             "model_spec": str(frequent_checkpoints(model, folder))}
            step["time_limit_s"] = max(deadline - time.time(), min_train_s)
        if step["run"] == "generate":  # as many events as the (scaled) evaluation reference, whose conditions it copies
            step["args"]["device"] = device
            step["args"]["events"] = min(_scaled(step["args"]["events"], scale), generate_events or 10**12)
        steps.append(step)
    return {"kind": "pipeline", "name": f"gpu_{model}",
            "description": f"quality_{system} for {model} on {device}, training stopped at the common deadline",
            "steps": steps}


def run_model(system: str, model: str, folder: Path, references: Path, deadline: float, scale: float,
              generate_events: int | None, device: str, min_train_s: float) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "pipeline.yaml"
    spec.write_text(yaml.safe_dump(model_pipeline(system, model, references, folder, deadline, scale, generate_events,
                                                  device, min_train_s), sort_keys=False))
    with open(folder / "run.log", "w") as log:
        done = subprocess.run(_physgen("run", str(spec), "--workdir", str(folder), "--overwrite"),
                              stdout=log, stderr=subprocess.STDOUT)
    return summarise(system, model, folder, done.returncode)


def summarise(system: str, model: str, folder: Path, returncode: int) -> dict:
    """Steps, throughputs and figures of one model's run from its pipeline record and quality file."""
    row: dict = {"system": system, "model": model, "returncode": returncode}
    record_file = folder / "pipeline.json"
    if not record_file.is_file():
        return row
    record = json.loads(record_file.read_text())
    row["hardware"] = record["hardware"]
    steps = {s["run"]: s for s in record["steps"]}
    train, generate = steps.get("train"), steps.get("generate")
    run_dirs = list(folder.glob("*.run"))
    if train and run_dirs:
        metrics = [json.loads(line) for line in (run_dirs[0] / "metrics.jsonl").read_text().splitlines()
                   if line.strip()] if (run_dirs[0] / "metrics.jsonl").is_file() else []
        last_step = max((m.get("step", 0) for m in metrics), default=0)
        info = json.loads((run_dirs[0] / "run.json").read_text())
        batch = yaml.safe_load(info["model_spec"]["text"])["training"]["batch_size"]
        row |= {"train_wall_s": train["wall_s"], "train_steps_logged": last_step,
                "train_events_per_s": round(last_step * batch / train["wall_s"], 1) if train["wall_s"] else None,
                "stopped_at_time_limit": train.get("stopped_at_time_limit")}
    if generate:
        row |= {"generate_wall_s": generate["wall_s"],
                "generate_events_per_s": round(generate["args"]["events"] / generate["wall_s"], 1)}
    quality_files = list(folder.glob("*.quality/quality.json"))
    if quality_files:
        quality = json.loads(quality_files[0].read_text())
        row |= {"targets_met": quality["targets_met"], "targets": quality["targets"],
                "figures": [{k: f.get(k) for k in ("label", "where", "value", "values", "baseline_value", "target",
                                                   "passed")} for f in quality["figures"]]}
    return row


def _fmt(row: dict) -> str:
    figures = "; ".join(f"{f['label']}: {f['value']:.3g}" + (f" (≤ {f['target']:g})" if f.get("target") is not None
                                                             else "")
                        for f in row.get("figures", []) if f.get("value") is not None)
    return (f"| {row['model']} | {row.get('train_wall_s', '–')} | {row.get('train_steps_logged', '–')} | "
            f"{row.get('train_events_per_s', '–')} | {row.get('generate_events_per_s', '–')} | "
            f"{row.get('targets_met', '–')}/{row.get('targets', '–')} | {figures} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_quality/ and the tarball")
    parser.add_argument("--budget-s", type=float, default=540.0, help="wall-clock budget of the whole script")
    parser.add_argument("--reference-scale", type=float, default=0.5,
                        help="fraction of each quality pipeline's reference events to simulate")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated systems")
    parser.add_argument("--models", default=None, help="comma-separated models (default: all of the systems')")
    parser.add_argument("--device", default="cuda", help="cuda, or cpu for a check at tiny sizes")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="CPU cores for the references")
    parser.add_argument("--generate-events", type=int, default=None,
                        help="at most this many generated events per model (default: the scaled evaluation reference)")
    parser.add_argument("--references", type=Path, default=None,
                        help="folder with ready references_<system>/reference{,_test}.zarr to copy in (made elsewhere "
                             "with the same seeds and at least the scaled event counts); missing ones are simulated")
    parser.add_argument("--min-train-s", type=float, default=30.0,
                        help="training time of a model whose references finish after the deadline")
    args = parser.parse_args()
    started = time.time()
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        parser.error(f"unknown systems {unknown}; known: {sorted(SYSTEMS)}")
    wanted = set(args.models.split(",")) if args.models else None
    root = args.out / "gpu_quality"
    root.mkdir(parents=True, exist_ok=True)
    deadline = started + args.budget_s - RESERVE_S
    workers = _workers(systems, args.reference_scale, args.cores)
    print(f"references: workers {workers}; training deadline in {deadline - time.time():.0f} s", flush=True)

    def system_job(system: str) -> list[dict]:
        references = root / f"references_{system}"
        ready = args.references / f"references_{system}" if args.references else None
        if ready is not None and ready.is_dir() and not references.exists():
            shutil.copytree(ready, references)
        references.mkdir(exist_ok=True)
        seconds = simulate_references(system, references, args.reference_scale, workers[system],
                                      root / f"references_{system}.log")
        print(f"{system}: references in {seconds:.0f} s", flush=True)
        models = [m for m in SYSTEMS[system] if wanted is None or m in wanted]
        with ThreadPoolExecutor(len(models) or 1) as pool:
            rows = list(pool.map(lambda m: run_model(system, m, root / m, references, deadline, args.reference_scale,
                                                     args.generate_events, args.device, args.min_train_s), models))
        for row in rows:
            print(f"{row['model']}: exit {row['returncode']}, targets {row.get('targets_met')}/{row.get('targets')}",
                  flush=True)
        return [row | {"reference_wall_s": round(seconds, 1)} for row in rows]

    with ThreadPoolExecutor(len(systems)) as pool:
        rows = [row for rows in pool.map(system_job, systems) for row in rows]
    total = time.time() - started
    from physgen.pipeline import hardware

    results = {"hardware": hardware(), "budget_s": args.budget_s, "wall_s": round(total, 1),
               "reference_scale": args.reference_scale, "device": args.device, "models": rows}
    (root / "results.json").write_text(json.dumps(results, indent=1, default=str))
    hw = results["hardware"]
    lines = ["### GPU quality run", "",
             f"{hw['gpu'] or 'no GPU'} · {hw['cpu_count']} × {hw['cpu']} · torch {hw['torch']} · wall {total:.0f} s "
             f"of a {args.budget_s:.0f} s budget · references at {args.reference_scale:g} of the pipelines' sizes", "",
             "| model | train wall [s] | steps | train events/s | generate events/s | targets met | figures |",
             "|---|---|---|---|---|---|---|"]
    lines += [_fmt(row) for row in rows]
    (root / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines), flush=True)
    left_out = []

    def packed(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        if ".zarr" in info.name or "/snapshots" in info.name or info.name.endswith("checkpoint.pt"):
            return None  # stores and training checkpoints: large, and remade by the pipeline
        if info.isfile() and info.size > MAX_PACKED_BYTES:
            left_out.append(f"{info.name} ({info.size / 2**20:.0f} MiB)")
            return None
        return info

    with tarfile.open(args.out / "gpu_quality.tar.gz", "w:gz") as tar:
        tar.add(root, arcname="gpu_quality", filter=packed)
    if left_out:
        print(f"left out of the tarball (over {MAX_PACKED_BYTES / 2**20:.0f} MiB): {left_out}", flush=True)
    return 0 if all(r["returncode"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
