"""Store loader throughput ÷ in-memory tensor throughput at batch 1024 (target ≥ 0.9).

The store is a zmumu17-sized toy: 17 float32 features per event (the dense Z→μμ GAN's input),
written in 50 000-event chunks. "In memory" is the fastest plain-torch way to get shuffled
batches of resident data: permute the tensor once per epoch, then take contiguous slices. The store
loader reads chunks lazily, transforms (standardises) them, shuffles across chunks and batches;
it is timed with 0 and 2 worker processes over one full epoch. Both sides hand the consumer
one tensor per variable (as training batches are), which it stacks, as the dense GAN does; with
``--device cuda`` the consumer moves each batch to the GPU (the loader's batches are pinned) and
the in-memory data already lives there.

Sources are timed in turn, ``--repeats`` rounds, so that all see the same load of a shared machine;
rates per wall second and per CPU second (the process and its loader workers) are reported.

    python benchmarks/bench_loader.py [--events 2000000] [--repeats 5] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from _benchio import timed, write_results  # noqa: E402

from physgen.schema import StoreSchema, VariableSchema  # noqa: E402
from physgen.specs import Transform  # noqa: E402
from physgen.store import create_store  # noqa: E402
from physgen.train import StreamPlan, TransformSet, make_loader  # noqa: E402

BATCH = 1024
CHUNK = 50_000
BUFFER = 200_000
NAMES = [f"f{i:02d}" for i in range(17)]


def make_store(url: str, events: int, chunk: int = CHUNK) -> None:
    schema = StoreSchema(tuple(VariableSchema(n, (), (), "float32", "GeV") for n in NAMES))
    writer = create_store(url, schema, chunk_events=chunk, provenance={"specs": {}, "producer": {"name": "bench"}})
    rng = np.random.default_rng(0)
    for start in range(0, events, chunk):
        n = min(chunk, events - start)
        writer.append({name: rng.normal(50, 20, n).astype(np.float32) for name in NAMES})


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def in_memory_epoch(x: torch.Tensor, device: torch.device) -> int:
    """One epoch of in-memory batches (``x`` already on ``device``); returns the events consumed."""
    events = len(x)
    shuffled = x[torch.randperm(events, device=device)]  # one epoch: shuffle once, then contiguous batches
    for i in range(0, events - BATCH + 1, BATCH):
        batch = {n: shuffled[i:i + BATCH, k].to(device, non_blocking=True) for k, n in enumerate(NAMES)}
        torch.stack([batch[k] for k in NAMES], dim=1).sum()
    _sync(device)
    return events // BATCH * BATCH


def read_epoch(url: str, events: int) -> int:
    """The loader's floor: its own reader (physgen.train._data; Zarr's synchronous codec path where the store
    allows it) reading + decompressing every chunk of every variable, and nothing else."""
    from physgen.train._data import _Reader

    reader = _Reader(url, tuple(NAMES))
    try:
        for start in range(0, events, CHUNK):
            reader.read(start, min(start + CHUNK, events))
    finally:
        reader.close()
    return events // BATCH * BATCH


def store_epoch(url: str, events: int, workers: int, transforms: TransformSet, device: torch.device) -> int:
    plan = StreamPlan(url, tuple(NAMES), 0, events, CHUNK, BATCH, BUFFER, seed=0)
    n = 0
    for batch in make_loader(plan, transforms, 0, num_workers=workers, pin_memory=device.type == "cuda"):
        batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
        torch.stack([batch[k] for k in NAMES], dim=1).sum()
        n += BATCH
    _sync(device)
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=5, help="epochs timed per source (best and median reported)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="loader worker processes to time")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--name", default=None, help="result name (default loader, loader_cuda on a GPU)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sources = ["memory", *args.workers, "read"]
    wall: dict = {s: [] for s in sources}
    cpu: dict = {s: [] for s in sources}
    with tempfile.TemporaryDirectory() as tmp:
        url = str(Path(tmp) / "bench.zarr")
        make_store(url, args.events)
        scale = TransformSet({n: [Transform(name="scale", options={"mean": 50.0, "std": 20.0})] for n in NAMES})
        memory = torch.from_numpy(np.random.default_rng(1).normal(50, 20, (args.events, len(NAMES)))
                                  .astype(np.float32)).to(device)
        for _ in range(args.repeats):  # interleaved, so that every source sees the same load on a shared machine
            for source in sources:
                if source == "memory":
                    w, c, n = timed(in_memory_epoch, memory, device)
                elif source == "read":
                    w, c, n = timed(read_epoch, url, args.events)
                else:
                    w, c, n = timed(store_epoch, url, args.events, source, scale, device)
                wall[source].append(n / w)
                cpu[source].append(n / c)
    rows = []
    for source in sources:
        def ratio(values, pick, source=source):
            return f"{pick(values[source]) / pick(values['memory']):.2f}"

        rows.append({
            "source": {"memory": "in-memory tensor (shuffled once, sliced)",
                       "read": "floor: the loader's read + zstd decompress only (no batches)"}.get(
                           source, "Zarr store loader (read + standardise + shuffle buffer)"),
            "workers": "-" if source in ("memory", "read") else source,
            "events/s (best)": f"{max(wall[source]):,.0f}",
            "ratio best": ratio(wall, max), "ratio median": ratio(wall, np.median),
            "events/CPU-s (best)": f"{max(cpu[source]):,.0f}",
            "CPU ratio best": ratio(cpu, max), "CPU ratio median": ratio(cpu, np.median)})
    read_us, memory_us, loader_us = (1e6 / max(cpu[s]) for s in ("read", "memory", sources[1]))
    floor_share = (f"per event, reading + decompressing costs {read_us:.3f} CPU-µs, the in-memory epoch "
                   f"{memory_us:.3f}, the {sources[1]}-worker loader {loader_us:.3f} (best rounds), so its shuffle, "
                   f"transform and batching cost {loader_us - read_us:.3f}; a CPU ratio of 0.9 needs the loader at "
                   f"≤ {memory_us / 0.9:.3f} CPU-µs per event, i.e. everything but the read within "
                   f"{memory_us / 0.9 - read_us:.3f}. Measured limit: a loader that paid only the read on top of "
                   f"everything the in-memory epoch does (its shuffle, transform and batching free) would reach "
                   f"{memory_us:.3f} ÷ ({memory_us:.3f} + {read_us:.3f}) = {memory_us / (memory_us + read_us):.2f} per "
                   "CPU second: the read alone is "
                   f"{read_us / memory_us:.0%} of the in-memory epoch (most of which is the consumer's per-batch "
                   "work), so 0.9 is out of reach while in-memory data pays no decompression")
    where = ("on the GPU (in-memory data resident there; loader batches pinned, copied with non_blocking)"
             if device.type == "cuda" else "on the CPU")
    notes = [f"{args.events:,} events × 17 float32 features, batch {BATCH}, chunks of {CHUNK:,} events, "
             f"shuffle buffer {BUFFER:,} events, consumed {where}; ratio: source ÷ in-memory, best ÷ best and "
             f"median ÷ median of {args.repeats} interleaved epochs per source; CPU ratio: the same per CPU second "
             "(this process and its loader workers), the steadier measure on a shared machine.",
             "Target: loader ÷ in-memory ≥ 0.9. The loader reads, transforms and packs pieces in background threads "
             "(or worker processes, which hand each packed piece over in shared memory), one thread shuffles them "
             "through the buffer and cuts blocks of whole batches; the consumer only slices views off those blocks.",
             "In-memory costs one random gather of the whole epoch; the loader's floor is Zarr's read + zstd "
             "decompression of the same bytes, which in-memory data never pays (floor row, measured in the same "
             f"rounds): {floor_share}",
             "The machine is shared (see the load average): wall-clock ratios scatter; compare the CPU ratios."]
    name = args.name or ("loader" if device.type == "cpu" else f"loader_{device.type}")
    write_results(name, rows, ["source", "workers", "events/s (best)", "ratio best", "ratio median",
                               "events/CPU-s (best)", "CPU ratio best", "CPU ratio median"], notes,
                  extra={"wall_events_per_s": {str(k): v for k, v in wall.items()},
                         "cpu_events_per_s": {str(k): v for k, v in cpu.items()}})


if __name__ == "__main__":
    main()
