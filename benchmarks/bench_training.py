"""Training throughput of every shipped generative model spec at its paper batch size: steps/s and
samples/s with batches streamed from a store ÷ the same loop on in-memory tensors (target ≥ 0.9),
and what torch intra-op threads, bf16 autocast and ``torch.compile`` change.

For each model spec (every ``specs/models`` spec whose architecture is a registered generative
recipe, or ``--models``) a synthetic store of the spec's dataset schema is written
(``physgen.testing``; speed does not depend on the physics), the recipe is built as
``physgen train`` builds it, and ``recipe.training_step`` is timed on

* **store**: batches from :func:`physgen.train.make_loader` (lazy reads, transforms, shuffle buffer,
  the read cache of ``training.options.read_cache_mib``), what ``physgen train`` feeds the recipe;
* **memory**: the same events, transformed once, resident as tensors, shuffled once and sliced.

Configurations: threads 1 and 2 (fp32), bf16 autocast (threads 1), and with ``--compile`` the
networks compiled by ``torch.compile`` (compile time reported apart). All configurations of a
model are timed in turn, ``--repeats`` rounds of ``steps`` steps each after warm-up steps, so that
they see the same load of a shared machine; per wall second and per CPU second. Steps per
configuration are chosen from a first step so that each round takes about ``--seconds``.

    python benchmarks/bench_training.py [--models NAME ...] [--seconds 3] [--repeats 3] [--compile]
        [--device cpu|cuda] [--events N]

Writes ``benchmarks/results/training[_cuda].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _benchio import cpu_seconds, write_results  # noqa: E402

from physgen.models import DataDescription, VariableInfo, architecture_names, get_architecture  # noqa: E402
from physgen.specs import ModelSpec, SpecRegistry, TrainingOptions  # noqa: E402
from physgen.store import open_store, resolve_dataset  # noqa: E402
from physgen.testing._observable_strategies import make_store  # noqa: E402
from physgen.train import ReadCache, StreamPlan, TransformSet, make_loader  # noqa: E402

CONFIGS = {  # name: (source, threads, bf16, compiled)
    "store": ("store", 1, False, False),
    "memory": ("memory", 1, False, False),
    "store 2 threads": ("store", 2, False, False),
    "memory 2 threads": ("memory", 2, False, False),
    "memory bf16": ("memory", 1, True, False),
    "memory compiled": ("memory", 1, False, True),
}


def shipped_models() -> list[str]:
    """Every shipped model spec with a registered generative architecture and a dataset (one per line
    of ``specs/models``; a new spec is picked up without a code change)."""
    registry, known = SpecRegistry.default(), set(architecture_names())
    names = []
    for kind, name in registry.names("model"):
        spec = registry.get(kind, name).spec
        if spec.architecture in known and getattr(spec, "dataset", None):
            names.append(name)
    return sorted(names)


class Model:
    """A model spec, its synthetic store, the recipe factory and both batch sources."""

    def __init__(self, name: str, folder: Path, events: int | None, device: torch.device):
        self.name, self.device = name, device
        self.spec: ModelSpec = SpecRegistry.default().get("model", name).spec
        self.batch = self.spec.training.batch_size
        dataset = resolve_dataset(self.spec.dataset)
        self.events = events or max(16 * self.batch, 4096)
        self.url = str(folder / f"{name}.zarr")
        chunk = int(dataset.spec.chunk_events or 1024) if hasattr(dataset.spec, "chunk_events") else 1024
        self.chunk = max(min(chunk, self.events // 8), self.batch)
        make_store(self.url, detector=dataset.detector.spec.name if dataset.detector else None,
                   features=dataset.features.spec.name if dataset.features else None, n_events=self.events,
                   seed=0, chunk_events=self.chunk)
        self.ds = open_store(self.url)
        data = self.spec.data
        self.names = list(dict.fromkeys(data.inputs + data.conditions + data.labels))
        self.transforms = TransformSet(data.transforms)
        self.transforms.fit(self.ds, self.events)
        self.description = DataDescription(
            {n: VariableInfo(tuple(self.ds[n].shape[1:]), tuple(self.ds[n].dims[1:]), self.ds[n].attrs.get("units", ""),
                             str(self.ds[n].dtype)) for n in self.names},
            list(data.inputs), list(data.conditions), list(data.labels), inverse=self.transforms.inverse,
            reference=self.ds)
        raw = {n: self.ds[n].values for n in self.names}
        forward = self.transforms.forward(raw, np.random.default_rng(0))
        order = torch.randperm(self.events, generator=torch.Generator().manual_seed(0))
        self.memory = {n: torch.from_numpy(np.ascontiguousarray(v))[order].to(device) for n, v in forward.items()}
        self.plan = StreamPlan(self.url, tuple(self.names), 0, self.events, self.chunk, self.batch,
                               max(16 * self.batch, 65_536), seed=0)
        self.cache = ReadCache(TrainingOptions().read_cache_mib * 2**20)  # as physgen train's StoreData
        self.epoch, self.stream = 0, None

    def recipe(self, compiled: bool):
        torch.manual_seed(0)
        recipe = get_architecture(self.spec.architecture)(self.spec, self.description)
        recipe.networks.to(self.device)
        recipe.configure_optimizers()
        recipe.networks.train()
        if compiled:
            for net in recipe.networks.values():
                net.compile()
        return recipe

    def memory_batches(self):
        while True:
            for start in range(0, self.events - self.batch + 1, self.batch):
                yield {n: v[start:start + self.batch] for n, v in self.memory.items()}

    def store_batches(self):
        while True:
            loader = make_loader(self.plan, self.transforms, self.epoch, pin_memory=self.device.type == "cuda",
                                 cache=self.cache)
            self.epoch += 1
            for batch in loader:
                yield {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_steps(recipe, batches, steps: int, precision, device, limit: float = float("inf")) -> tuple[int, float, float]:
    """Steps done, wall and CPU seconds of up to ``steps`` training steps (batches drawn inside the
    timing), stopping early after ``limit`` wall seconds (a machine that got much busier)."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    done = 0
    while done < steps and time.perf_counter() - wall < limit:
        with precision():
            recipe.training_step(next(batches), done)
        done += 1
        _sync(device)
    return done, time.perf_counter() - wall, cpu_seconds() - cpu


def bench_model(name: str, args, folder: Path, device: torch.device) -> list[dict]:
    model = Model(name, folder, args.events, device)
    configs = {k: v for k, v in CONFIGS.items() if (args.compile or not v[3]) and (not args.configs or k in args.configs)}
    if device.type == "cuda":  # threads do not matter there; bf16 autocast is the loop's default on CUDA
        configs = {k: v for k, v in configs.items() if v[1] == 1 and not v[2]}
    state = {}
    for config, (source, threads, bf16, compiled) in configs.items():
        torch.set_num_threads(threads)
        start = time.perf_counter()
        recipe = model.recipe(compiled)
        batches = model.store_batches() if source == "store" else model.memory_batches()
        precision = ((lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 or device.type == "cuda"
                     else contextlib.nullcontext)
        try:
            _, one, _ = run_steps(recipe, batches, 1, precision, device)  # warm-up (and compilation)
            if one < args.seconds:  # a second step, without first-call costs, sizes the rounds
                _, one, _ = run_steps(recipe, batches, 1, precision, device)
        except Exception as exc:  # noqa: BLE001 — bf16/compile support varies by op and torch version
            print(f"{name:28s} {config:18s} failed: {type(exc).__name__}: {exc}"[:300], flush=True)
            continue
        steps = int(np.clip(args.seconds / max(one, 1e-6), 1, args.max_steps))
        state[config] = {"recipe": recipe, "batches": batches, "precision": precision, "threads": threads,
                         "steps": steps, "wall": [], "cpu": [], "setup_s": time.perf_counter() - start}
    for _ in range(args.repeats):  # rounds over the configurations: all see the same load
        for config, s in state.items():
            torch.set_num_threads(s["threads"])
            done, wall, cpu = run_steps(s["recipe"], s["batches"], s["steps"], s["precision"], device,
                                        limit=3 * args.seconds)
            s["wall"].append(done / wall)
            s["cpu"].append(done / cpu)
            s["done"] = s.get("done", 0) + done
    rows = []
    memory = state.get("memory")
    for config, s in state.items():
        best, median = max(s["wall"]), float(np.median(s["wall"]))
        row = {"model": name, "batch": model.batch, "config": config, "steps/s": f"{best:.2f}",
               "samples/s": f"{best * model.batch:,.0f}", "steps/CPU-s": f"{max(s['cpu']):.2f}",
               "÷ memory (best, median)": "", "÷ memory CPU": "", "steps timed": s["done"]}
        reference = {"store": "memory", "store 2 threads": "memory 2 threads"}.get(config)
        if reference in state:
            ref = state[reference]
            row["÷ memory (best, median)"] = f"{best / max(ref['wall']):.2f}, {median / np.median(ref['wall']):.2f}"
            row["÷ memory CPU"] = f"{max(s['cpu']) / max(ref['cpu']):.2f}"
        elif memory is not None and config.startswith("memory "):
            row["÷ memory (best, median)"] = (f"{best / max(memory['wall']):.2f}, "
                                             f"{median / np.median(memory['wall']):.2f} (vs fp32 1 thread)")
            row["÷ memory CPU"] = f"{max(s['cpu']) / max(memory['cpu']):.2f}"
        if config == "memory compiled":
            row["compile s"] = f"{s['setup_s']:.0f}"
        rows.append(row)
        print(" | ".join(str(v) for v in row.values()), flush=True)
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=None, help="model spec names (default: every shipped GAN spec)")
    p.add_argument("--seconds", type=float, default=3.0, help="target wall seconds per timed round")
    p.add_argument("--max-steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--events", type=int, default=None, help="events in each synthetic store (default 16 batches)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile'd networks (slow to compile)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--configs", nargs="+", default=None, choices=list(CONFIGS), help="configurations (default all)")
    p.add_argument("--name", default=None, help="result name (default training, training_cuda on a GPU)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    threads_note = None
    if args.configs is None and device.type == "cpu" and load > cores - 1:
        # a second intra-op thread needs a free core; without one it measures the other processes' share
        args.configs = [k for k, v in CONFIGS.items() if v[1] == 1]
        threads_note = (f"2 threads not measured: the 1-minute load average was {load:.1f} on {cores} cores at the "
                        "start, so no core was free for a second thread and its rate would measure the other "
                        "processes, not torch (run with --configs to force it, or on an idle machine).")
    models = args.models or shipped_models()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in models:
            rows += bench_model(name, args, Path(tmp), device)
    columns = ["model", "batch", "config", "steps/s", "samples/s", "steps/CPU-s", "÷ memory (best, median)",
               "÷ memory CPU", "steps timed"]
    notes = [f"device {device}; synthetic stores of each spec's dataset schema (physgen.testing), the spec's batch "
             "size, untrained networks; `recipe.training_step` timed after two warm-up steps, configurations in "
             f"turn over {args.repeats} rounds; best of the rounds (÷ memory: best ÷ best and median ÷ median).",
             "store: batches from physgen.train.make_loader with the read cache (what `physgen train` feeds the recipe); memory: the "
             "same events transformed once and resident as tensors, sliced. Target: store ÷ memory ≥ 0.9.",
             "bf16: torch.autocast(bfloat16) around the step; compiled: each network's `torch.compile` "
             "(compile time not in the rates).",
             "The machine is shared (see the load average): compare ratios within a model, and prefer the CPU "
             "ratios (steps per CPU second of this process)."]
    if threads_note:
        notes.append(threads_note)
    if device.type == "cuda":
        notes.append("on CUDA every configuration runs under bf16 autocast, as `physgen train` does there")
    if any("compile s" in r for r in rows):
        columns.append("compile s")
        for r in rows:
            r.setdefault("compile s", "")
    write_results(args.name or ("training" if device.type == "cpu" else f"training_{device.type}"), rows, columns,
                  notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
