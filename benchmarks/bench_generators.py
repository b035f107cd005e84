"""Generation speed of physgen's GANs against the reference simulators, in one run.

For each generator (untrained weights — speed does not depend on them; sizes from the shipped
detector specs and the papers' latent sizes) time ``generator(*inputs)`` under
``torch.inference_mode`` at batch sizes 1, 10, 128, 1024, 4096 in float32 ("eager"), with
bfloat16 weights and inputs ("bf16": fast on CPUs with AVX512-BF16/AMX, and the GPU path), bf16 with
channels-last weights ("bf16_cl"); ``--compile`` adds ``torch.compile`` of the float32 and bf16
networks. Each row gives the network's FLOPs per sample (``torch.utils.flop_counter``: matrix
products and convolutions) and the achieved GFLOP/s against the same machine's matrix-product peak
in that precision, measured in the same run (per CPU second on a CPU, so other load on a shared
machine does not count), so the distance to the limit is a ratio. In the same process and on the
same cores it times the reference simulators per event: the parametric shower simulator of
``calogan_eplus`` and ``ild_photons_50gev`` and the Pythia 8 ``jets`` pipeline (start-up
excluded), and prints the speed-up of each generator's best mode at its best batch size over its
reference.

Paper figures: CaloGAN 13.1 / 5.11 / 2.19 / 2.03 ms per shower at batch 1 / 10 / 128 / 1024 on
CPU and Geant4 1772 ms per shower (paper 001); LAGAN 470 images/s on CPU vs Pythia 34 events/s
(paper 000).

    python benchmarks/bench_generators.py [--models lagan dcgan calogan conditional_calogan ild]
        [--batches 1 10 128 1024 4096] [--modes eager bf16 bf16_cl] [--compile] [--device cpu|cuda]
        [--threads N] [--budget 1] [--jet-events 20] [--shower-events 200]

Writes ``benchmarks/results/generators[_cuda].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _benchio import RESULTS, matmul_peak, write_results  # noqa: E402

from physgen.models.nets import (  # noqa: E402
    CaloGanGenerator,
    ConditionalCaloGanGenerator,
    DcganGenerator,
    IldGenerator,
    LaganGenerator,
)
from physgen.sim import build_simulator  # noqa: E402
from physgen.specs import load_spec  # noqa: E402
from physgen.store import resolve_dataset  # noqa: E402

PAPER_MS = {"calogan": {1: 13.1, 10: 5.11, 128: 2.19, 1024: 2.03}, "lagan": 1000 / 470}
"""Paper CPU figures: CaloGAN per batch size (paper 001), LAGAN 470 images/s at any batch (paper 000)."""
REFERENCE = {"lagan": "jets_wprime_qcd", "dcgan": "jets_wprime_qcd", "calogan": "calogan_eplus",
             "conditional_calogan": "calogan_conditional_eplus", "ild": "ild_photons_50gev"}
"""The dataset whose simulator each generator replaces."""
PAPER_REFERENCE_MS = {"jets_wprime_qcd": 1000 / 34, "calogan_eplus": 1772.0, "calogan_conditional_eplus": 1772.0}
"""Paper 000: Pythia 34 events/s; paper 001: Geant4 1772 ms per shower."""
MAX_BATCH = {"ild": 1024}
"""The ILD generator's last upsampled block holds 8 × 32³ floats per shower (1 GiB at batch 1024)."""


def _detector(name):
    return load_spec(ROOT / "specs" / "detectors" / f"{name}.yaml").spec


def build(model: str):
    """(generator, function (batch, device, dtype) → inputs) with the papers' sizes."""
    if model in ("lagan", "dcgan"):
        cls = LaganGenerator if model == "lagan" else DcganGenerator
        g = cls.from_detector(_detector("jet_image_25x25"), latent_dim=200)
        return g, lambda b, dev, dt: (torch.randn(b, 200, device=dev, dtype=dt), torch.randint(0, 2, (b,), device=dev))
    if model == "calogan":
        g = CaloGanGenerator.from_detector(_detector("calogan_lar3"), latent_dim=1024)
        return g, lambda b, dev, dt: (torch.randn(b, 1024, device=dev, dtype=dt),
                                      1 + 99 * torch.rand(b, device=dev, dtype=dt))
    if model == "conditional_calogan":
        g = ConditionalCaloGanGenerator.from_detector(_detector("calogan_lar3"), latent_dim=1024)
        return g, lambda b, dev, dt: (torch.randn(b, 1024, device=dev, dtype=dt),
                                      1 + 99 * torch.rand(b, device=dev, dtype=dt), torch.randn(b, 4, device=dev, dtype=dt))
    if model == "ild":
        g = IldGenerator.from_detector(_detector("ild_ecal_30"), latent_dim=100)
        return g, lambda b, dev, dt: (torch.randn(b, 100, device=dev, dtype=dt),
                                      torch.full((b,), 50.0, device=dev, dtype=dt))
    raise SystemExit(f"unknown model {model!r}")


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_calls(fn, device, budget: float, minimum: int = 3, maximum: int = 30) -> tuple[list[float], list[float]]:
    """Wall and CPU times (s) of repeated ``fn()`` after one warm-up; at least ``minimum`` (2 when the
    warm-up took over a second), up to ``budget`` s."""
    t0 = time.perf_counter()
    fn()
    _sync(device)
    if time.perf_counter() - t0 > 1.0:
        minimum = min(minimum, 2)
    walls: list[float] = []
    cpus: list[float] = []
    start = time.perf_counter()
    while len(walls) < minimum or (time.perf_counter() - start < budget and len(walls) < maximum):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        _sync(device)
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return walls, cpus


def flops_per_sample(net, inputs) -> float:
    """FLOPs of one call per sample (matrix products and convolutions, as torch's flop counter counts)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        net(*inputs)
    return counter.get_total_flops() / len(inputs[0])


def simulator_ms(dataset: str, events: int, seed: int = 0) -> float:
    """CPU ms per event of the dataset's simulator in this process (best call; start-up and a warm-up excluded)."""
    sim = build_simulator(resolve_dataset(str(ROOT / "specs" / "datasets" / f"{dataset}.yaml")))
    calls = iter(range(1, 1000))
    _, cpus = time_calls(lambda: sim.simulate(events, np.random.SeedSequence(seed, spawn_key=(next(calls),))),
                         torch.device("cpu"), budget=0.0, minimum=2)
    return 1e3 * min(cpus) / events


MODES = {"eager": (torch.float32, False, False), "bf16": (torch.bfloat16, False, False),
         "bf16_cl": (torch.bfloat16, True, False), "compile": (torch.float32, False, True),
         "compile_bf16": (torch.bfloat16, False, True)}
"""mode: (dtype of weights and inputs, channels-last weights, torch.compile)"""


def generator_rows(model: str, args, device, peaks: dict, rows: list[dict]) -> None:
    """Time ``model`` in every mode and batch size, appending one row per point to ``rows`` (so that the
    points measured before an interruption are kept)."""
    modes = [m for m in MODES if m in args.modes or (args.compile and m.startswith("compile"))]
    flops = None
    for mode in modes:
        dtype, channels_last, compiled = MODES[mode]
        net, make_inputs = build(model)
        net = net.to(device).eval().to(dtype)
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
        if flops is None:
            flops = flops_per_sample(net, make_inputs(2, device, dtype))
        if compiled:
            net = torch.compile(net, dynamic=False)
        expected = None
        for batch in args.batches:
            if batch > MAX_BATCH.get(model, batch) or (expected is not None and expected * batch > args.max_point):
                print(f"{model:20s} {mode:12s} batch {batch:5d}: skipped (memory or predicted > {args.max_point} s)")
                continue
            inputs = make_inputs(batch, device, dtype)
            try:
                with torch.inference_mode():
                    walls, cpus = time_calls(lambda: net(*inputs), device, args.budget)  # noqa: B023
            except Exception as exc:  # noqa: BLE001 — compile/bf16 failures (toolchain, op support) vary by version
                print(f"{model:20s} {mode:12s} batch {batch:5d}: failed ({type(exc).__name__}: {exc})"[:200])
                break
            per_sample = statistics.median(walls) / batch
            cpu_per_sample = min(cpus) / batch
            spent = per_sample if device.type == "cuda" else cpu_per_sample  # the time the peak is measured in
            expected = spent  # the next batch's size is judged in the same time: on a loaded CPU wall ≫ CPU
            gflops = flops / spent / 1e9
            peak = peaks[torch.bfloat16 if dtype == torch.bfloat16 else torch.float32]
            paper = PAPER_MS.get(model)
            rows.append({"model": model, "mode": mode, "batch": batch, "ms_per_sample": round(1e3 * per_sample, 4),
                         "samples_per_s": round(1.0 / per_sample),
                         "cpu_ms_per_sample": round(1e3 * cpu_per_sample, 4),
                         "MFLOP_per_sample": round(flops / 1e6, 2), "GFLOP_per_s": round(gflops, 1),
                         "percent_of_peak": round(100 * gflops / peak, 1),
                         "ms_per_sample_at_peak": round(1e3 * flops / (peak * 1e9), 4), "repeats": len(walls),
                         "paper_ms_per_sample": paper.get(batch, "") if isinstance(paper, dict) else
                         round(paper, 2) if paper else ""})
            print(f"{model:20s} {mode:12s} batch {batch:5d}: {rows[-1]['ms_per_sample']:9.3f} ms/sample wall, "
                  f"{rows[-1]['cpu_ms_per_sample']:9.3f} CPU, {gflops:7.1f} GFLOP/s = "
                  f"{rows[-1]['percent_of_peak']:5.1f} % of peak ({len(walls)} repeats)", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["lagan", "dcgan", "calogan", "conditional_calogan", "ild"])
    p.add_argument("--batches", nargs="+", type=int, default=[1, 10, 128, 1024, 4096])
    p.add_argument("--modes", nargs="+", default=["eager", "bf16", "bf16_cl"], choices=list(MODES))
    p.add_argument("--compile", action="store_true", help="also time torch.compile (slow to compile on CPU)")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads (default 1: per-core efficiency; 0 = torch's choice)")
    p.add_argument("--budget", type=float, default=1.0, help="seconds of repeats per point")
    p.add_argument("--max-point", type=float, default=20.0,
                   help="skip a batch size whose single call is predicted to take longer (s)")
    p.add_argument("--jet-events", type=int, default=20, help="Pythia events per timed call")
    p.add_argument("--shower-events", type=int, default=200, help="simulated showers per timed call")
    p.add_argument("--name", default=None, help="result name (default generators, generators_cuda on a GPU)")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    peaks = {dtype: matmul_peak(dtype, device) for dtype in (torch.float32, torch.bfloat16)}
    print(f"matrix-product peak: float32 {peaks[torch.float32]:.0f}, bfloat16 {peaks[torch.bfloat16]:.0f} GFLOP/s",
          flush=True)
    references: dict[str, float] = {}
    for dataset in sorted({REFERENCE[m] for m in args.models}):
        events = args.jet_events if dataset.startswith("jets") else args.shower_events
        references[dataset] = simulator_ms(dataset, events)
        print(f"simulator {dataset:28s}: {references[dataset]:9.3f} ms/event", flush=True)
    rows: list[dict] = []
    interrupted = False
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # `timeout` stops it: keep what was measured
    try:
        for model in args.models:
            generator_rows(model, args, device, peaks, rows)
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted: writing the points measured so far", flush=True)
    summary = []
    for model in args.models:
        own = [r for r in rows if r["model"] == model]
        if not own:
            continue
        key = "ms_per_sample" if device.type == "cuda" else "cpu_ms_per_sample"  # CPU time: steady under load
        best = min(own, key=lambda r: r[key])
        ref = REFERENCE[model]
        paper = PAPER_REFERENCE_MS.get(ref)
        summary.append({"generator": model, "best": f"{best['mode']} @ {best['batch']}",
                        "ms_per_sample": best[key], "reference": ref,
                        "reference_ms_per_event": round(references[ref], 3),
                        "speedup": float(f"{references[ref] / best[key]:.3g}"),
                        "paper_reference_ms": round(paper, 1) if paper else "",
                        "speedup_vs_paper_reference": float(f"{paper / best[key]:.3g}") if paper else ""})
        print(f"{model:20s} best {summary[-1]['best']:14s} {best[key]:8.3f} ms  vs {ref} "
              f"{references[ref]:8.3f} ms/event: ×{summary[-1]['speedup']}")
    cpu_note = (f"device {device}; no GPU was available in this session (GPU rows: rerun with --device cuda)"
                if device.type == "cpu" else f"device {torch.cuda.get_device_name(device)}")
    threads = torch.get_num_threads()
    notes = [cpu_note,
             "untrained weights; ms_per_sample: median wall time per call / batch; cpu_ms_per_sample: least CPU time "
             f"per call / batch ({threads} torch thread(s)); torch.inference_mode; eager = float32, bf16 = bfloat16 "
             "weights and inputs, bf16_cl = bf16 with channels-last weights, compile = torch.compile",
             f"matrix-product peak measured in this run (one {2048}³ product, best of ~1 s): float32 "
             f"{peaks[torch.float32]:.0f}, bfloat16 {peaks[torch.bfloat16]:.0f} GFLOP/s "
             f"({'per wall second' if device.type == 'cuda' else 'per CPU second, one thread'}); GFLOP_per_s = "
             "MFLOP_per_sample ÷ time per sample (CPU time on a CPU); percent_of_peak against the peak of the mode's "
             "precision; ms_per_sample_at_peak: the time per sample if every FLOP ran at that peak (the floor)",
             "LAGAN's two locally-connected layers run in their fast form (physgen.models.blocks.LocallyConnected2d: "
             "stride 1: one batched matrix product per kernel offset over all output positions); compile = "
             "torch.compile(dynamic=False) of the whole generator (compile time not in the rates)",
             "reference simulators timed in the same process on the same cores (Pythia start-up excluded); "
             "paper references: Geant4 1772 ms/shower (paper 001), Pythia 34 events/s (paper 000)",
             "other processes on a shared machine (see load average) inflate wall times many-fold; the CPU-time "
             "columns and the peak ratio are the figures to compare; the speed-up table uses CPU ms on a CPU"]
    if interrupted:
        notes.append("interrupted by its time limit: the points not listed were not measured")
    calo = [r for r in rows if r["model"] == "calogan" and r["batch"] == 1024]
    if calo:
        best = min(calo, key=lambda r: r["cpu_ms_per_sample"] if device.type == "cpu" else r["ms_per_sample"])
        cores = os.cpu_count() or 1
        notes.append(f"CaloGAN at batch 1024 (target ≤ 0.25 ms per shower): best {best['mode']} "
                     f"{best['cpu_ms_per_sample'] if device.type == 'cpu' else best['ms_per_sample']} "
                     f"{'CPU ' if device.type == 'cpu' else ''}ms per shower, {best['percent_of_peak']} % of the "
                     f"measured peak; its {best['MFLOP_per_sample']} MFLOP per shower at the bf16 peak need "
                     f"{best['ms_per_sample_at_peak']} ms" + (f" per core, {best['ms_per_sample_at_peak'] / cores:.3f} "
                                                               f"ms on all {cores} cores at once" if device.type == "cpu"
                                                               else ""))
    name = args.name or ("generators" if device.type == "cpu" else f"generators_{device.type}")
    write_results(name, rows,
                  ["model", "mode", "batch", "ms_per_sample", "cpu_ms_per_sample", "samples_per_s", "MFLOP_per_sample",
                   "GFLOP_per_s", "percent_of_peak", "ms_per_sample_at_peak", "paper_ms_per_sample"], notes,
                  extra={"simulators_ms_per_event": references, "summary": summary,
                         "matmul_peak_gflops": {str(k): v for k, v in peaks.items()}})
    lines = ["", "| generator | best (mode @ batch) | ms / sample | reference simulator | its ms / event | "
             "speed-up | paper reference ms | speed-up vs paper reference |", "|---|---|---:|---|---:|---:|---:|---:|"]
    lines += [f"| {s['generator']} | {s['best']} | {s['ms_per_sample']} | {s['reference']} | "
              f"{s['reference_ms_per_event']} | {s['speedup']} | {s['paper_reference_ms']} | "
              f"{s['speedup_vs_paper_reference']} |" for s in summary]
    md = RESULTS / f"{name}.md"
    md.write_text(md.read_text() + "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
