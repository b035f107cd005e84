"""Store loader throughput ÷ in-memory tensor throughput at batch 1024 (target ≥ 0.9).

The store is a zmumu17-sized toy: 17 float32 features per event (the dense Z→μμ GAN's input),
written in 50 000-event chunks. "In memory" is the fastest plain-torch way to get shuffled
batches of resident data: permute the tensor once per epoch, then take contiguous slices. The store
loader reads chunks lazily, transforms (standardises) them, shuffles across chunks and batches;
it is timed with 0 and 2 worker processes over one full epoch. Both sides hand the consumer
one tensor per variable (as training batches are), which it stacks, as the dense GAN does.

    python benchmarks/bench_loader.py [--events 2000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _benchio import write_results  # noqa: E402

from physgen.schema import StoreSchema, VariableSchema  # noqa: E402
from physgen.specs import Transform  # noqa: E402
from physgen.store import create_store  # noqa: E402
from physgen.train import StreamPlan, TransformSet, make_loader  # noqa: E402

BATCH = 1024
NAMES = [f"f{i:02d}" for i in range(17)]


def make_store(url: str, events: int, chunk: int = 50_000) -> None:
    schema = StoreSchema(tuple(VariableSchema(n, (), (), "float32", "GeV") for n in NAMES))
    writer = create_store(url, schema, chunk_events=chunk, provenance={"specs": {}, "producer": {"name": "bench"}})
    rng = np.random.default_rng(0)
    for start in range(0, events, chunk):
        n = min(chunk, events - start)
        writer.append({name: rng.normal(50, 20, n).astype(np.float32) for name in NAMES})


def in_memory_rate(data: dict[str, torch.Tensor], events: int) -> float:
    x = torch.stack([data[n] for n in NAMES], dim=1)
    start = time.perf_counter()
    shuffled = x[torch.randperm(events)]  # one epoch: shuffle once, then contiguous batches
    for i in range(0, events - BATCH + 1, BATCH):
        batch = {n: shuffled[i:i + BATCH, k] for k, n in enumerate(NAMES)}
        torch.stack([batch[k] for k in NAMES], dim=1).sum()
    return (events // BATCH) * BATCH / (time.perf_counter() - start)


def store_rate(url: str, events: int, workers: int, transforms: TransformSet) -> float:
    plan = StreamPlan(url, tuple(NAMES), 0, events, 50_000, BATCH, 200_000, seed=0)
    start = time.perf_counter()
    n = 0
    for batch in make_loader(plan, transforms, 0, num_workers=workers):
        torch.stack([batch[k] for k in NAMES], dim=1).sum()
        n += BATCH
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=5, help="epochs timed per source (best and median reported)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        url = str(Path(tmp) / "bench.zarr")
        make_store(url, args.events)
        scale = TransformSet({n: [Transform(name="scale", options={"mean": 50.0, "std": 20.0})] for n in NAMES})
        memory = {n: torch.from_numpy(np.random.default_rng(1).normal(50, 20, args.events).astype(np.float32))
                  for n in NAMES}
        timings: dict[str, list[float]] = {"memory": [], 0: [], 2: []}
        for _ in range(args.repeats):  # interleaved, so that both sides see the same load on a shared machine
            timings["memory"].append(in_memory_rate(memory, args.events))
            for workers in (0, 2):
                timings[workers].append(store_rate(url, args.events, workers, scale))
        reference = max(timings["memory"])
        rows = [{"source": "in-memory tensor (shuffled once, sliced)", "workers": "-", "events/s": f"{reference:,.0f}",
                 "ratio": "1.00", "median ratio": "1.00"}]
        median_memory = float(np.median(timings["memory"]))
        for workers in (0, 2):
            rate = max(timings[workers])
            rows.append({"source": "Zarr store loader (read + standardise + shuffle buffer)", "workers": workers,
                         "events/s": f"{rate:,.0f}", "ratio": f"{rate / reference:.2f}",
                         "median ratio": f"{np.median(timings[workers]) / median_memory:.2f}"})
    notes = [f"{args.events:,} events × 17 float32 features, batch {BATCH}, chunks of 50 000 events, "
             "shuffle buffer 200 000 events; ratio: best ÷ best, median ratio: median ÷ median of "
             f"{args.repeats} interleaved epochs per source.",
             "Target: loader ÷ in-memory ≥ 0.9. With 0 workers the loader reads and transforms the next pieces in "
             "background threads and swaps each new block through a fixed shuffle buffer (one gather + one scatter per "
             "event); worker processes add an inter-process copy per batch and pay off only with free cores and "
             "expensive transforms.",
             "The machine is shared (see the load average): repeated runs scatter by ±0.15 in the ratio.",
             "For scale: one dense Z→μμ GAN training step at batch 512 takes milliseconds on a CPU core, "
             "so ≳ 10⁵ events/s from the loader does not limit training there."]
    write_results("loader", rows, ["source", "workers", "events/s", "ratio", "median ratio"], notes)


if __name__ == "__main__":
    main()
