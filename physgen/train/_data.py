"""Streaming batches from a Zarr store into torch: lazy chunk reads, a shuffle buffer across
chunks, per-worker (and per-rank) chunk sharding, exact resume.

One epoch visits the store's event chunks (within the training range) in an order drawn
from ``(seed, epoch)``; rank ``r`` of ``world`` takes every ``world``-th chunk, and data-loader
worker ``w`` of ``W`` every ``W``-th of those. Each worker keeps ``READ_AHEAD`` pieces in flight:
all variables of a piece are read concurrently with Zarr's asynchronous API, then a thread applies
the forward transforms and packs the variables side by side into one ``(events, width)`` float32
block. The block goes through a fixed shuffle buffer of ``buffer_events`` rows: as many random
buffer rows as the block has are taken out (one gather: the next events to yield) and the block's
rows take their places (one scatter). Each event is copied twice, memory is bounded by the buffer
and ``READ_AHEAD + 1`` pieces whatever the store size, and a batch is a contiguous row slice
handed over as one tensor. The shuffle draws from ``default_rng((seed, epoch, rank, w))`` and the
transforms (e.g. smearing) of piece ``i`` from ``default_rng((seed, epoch, rank, w, 1, i))``, so
the whole epoch is a deterministic function of those numbers: the data position saved in a
checkpoint is just ``(epoch, batches consumed)`` and resuming replays the epoch up to there
without yielding (see :func:`worker_skips`). The last partial batch of each worker is dropped.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import zarr.api.asynchronous as zarr_async
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from physgen.store._chunks import EVERY_CHUNK_WRITTEN, check_present, read_error
from physgen.store._url import open_root, zarr_store
from physgen.train._transforms import TransformSet

__all__ = ["READ_AHEAD", "StoreStream", "StreamPlan", "make_loader", "worker_skips"]

READ_AHEAD = 2
"""Pieces read (and transformed) in background threads while the current one is shuffled and batched."""


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


class _Reader:
    """Reads event ranges of all variables at once, concurrently, with Zarr's asynchronous API on an
    event loop of its own (a third faster than one synchronous read per variable). A damaged chunk
    is a :class:`~physgen.errors.StoreError` naming it, and so is a missing one (an all-zero range
    is checked against the chunks on disk, as :func:`physgen.store.open_store` does)."""

    def __init__(self, url: str, variables: tuple[str, ...]):
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="physgen-reader", daemon=True)
        self.thread.start()
        self.arrays = asyncio.run_coroutine_threadsafe(self._open(url, variables), self.loop).result()

    async def _open(self, url: str, variables: tuple[str, ...]) -> dict:
        group = await zarr_async.open_group(zarr_store(url, read_only=True), mode="r", use_consolidated=False)
        try:
            await group.getitem(EVERY_CHUNK_WRITTEN)
            self.check_missing = True
        except KeyError:
            self.check_missing = False
        return {v: await group.getitem(v) for v in variables}

    async def _read_one(self, name: str, array, a: int, b: int) -> np.ndarray:
        try:
            values = await array.getitem(slice(a, b))
        except Exception as exc:  # a damaged chunk: zstd, codec or shape errors from zarr
            raise read_error(self.url, name, f"events {a}:{b}", exc) from None
        if self.check_missing and values.size and not np.any(values):
            check_present(self.url, name, array, (slice(a, b), *(slice(0, n) for n in array.shape[1:])))
        return values

    async def _read(self, a: int, b: int) -> dict[str, np.ndarray]:
        values = await asyncio.gather(*(self._read_one(name, array, a, b) for name, array in self.arrays.items()))
        return dict(zip(self.arrays, values, strict=True))

    def read(self, a: int, b: int) -> Future:
        return asyncio.run_coroutine_threadsafe(self._read(a, b), self.loop)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


def _load(raw: Future, n: int, transforms: TransformSet, rng: np.random.Generator) -> np.ndarray:
    """A piece of ``n`` events, once read, transformed and packed as ``(events, width)`` float32 (in a thread)."""
    data = transforms.forward(raw.result(), rng)
    columns = [x.reshape(n, -1) for x in data.values()]
    packed = np.empty((n, sum(c.shape[1] for c in columns)), dtype=np.float32)
    edges = np.cumsum([0] + [c.shape[1] for c in columns])
    for column, lo, hi in zip(columns, edges[:-1], edges[1:], strict=True):
        packed[:, lo:hi] = column
    return packed


def _as_records(rows: np.ndarray) -> np.ndarray:
    """A C-contiguous ``(n, width)`` array viewed as ``n`` opaque records: row gathers and scatters then
    move whole rows at once (about 1.5× faster than ``take(axis=0)`` on float columns)."""
    rows = np.ascontiguousarray(rows)
    return rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1])))[:, 0]


class _ShuffleBuffer:
    """A fixed buffer of ``capacity`` rows: :meth:`exchange` takes random rows out and puts new rows in."""

    def __init__(self, capacity: int, rng: np.random.Generator):
        self.capacity, self.rng = capacity, rng
        self.rows: np.ndarray | None = None
        self.filled = 0

    def exchange(self, block: np.ndarray, carry: np.ndarray) -> np.ndarray:
        """Put ``block`` in; return ``carry`` followed by as many rows as the buffer could not keep,
        drawn at random from the buffer (one gather into the output, one scatter of the block)."""
        if self.rows is None:
            self.rows = np.empty((self.capacity, block.shape[1]), dtype=block.dtype)
        fill = min(len(block), self.capacity - self.filled)
        self.rows[self.filled:self.filled + fill] = block[:fill]
        self.filled += fill
        rest = block[fill:]
        out = np.empty((len(carry) + len(rest), block.shape[1]), dtype=block.dtype)
        out[:len(carry)] = carry
        done = len(carry)
        rows, new, taken = _as_records(self.rows), _as_records(rest), _as_records(out)
        for start in range(0, len(new), self.capacity):
            part = new[start:start + self.capacity]
            slots = self.rng.choice(self.capacity, len(part), replace=False)
            np.take(rows, slots, out=taken[done:done + len(part)])
            rows[slots] = part
            done += len(part)
        return out

    def drain(self, carry: np.ndarray) -> np.ndarray:
        """``carry`` followed by everything left in the buffer, in random order."""
        if self.rows is None:
            return carry
        left = self.rows[:self.filled][self.rng.permutation(self.filled)]
        return np.concatenate([carry, left]) if len(carry) else left


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
        key = (plan.seed, self.epoch, plan.rank, worker)
        buffer = _ShuffleBuffer(plan.buffer_events, np.random.default_rng(key))
        ranges = plan.chunks(self.epoch)[worker::workers]
        reader = _Reader(plan.url, plan.variables)

        def load(i: int) -> Future:
            a, b = ranges[i]
            rng = np.random.default_rng((*key, 1, i))
            return transformer.submit(_load, reader.read(a, b), b - a, self.transforms, rng)

        carry = np.empty((0, 0), dtype=np.float32)
        try:
            with ThreadPoolExecutor(max_workers=READ_AHEAD) as transformer:  # the next pieces, meanwhile
                pending = [load(i) for i in range(min(READ_AHEAD, len(ranges)))]
                for i in range(len(ranges)):
                    if i + READ_AHEAD < len(ranges):
                        pending.append(load(i + READ_AHEAD))
                    block = pending.pop(0).result()
                    out = buffer.exchange(block, carry if len(carry) else carry.reshape(0, block.shape[1]))
                    carry, skip = yield from self._batches(out, skip)
        finally:
            reader.close()
        yield from self._batches(buffer.drain(carry), skip)

    def _batches(self, rows: np.ndarray, skip: int):
        """Yield the full batches of ``rows`` (dropping the first ``skip``); return the rest and the skips left."""
        size = self.plan.batch_size
        n = len(rows) // size
        for i in range(skip, n):
            yield torch.from_numpy(rows[i * size:(i + 1) * size])
        return rows[n * size:], max(skip - n, 0)


class _Unpacking:
    """Iterates packed batches, yielding ``dict[variable -> Tensor]`` views."""

    def __init__(self, batches, shapes: dict[str, tuple[int, ...]]):
        self.batches, self.shapes = batches, shapes
        self.widths = [int(np.prod(s, dtype=np.int64)) for s in shapes.values()]
        self.scalars = all(s == () for s in shapes.values())

    def __iter__(self):
        names = list(self.shapes)
        for packed in self.batches:
            if self.scalars:  # one call for per-event features
                yield dict(zip(names, packed.unbind(1), strict=True))
                continue
            parts = torch.split(packed, self.widths, dim=1)
            yield {v: p.reshape(len(packed), *shape) for (v, shape), p in zip(self.shapes.items(), parts, strict=True)}


def make_loader(plan: StreamPlan, transforms: TransformSet, epoch: int, *, skip: int = 0, num_workers: int = 0,
                pin_memory: bool = False) -> _Unpacking:
    """An iterable over one epoch of ``plan`` starting after ``skip`` batches, yielding ``dict[name -> Tensor]``.

    With ``num_workers=0`` and no pinning (the CPU default) the stream is iterated directly: its
    read-ahead threads do what worker processes would, without an inter-process copy per batch.
    Otherwise the DataLoader gets its own torch generator: creating it must not draw from the global
    torch RNG, which the training step uses (otherwise a resumed run would diverge).
    """
    group = open_root(plan.url, mode="r")
    shapes = {v: tuple(group[v].shape[1:]) for v in plan.variables}
    stream = StoreStream(plan, transforms, epoch, skip)
    if num_workers == 0 and not pin_memory:  # in-process: the stream's read-ahead thread is all it needs
        return _Unpacking(stream, shapes)
    loader = DataLoader(stream, batch_size=None, num_workers=num_workers,
                        pin_memory=pin_memory, prefetch_factor=4 if num_workers else None,
                        generator=torch.Generator().manual_seed(plan.seed))
    return _Unpacking(loader, shapes)
