"""Generation speed of physgen's GANs: the papers' ms-per-sample tables on this machine.

For each generator (untrained weights — speed does not depend on them), sizes from the
shipped detector specs and the papers' latent sizes, time ``generator(*inputs)`` under
``torch.inference_mode`` at batch sizes 1, 10, 128, 1024, 4096, eagerly and with
``torch.compile``; report the median ms per sample and samples/s. Paper references:
LAGAN 470 images/s on CPU (paper 000; Pythia 34/s); CaloGAN 13.1 / 5.11 / 2.19 / 2.03 ms
per shower at batch 1 / 10 / 128 / 1024 on CPU (paper 001).

    python benchmarks/bench_generators.py [--models lagan calogan ...] [--batches 1 10 128 1024 4096]
        [--no-compile] [--device cpu|cuda] [--threads N] [--budget 20]

Writes ``benchmarks/results/generators[_<device>].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from physgen.models.nets import (
    CaloGanGenerator,
    ConditionalCaloGanGenerator,
    DcganGenerator,
    IldGenerator,
    LaganGenerator,
)
from physgen.specs import load_spec

DETECTORS = ROOT / "specs" / "detectors"
RESULTS = ROOT / "benchmarks" / "results"
PAPER_MS = {"calogan": {1: 13.1, 10: 5.11, 128: 2.19, 1024: 2.03}, "lagan": 1000 / 470}
"""Paper CPU figures: CaloGAN per batch size (paper 001), LAGAN 470 images/s at any batch (paper 000)."""


def paper_ms(model: str, batch: int) -> float | None:
    ref = PAPER_MS.get(model)
    return ref.get(batch) if isinstance(ref, dict) else ref


def _detector(name):
    return load_spec(DETECTORS / f"{name}.yaml").spec


def build(model: str):
    """(generator, function batch → inputs) with the papers' sizes."""
    if model in ("lagan", "dcgan"):
        cls = LaganGenerator if model == "lagan" else DcganGenerator
        g = cls.from_detector(_detector("jet_image_25x25"), latent_dim=200)
        return g, lambda b, dev: (torch.randn(b, 200, device=dev), torch.randint(0, 2, (b,), device=dev))
    if model == "calogan":
        g = CaloGanGenerator.from_detector(_detector("calogan_lar3"), latent_dim=1024)
        return g, lambda b, dev: (torch.randn(b, 1024, device=dev), 1 + 99 * torch.rand(b, device=dev))
    if model == "conditional_calogan":
        g = ConditionalCaloGanGenerator.from_detector(_detector("calogan_lar3"), latent_dim=1024)
        return g, lambda b, dev: (torch.randn(b, 1024, device=dev), 1 + 99 * torch.rand(b, device=dev),
                                  torch.randn(b, 4, device=dev))
    if model == "ild":
        g = IldGenerator.from_detector(_detector("ild_ecal_30"), latent_dim=100)
        return g, lambda b, dev: (torch.randn(b, 100, device=dev), torch.full((b,), 50.0, device=dev))
    raise SystemExit(f"unknown model {model!r}")


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_batch(fn, inputs, device, budget: float) -> list[float]:
    """Wall times (s) of repeated calls after one warm-up; at least 3, up to ``budget`` seconds."""
    fn(*inputs)
    _sync(device)
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < 50):
        t0 = time.perf_counter()
        fn(*inputs)
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def write(rows, device, argv) -> None:
    """Save the table so far (called after every model, so a long run keeps its results)."""
    meta = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "cpu": cpu_model(), "nproc": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "command": "python " + " ".join([Path(__file__).relative_to(ROOT).as_posix(),
                                                                     *(argv or sys.argv[1:])]),
        "load_average_1m": os.getloadavg()[0],
        "note": "untrained weights; median wall time per call / batch size; inference_mode. "
                "Other processes on the machine (load average above nproc) inflate these times.",
    }
    suffix = "" if device.type == "cpu" else f"_{device.type}"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"generators{suffix}.json").write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    lines = [f"# Generator speed ({meta['device']})", "",
             (f"Date {meta['date']}; CPU {meta['cpu']}, nproc {meta['nproc']}, torch threads "
              f"{meta['torch_threads']}, torch {meta['torch']}, load average {meta['load_average_1m']:.1f} at the "
              f"end. Command: `{meta['command']}`."), "",
             "| model | mode | batch | ms / sample | samples / s | paper ms / sample |",
             "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        paper = "" if r["paper_ms_per_sample"] is None else f"{r['paper_ms_per_sample']:g}"
        lines.append(f"| {r['model']} | {r['mode']} | {r['batch']} | {r['ms_per_sample']:.3f} | "
                     f"{r['samples_per_s']:.0f} | {paper} |")
    (RESULTS / f"generators{suffix}.md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["lagan", "dcgan", "calogan", "conditional_calogan", "ild"])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 10, 128, 1024, 4096])
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile measurements")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--budget", type=float, default=10.0, help="seconds of repeats per point")
    p.add_argument("--max-point", type=float, default=60.0,
                   help="skip a batch size whose single call is predicted to take longer (s)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    rows = []
    for model in args.models:
        g, make_inputs = build(model)
        g = g.to(device).eval()
        modes = [("eager", g)]
        if not args.no_compile:
            modes.append(("compile", torch.compile(g, dynamic=True)))
        for mode, fn in modes:
            per_sample = None
            for batch in args.batches:
                if per_sample is not None and per_sample * batch > args.max_point:
                    print(f"{model:20s} {mode:8s} batch {batch:5d}: skipped (predicted > {args.max_point} s)")
                    continue
                inputs = make_inputs(batch, device)
                try:
                    with torch.inference_mode():
                        times = time_batch(fn, inputs, device, args.budget)
                except Exception as exc:  # noqa: BLE001 — torch.compile's failures (no toolchain, unsupported op) vary by version
                    print(f"{model:20s} {mode:8s} batch {batch:5d}: failed ({type(exc).__name__}: {exc})"[:200])
                    break
                med = statistics.median(times)
                per_sample = med / batch
                row = {"model": model, "mode": mode, "batch": batch, "ms_per_sample": 1e3 * per_sample,
                       "samples_per_s": 1.0 / per_sample, "repeats": len(times),
                       "paper_ms_per_sample": paper_ms(model, batch)}
                rows.append(row)
                print(f"{model:20s} {mode:8s} batch {batch:5d}: {row['ms_per_sample']:9.3f} ms/sample "
                      f"{row['samples_per_s']:10.0f} /s ({len(times)} repeats)", flush=True)
        write(rows, device, argv)
    print(f"wrote {RESULTS}/generators*.json and .md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
