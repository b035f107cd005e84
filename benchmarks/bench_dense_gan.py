"""Generation throughput of the dense Z→μμ GAN (paper 002) at batch 1 … 65536, against the ``zmumu``
reference simulator (Pythia 8 + pileup + detector, physgen.sim) timed in the same run on the same machine.

Timed: noise → generator → inverse transforms → numpy, i.e. what ``physgen generate`` does per
batch apart from the store write, under ``torch.inference_mode``, in float32 and with bf16 autocast
(the CPU's AVX-512 BF16 units; its accuracy is measured too). The weights are random (throughput
does not depend on them). Rates are per wall second with the best of 1 and all of torch's intra-op
threads, and per
CPU second, the fair unit against the single-threaded reference simulator.
Paper 002: ≈ 3600× faster than Pythia + Delphes; issue target ≥ 5000× the reference and ≥ 1 M events/s.

    python benchmarks/bench_dense_gan.py [--device cpu|cuda] [--seconds 1.0] [--threads 1 2] [--reference-events 40]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _benchio import matmul_peak, write_results  # noqa: E402

from physgen.models import DataDescription, VariableInfo, get_architecture  # noqa: E402
from physgen.sim import build_simulator  # noqa: E402
from physgen.specs import SpecRegistry  # noqa: E402
from physgen.store import resolve_dataset  # noqa: E402
from physgen.train import TransformSet  # noqa: E402

BATCHES = [1, 16, 256, 1024, 4096, 16384, 65536]


def build(device: torch.device):
    """The zmumu_gan17 generator with random weights and plausible standardisation parameters."""
    spec = SpecRegistry.default().get("model", "zmumu_gan17").spec
    params = {v: [{"mean": 0.0, "std": 50.0} if t.name == "scale" else {} for t in chain]
              for v, chain in spec.data.transforms.items()}
    transforms = TransformSet(spec.data.transforms, params)
    variables = {n: VariableInfo((), (), "GeV", "float32") for n in spec.data.inputs}
    data = DataDescription(variables, list(spec.data.inputs), inverse=transforms.inverse)
    torch.manual_seed(0)
    recipe = get_architecture(spec.architecture)(spec, data)
    recipe.networks.to(device).eval()
    return recipe, transforms


def precision_context(precision: str, device: torch.device):
    return (torch.autocast(device.type, dtype=torch.bfloat16) if precision == "bf16"
            else contextlib.nullcontext())


def generate_batch(recipe, transforms, batch: int, generator: torch.Generator) -> dict[str, np.ndarray]:
    out = transforms.inverse(recipe.sample(batch, None, generator))
    return {k: v.float().cpu().numpy() for k, v in out.items()}


def rate(recipe, transforms, batch: int, device: torch.device, seconds: float, precision: str) -> tuple[float, float]:
    """(events per wall second, events per CPU second) of generation at ``batch``."""
    generator = torch.Generator(device).manual_seed(0)
    with torch.inference_mode(), precision_context(precision, device):
        generate_batch(recipe, transforms, batch, generator)
        n, start, cpu = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - start < seconds:
            generate_batch(recipe, transforms, batch, generator)
            n += batch
        if device.type == "cuda":
            torch.cuda.synchronize()
        return n / (time.perf_counter() - start), n / max(time.process_time() - cpu, 1e-9)


def bf16_accuracy(recipe, transforms, device: torch.device, n: int = 65536) -> float:
    """bf16 against float32 generator outputs for the same noise: RMS difference ÷ RMS output, in the
    standardised units the network produces (a relative precision; the weights are random)."""
    noise = recipe._noise(n, torch.Generator(device).manual_seed(1))
    generator = recipe.networks["generator"]
    with torch.inference_mode():
        exact = generator(noise).float()
        with precision_context("bf16", device):
            approx = generator(noise).float()
    return float(torch.sqrt(torch.mean((approx - exact) ** 2) / torch.mean(exact**2)))


def reference_rate(events: int) -> dict[str, float]:
    """Events per wall and per CPU second of the ``zmumu`` simulator (start-up, incl. the pileup pool, apart)."""
    start = time.perf_counter()
    simulator = build_simulator(resolve_dataset("zmumu"))
    simulator.simulate(1, np.random.SeedSequence(1))
    setup = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    simulator.simulate(events, np.random.SeedSequence(0))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"events": events, "events_per_s": events / wall, "events_per_cpu_s": events / cpu, "setup_s": setup}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--threads", type=int, nargs="+", default=None,
                        help="torch intra-op thread counts to try (default: 1 and all of torch's); best kept per row")
    parser.add_argument("--reference-events", type=int, default=40)
    args = parser.parse_args()
    all_threads = torch.get_num_threads()
    thread_counts = sorted(set(args.threads or [1, all_threads]))
    device = torch.device(args.device)
    ref = reference_rate(args.reference_events)
    recipe, transforms = build(device)
    flops = 2 * sum(m.in_features * m.out_features for m in recipe.networks["generator"].modules()
                    if isinstance(m, torch.nn.Linear))
    torch.set_num_threads(1)  # the peak of one core (per CPU second): the unit the CPU rates below are in
    peaks = {"fp32": matmul_peak(torch.float32, device), "bf16": matmul_peak(torch.bfloat16, device)}
    precisions = ("fp32", "bf16")
    rows, best = [], {}
    for batch in BATCHES:
        row: dict[str, str | int] = {"batch": batch}
        for p in precisions:
            timings = []
            for threads in thread_counts:
                torch.set_num_threads(threads)
                timings.append((*rate(recipe, transforms, batch, device, args.seconds, p), threads))
            wall, cpu, threads = max(timings)
            best[p] = max(best.get(p, (0, 0, 0)), (wall, cpu, threads))
            per_s = wall if device.type == "cuda" else max(t[1] for t in timings)  # the peak's time unit
            row |= {f"{p} events/s": f"{wall:,.0f} ({threads} thr)",
                    f"{p} % of peak": f"{100 * per_s * flops / 1e9 / peaks[p]:.0f}",
                    f"{p} × ref (wall)": f"{wall / ref['events_per_s']:,.0f}",
                    f"{p} × ref (CPU-s)": f"{cpu / ref['events_per_cpu_s']:,.0f}"}
        rows.append(row)
    accuracy = bf16_accuracy(recipe, transforms, device)
    unit = "wall second" if device.type == "cuda" else "CPU second"
    best_bf16 = max(float(r["bf16 % of peak"]) for r in rows)
    summary = {p: {"events_per_s": w, "events_per_cpu_s": c, "threads": t, "speedup_wall": w / ref["events_per_s"],
                   "speedup_cpu_s": c / ref["events_per_cpu_s"]} for p, (w, c, t) in best.items()}
    notes = [
        f"device {device}; torch intra-op threads tried {thread_counts} of {all_threads} (best per row, "
        "'thr'); on a shared machine one thread often wins; dense GAN of specs/models/zmumu_gan17.yaml "
        "(17 features, G 64-128-256-512-256-128-17), torch.inference_mode; bf16 = torch.autocast(bfloat16).",
        f"reference: physgen.sim 'zmumu' (Pythia 8 Z→μμ + pileup + detector), {ref['events']} events in this run: "
        f"{ref['events_per_s']:,.1f} events/s wall, {ref['events_per_cpu_s']:,.1f} events/CPU-s "
        f"(start-up {ref['setup_s']:.1f} s not counted).",
        "× ref (wall): GAN events per wall second ÷ reference's; × ref (CPU-s): per CPU second (the reference "
        "runs on one core).",
        f"best: fp32 {summary['fp32']['events_per_s']:,.0f} events/s ({summary['fp32']['speedup_wall']:,.0f}× wall, "
        f"{summary['fp32']['speedup_cpu_s']:,.0f}× per CPU-s); bf16 {summary['bf16']['events_per_s']:,.0f} events/s "
        f"({summary['bf16']['speedup_wall']:,.0f}× wall, {summary['bf16']['speedup_cpu_s']:,.0f}× per CPU-s).",
        f"bf16 precision: generator outputs (standardised units) differ from fp32 by {accuracy:.2%} RMS for the "
        "same noise (random weights); check a trained model's metrics before generating in bf16.",
        "Targets: ≥ 1 M events/s and ≥ 5000× the reference (paper 002: ≈ 3600× Pythia + Delphes); ≥ 60 % of the "
        "machine's bf16 matrix-product peak for the network's FLOPs.",
        f"% of peak: generator FLOPs per {unit} (the whole pipeline: noise, network, inverse transforms, copy "
        f"out) ÷ the matrix-product peak measured in this run (one 2048³ product, one thread, per {unit}): "
        f"fp32 {peaks['fp32']:.0f}, bf16 {peaks['bf16']:.0f} GFLOP/s; best bf16 row {best_bf16:.0f} % "
        f"(target ≥ 60 %). A {os.cpu_count()}-core machine at that peak would make at most "
        f"{peaks['bf16'] * 1e9 * (os.cpu_count() or 1) / flops:,.0f} events/s.",
        f"Cost: {flops / 1e6:.2f} MFLOP per generated event, so 1 M events/s needs {flops / 1e3:,.0f} GFLOP/s "
        "of dense matrix products.",
    ]
    columns = ["batch"] + [f"{p} {c}" for p in precisions
                           for c in ("events/s", "% of peak", "× ref (wall)", "× ref (CPU-s)")]
    write_results(f"dense_gan_{device.type}", rows, columns, notes,
                  {"reference": ref, "best": summary, "bf16_relative_rms_difference": accuracy,
                   "generator_flop_per_event": flops, "matmul_peak_gflops": peaks})


if __name__ == "__main__":
    main()
