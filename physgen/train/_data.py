"""Streaming batches from a Zarr store into torch: lazy chunk reads, a shuffle buffer across
chunks, per-worker (and per-rank) chunk sharding, exact resume.

One epoch visits the store's event chunks (within the training range) in an order drawn
from ``(seed, epoch)``; rank ``r`` of ``world`` takes every ``world``-th chunk, and data-loader
worker ``w`` of ``W`` every ``W``-th of those. Each worker reads one chunk at a time, applies
the forward transforms, and keeps at most ``buffer_events`` events in a shuffle buffer, so
memory is bounded by the buffer and one chunk whatever the store size. Its random stream is
``default_rng((seed, epoch, rank, w))``, so the whole epoch is a deterministic function of
those numbers: the data position saved in a checkpoint is just ``(epoch, batches consumed)``
and resuming replays the epoch up to there without yielding (see :func:`worker_skips`).
The last partial batch of each worker is dropped.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from physgen.store._url import open_root
from physgen.train._transforms import TransformSet

__all__ = ["StreamPlan", "StoreStream", "make_loader", "worker_skips"]


@dataclass(frozen=True)
class StreamPlan:
    """Everything a worker needs to stream its share of one epoch (picklable)."""

    url: str
    variables: tuple[str, ...]
    start: int
    stop: int
    chunk_events: int
    """events per read: the store's chunk size or a fraction of it (see :meth:`pieces_for`)"""
    batch_size: int
    buffer_events: int
    seed: int
    rank: int = 0
    world: int = 1

    @classmethod
    def pieces_for(cls, chunk_events: int, n_events: int, shards: int, batch_size: int) -> int:
        """Read size: the store's chunk, or an even fraction of it when a small store has fewer than
        four chunks per shard (rank × worker), so that every shard gets data."""
        n_chunks = -(-n_events // chunk_events)
        split = -(-4 * shards // n_chunks)
        return max(chunk_events // split, min(batch_size, chunk_events))

    def chunks(self, epoch: int) -> list[tuple[int, int]]:
        """This rank's event ranges of ``epoch``, in visiting order (store chunks clipped to the range)."""
        first = self.start // self.chunk_events * self.chunk_events
        edges = [(max(a, self.start), min(a + self.chunk_events, self.stop))
                 for a in range(first, self.stop, self.chunk_events)]
        order = np.random.default_rng((self.seed, epoch)).permutation(len(edges))
        return [edges[i] for i in order][self.rank::self.world]

    def worker_batches(self, epoch: int, workers: int) -> list[int]:
        """Full batches each of ``workers`` data-loader workers yields in ``epoch`` (partial batch dropped)."""
        mine = self.chunks(epoch)
        return [sum(b - a for a, b in mine[w::workers]) // self.batch_size for w in range(workers)]

    def batches_per_epoch(self, epoch: int, workers: int) -> int:
        return sum(self.worker_batches(epoch, workers))


def worker_skips(counts: list[int], skip: int) -> tuple[list[int], int]:
    """Batches each worker must drop so that the loader resumes after its first ``skip`` batches,
    and the worker whose batch comes next.

    torch's DataLoader returns worker batches round-robin in worker order (``in_order``),
    passing over exhausted workers; worker ``w`` yields ``counts[w]`` batches. A resumed
    loader starts its cycle at its worker 0, so worker ids are rotated to start at the next one.
    """
    order = [w for round_ in range(max(counts, default=0)) for w, count in enumerate(counts) if count > round_]
    skips = [0] * len(counts)
    for w in order[:skip]:
        skips[w] += 1
    return skips, order[skip] if skip < len(order) else 0


def _read(arrays: dict, a: int, b: int) -> dict[str, np.ndarray]:
    return {v: arr[a:b] for v, arr in arrays.items()}


class StoreStream(IterableDataset):
    """Packed batches ``(batch, width)`` float32, transformed, of one epoch of a store, per :class:`StreamPlan`
    (variables side by side in ``plan.variables`` order; :func:`make_loader` unpacks them by name)."""

    def __init__(self, plan: StreamPlan, transforms: TransformSet, epoch: int, skip: int = 0):
        super().__init__()
        self.plan, self.transforms, self.epoch, self.skip = plan, transforms, epoch, skip

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        plan = self.plan
        skips, first = worker_skips(plan.worker_batches(self.epoch, workers), self.skip)
        worker = (worker + first) % workers
        skip = skips[worker]
        rng = np.random.default_rng((plan.seed, self.epoch, plan.rank, worker))
        group = open_root(plan.url, mode="r")
        arrays = {v: group[v] for v in plan.variables}
        buffer = np.empty((0, 0), dtype=np.float32)
        ranges = plan.chunks(self.epoch)[worker::workers]
        with ThreadPoolExecutor(max_workers=1) as reader:  # read the next piece while this one is used
            pending = [reader.submit(_read, arrays, a, b) for a, b in ranges[:1]]
            for i, (a, b) in enumerate(ranges):
                if i + 1 < len(ranges):
                    pending.append(reader.submit(_read, arrays, *ranges[i + 1]))
                buffer, skip = yield from self._add(buffer, pending.pop(0).result(), rng, skip)
        yield from self._emit(buffer, rng, len(buffer) // plan.batch_size, skip)

    def _add(self, buffer: np.ndarray, raw: dict[str, np.ndarray], rng: np.random.Generator, skip: int):
        """Transform a piece, append it to the buffer, and emit batches once the buffer is full."""
        plan = self.plan
        data = self.transforms.forward(raw, rng)
        n = len(data[plan.variables[0]])
        packed = np.concatenate([data[v].reshape(n, -1) for v in plan.variables], axis=1)
        buffer = packed if not len(buffer) else np.concatenate([buffer, packed])
        if len(buffer) >= plan.buffer_events:
            keep = plan.buffer_events // 2
            buffer, skip = yield from self._emit(buffer, rng, (len(buffer) - keep) // plan.batch_size, skip)
        return buffer, skip

    def _emit(self, buffer: np.ndarray, rng: np.random.Generator, n_batches: int, skip: int):
        """Shuffle the buffer, yield ``n_batches`` from its front (dropping the first ``skip``); return the rest.

        The buffer holds the variables side by side, ``(events, width)``: a batch is a contiguous
        row slice, one array to hand over from a worker process.
        """
        buffer = buffer[rng.permutation(len(buffer))]
        size = self.plan.batch_size
        for i in range(skip, n_batches):
            yield torch.from_numpy(buffer[i * size:(i + 1) * size])
        return buffer[n_batches * size:], max(skip - n_batches, 0)


class _Unpacking:
    """Iterates a DataLoader of packed batches, yielding ``dict[variable -> Tensor]`` views."""

    def __init__(self, loader: DataLoader, shapes: dict[str, tuple[int, ...]]):
        self.loader, self.shapes = loader, shapes
        self.widths = [int(np.prod(s, dtype=np.int64)) for s in shapes.values()]

    def __iter__(self):
        for packed in self.loader:
            parts = torch.split(packed, self.widths, dim=1)
            yield {v: p.reshape(len(packed), *shape) for (v, shape), p in zip(self.shapes.items(), parts, strict=True)}


def make_loader(plan: StreamPlan, transforms: TransformSet, epoch: int, *, skip: int = 0, num_workers: int = 0,
                pin_memory: bool = False) -> _Unpacking:
    """An iterable over one epoch of ``plan`` starting after ``skip`` batches, yielding ``dict[name -> Tensor]``.

    The DataLoader gets its own torch generator: creating it must not draw from the global torch
    RNG, which the training step uses (otherwise a resumed run would diverge).
    """
    group = open_root(plan.url, mode="r")
    shapes = {v: tuple(group[v].shape[1:]) for v in plan.variables}
    loader = DataLoader(StoreStream(plan, transforms, epoch, skip), batch_size=None, num_workers=num_workers,
                        pin_memory=pin_memory, prefetch_factor=4 if num_workers else None,
                        generator=torch.Generator().manual_seed(plan.seed))
    return _Unpacking(loader, shapes)
