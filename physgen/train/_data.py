"""Streaming batches from a Zarr store into torch: lazy chunk reads, a shuffle buffer across
chunks, per-rank chunk sharding, worker processes that hand data over in shared memory, exact resume.

One epoch of rank ``r`` of ``world`` visits every ``world``-th of the store's event chunks (within
the training range) in an order drawn from ``(seed, epoch)``. Each chunk (or piece of one, see
:meth:`StreamPlan.pieces_for`) is read — all variables at once, with Zarr's asynchronous API —
transformed (smearing draws from ``default_rng((seed, epoch, rank, 0, 1, i))`` for piece ``i``) and
packed side by side into one ``(events, width)`` float32 block. With ``num_workers=0`` threads of
this process do that, ``READ_AHEAD`` pieces ahead; with worker processes each worker packs its
pieces straight into shared memory, so a piece crosses the process boundary as one file
descriptor, not as pickled data.

One shuffling thread then passes the pieces, in order, through a fixed shuffle buffer of
``buffer_events`` rows: as many random buffer rows as the piece has are taken out (one gather:
the next events to yield) and the piece's rows take their places (one scatter), drawn from
``default_rng((seed, epoch, rank, 0))``. It cuts its output into blocks of whole batches (allocated
in pinned memory when the batches go to CUDA); the consuming thread only slices those blocks, so a
batch is a view, one contiguous tensor, and the consumer never waits for reads or shuffles the
threads could do meanwhile. Each event is copied three times (pack, scatter, gather), memory is
bounded by the buffer, ``READ_AHEAD`` pieces and ``BLOCKS_AHEAD`` blocks whatever the store size.

A weighted store (biased generation: the events carry weights, ``plan.weight`` names them) is
streamed as the unweighted sample it stands for: each piece yields events drawn with replacement
with probability ∝ weight, as many per piece as a multinomial draw of the rank's events over its
pieces in proportion to their weight sums gives — together one multinomial draw of the rank's
event count from all its events ∝ weight (drawn from ``default_rng((seed, epoch, rank, 0, 2))`` and,
within piece ``i``, ``(…, 2, i)``), so every event is seen with frequency ∝ its weight and the
epoch keeps its number of batches. Sampling rather than weighting the loss is what a GAN needs:
the discriminator's real batches then come from the target distribution itself, so every loss
term (including batch-level ones: minibatch discrimination, gradient penalty, batch norm) sees the
physical sample; a per-event loss weight would only correct the terms linear in the real events.

With the loader's threads, a :class:`ReadCache` kept across epochs holds the decoded values of
every range read (before the transforms, so random transforms are drawn anew each epoch) until its
byte budget is spent: a store whose training events fit is read and decompressed once per run, not
once per epoch. That matters for per-event feature stores, whose chunks of 1000 events are 4 kB per
variable: reading one costs ≈ 50 µs (file read 28, Zstandard 21), i.e. ≈ 2.7 CPU-µs per Z→μμ event
of 17 features, an eighth of the compact Z→μμ GAN's training step per event.

The epoch is a deterministic function of the plan and ``epoch`` alone — the same batches in the
same order for any number of loader workers — so the data position saved in a checkpoint is
``(epoch, batches consumed)`` and resuming replays the epoch up to there without yielding. The
last partial batch of the epoch is dropped.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import zarr.api.asynchronous as zarr_async
from torch.utils.data import DataLoader, Dataset
from zarr.abc.codec import SupportsSyncCodec
from zarr.abc.store import SupportsGetSync
from zarr.core.buffer import default_buffer_prototype
from zarr.core.chunk_grids import RegularChunkGrid
from zarr.core.metadata import ArrayV3Metadata

from physgen.store._chunks import EVERY_CHUNK_WRITTEN, check_present, read_error
from physgen.store._url import open_root, zarr_store
from physgen.train._transforms import TransformSet

__all__ = ["BLOCKS_AHEAD", "READ_AHEAD", "ReadCache", "StoreStream", "StreamPlan", "make_loader"]

READ_AHEAD = 2
"""Pieces read and transformed ahead of the shuffle (per worker process when there are workers)."""
BLOCKS_AHEAD = 2
"""Shuffled blocks of whole batches queued for the consumer."""


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
    weight: str | None = None
    """the event-weight variable to draw events by (None: every event once per epoch)"""
    weight_sums: tuple[float, ...] = ()
    """with ``weight``: the weight sum of each event range of :meth:`ranges`, in that order"""

    @classmethod
    def pieces_for(cls, chunk_events: int, n_events: int, shards: int, batch_size: int) -> int:
        """Read size: the store's chunk, or an even fraction of it when a small store has fewer than
        four chunks per shard (rank × worker), so that every shard gets data."""
        n_chunks = -(-n_events // chunk_events)
        split = -(-4 * shards // n_chunks)
        return max(chunk_events // split, min(batch_size, chunk_events))

    def ranges(self) -> list[tuple[int, int]]:
        """The event ranges read one at a time (store chunks, or pieces of them, clipped to the range), in store order."""
        first = self.start // self.chunk_events * self.chunk_events
        return [(max(a, self.start), min(a + self.chunk_events, self.stop))
                for a in range(first, self.stop, self.chunk_events)]

    def chunks(self, epoch: int) -> list[tuple[int, int]]:
        """This rank's event ranges of ``epoch``, in visiting order."""
        edges = self.ranges()
        order = np.random.default_rng((self.seed, epoch)).permutation(len(edges))
        return [edges[i] for i in order][self.rank::self.world]

    def draws(self, epoch: int) -> list[int]:
        """Events to draw from each of this rank's ranges of ``epoch`` (in :meth:`chunks` order): the
        ranges' own sizes without weights, else a multinomial split of their total ∝ weight sums."""
        ranges = self.chunks(epoch)
        sizes = [b - a for a, b in ranges]
        if self.weight is None:
            return sizes
        by_range = dict(zip(self.ranges(), self.weight_sums, strict=True))
        sums = np.array([by_range[r] for r in ranges], dtype=np.float64)
        return np.random.default_rng((*self.stream_key(epoch), 2)).multinomial(sum(sizes), sums / sums.sum()).tolist()

    def stream_key(self, epoch: int) -> tuple[int, int, int, int]:
        """Seed of this rank's shuffle in ``epoch``; the last entry (0) keeps the epochs of earlier
        versions, whose loader ran one stream per worker, for the in-process loader."""
        return (self.seed, epoch, self.rank, 0)

    def batches_per_epoch(self, epoch: int, workers: int | None = None) -> int:
        """Full batches this rank yields in ``epoch`` (the same for any number of loader ``workers``)."""
        return sum(b - a for a, b in self.chunks(epoch)) // self.batch_size


class _ChunkDecoder:
    """Whole event chunks of one array through Zarr's synchronous store and codec protocols
    (``SupportsGetSync``, ``SupportsSyncCodec``): no event loop, no thread hand-off per chunk, about
    half the CPU time of Zarr's asynchronous read. :meth:`of` says whether an array allows it (a local
    or in-memory store, codecs with a synchronous path, chunks along ``event`` only)."""

    def __init__(self, array, url: str, name: str, check_missing: bool):
        self.array, self.meta = array, array.metadata
        self.url, self.name, self.check_missing = url, name, check_missing
        self.size = self.meta.chunk_grid.chunk_shape[0]
        self.spec = self.meta.get_chunk_spec((0,) * array.ndim, array.config, default_buffer_prototype())
        self.keys: dict[int, str] = {}

    @classmethod
    def of(cls, array, url: str, name: str, check_missing: bool) -> _ChunkDecoder | None:
        meta = array.metadata
        ok = (isinstance(meta, ArrayV3Metadata) and isinstance(array.store_path.store, SupportsGetSync)
              and isinstance(meta.chunk_grid, RegularChunkGrid) and meta.chunk_grid.chunk_shape[1:] == array.shape[1:]
              and all(isinstance(codec, SupportsSyncCodec) for codec in meta.codecs))
        return cls(array, url, name, check_missing) if ok else None

    def read(self, a: int, b: int) -> np.ndarray:
        out = np.empty((b - a, *self.array.shape[1:]), dtype=self.array.dtype)
        for chunk in range(a // self.size, (b - 1) // self.size + 1):
            lo, hi = max(a, chunk * self.size), min(b, (chunk + 1) * self.size)
            key = self.keys.get(chunk) or self.keys.setdefault(chunk, self.meta.encode_chunk_key((chunk,) + (0,) * (
                self.array.ndim - 1)))
            data = (self.array.store_path / key).get_sync(prototype=self.spec.prototype)
            if data is None:  # a chunk never written holds the fill value, unless the store writes every chunk
                if self.check_missing:
                    region = (slice(lo, hi), *(slice(0, n) for n in self.array.shape[1:]))
                    check_present(self.url, self.name, self.array, region)
                out[lo - a:hi - a] = self.meta.fill_value
                continue
            try:
                for codec in reversed(self.meta.codecs):
                    data = codec._decode_sync(data, self.spec)
            except Exception as exc:  # a damaged chunk: zstd, checksum or shape errors from the codecs
                raise read_error(self.url, self.name, f"events {lo}:{hi}", exc) from None
            out[lo - a:hi - a] = data.as_numpy_array()[lo - chunk * self.size:hi - chunk * self.size]
        return out


class _Reader:
    """Reads event ranges of all variables: chunk by chunk through :class:`_ChunkDecoder` in the calling
    thread where Zarr allows it, else all variables at once, concurrently, with Zarr's asynchronous
    API on an event loop of its own (remote stores). A damaged chunk is a
    :class:`~physgen.errors.StoreError` naming it, and so is a missing one in a store that writes
    every chunk (an all-zero range is checked against the chunks on disk, as
    :func:`physgen.store.open_store` does)."""

    def __init__(self, url: str, variables: tuple[str, ...]):
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="physgen-reader", daemon=True)
        self.thread.start()
        self.arrays = asyncio.run_coroutine_threadsafe(self._open(url, variables), self.loop).result()
        decoders = {v: _ChunkDecoder.of(array, url, v, self.check_missing) for v, array in self.arrays.items()}
        self.decoders = decoders if all(d is not None for d in decoders.values()) else None

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

    def read(self, a: int, b: int) -> dict[str, np.ndarray]:
        if self.decoders is not None:
            return {v: decoder.read(a, b) for v, decoder in self.decoders.items()}
        return asyncio.run_coroutine_threadsafe(self._read(a, b), self.loop).result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class ReadCache:
    """Decoded event ranges of one plan's store, kept across epochs until ``max_bytes`` are held.

    Keyed by the event range ``(a, b)``: a plan reads the same ranges every epoch, in another order.
    The arrays are made read-only, so a transform that worked in place would fail loudly instead of
    changing the next epoch's data. Shared by the loader's read-ahead threads (a lock guards it).
    ``shapes`` keeps the variables' per-event shapes, so that a cached epoch does not open the store.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes, self.nbytes = max_bytes, 0
        self.shapes: dict[str, tuple[int, ...]] | None = None
        self._ranges: dict[tuple[int, int], dict[str, np.ndarray]] = {}
        self._lock = threading.Lock()

    def get(self, a: int, b: int) -> dict[str, np.ndarray] | None:
        return self._ranges.get((a, b))

    def put(self, a: int, b: int, values: dict[str, np.ndarray]) -> None:
        size = sum(v.nbytes for v in values.values())
        with self._lock:
            if (a, b) in self._ranges or self.nbytes + size > self.max_bytes:
                return
            for v in values.values():
                v.flags.writeable = False
            self._ranges[a, b] = values
            self.nbytes += size


class _Pieces(Dataset):
    """The pieces of one rank's epoch by index, each read, transformed and packed as ``(events, width)``
    float32. A map-style dataset so that DataLoader worker processes can make them (each opens its
    own reader); ``shared`` packs straight into shared memory, which crosses to the parent as a handle;
    ``cache`` (threads only) serves ranges read in an earlier epoch."""

    def __init__(self, plan: StreamPlan, transforms: TransformSet, epoch: int, width: int, shared: bool,
                 cache: ReadCache | None = None):
        self.url, self.variables, self.transforms, self.width, self.shared, self.cache = (
            plan.url, plan.variables, transforms, width, shared, cache)
        self.ranges, self.draws = plan.chunks(epoch), plan.draws(epoch)
        self.key = plan.stream_key(epoch)
        self.weight = plan.weight
        self.read_variables = plan.variables + ((plan.weight,) if plan.weight and plan.weight not in plan.variables
                                                else ())
        self.reader: _Reader | None = None

    def __len__(self) -> int:
        return len(self.ranges)

    def __getitem__(self, i: int) -> torch.Tensor:
        a, b = self.ranges[i]
        values = self.cache.get(a, b) if self.cache is not None else None
        if values is None:
            if self.reader is None:  # opened in the process that reads (a worker has its own copy of self)
                self.reader = _Reader(self.url, self.read_variables)
            values = self.reader.read(a, b)
            if self.cache is not None:
                self.cache.put(a, b, values)
        n = b - a
        if self.weight is not None:  # draws ∝ weight, with replacement (see the module docstring)
            n, weights = self.draws[i], np.asarray(values[self.weight], dtype=np.float64)
            rows = (np.random.default_rng((*self.key, 2, i)).choice(b - a, n, p=weights / weights.sum()) if n
                    else np.empty(0, dtype=np.int64))  # a range of zero weight sum gets no draws
            values = {v: values[v][rows] for v in self.variables}
        packed = torch.empty((n, self.width), dtype=torch.float32)
        if self.shared:
            packed.share_memory_()
        data = self.transforms.forward(values, np.random.default_rng((*self.key, 1, i)))
        rows, column = packed.numpy(), 0
        for x in data.values():
            x = x.reshape(n, -1)
            rows[:, column:column + x.shape[1]] = x
            column += x.shape[1]
        return packed

    def in_threads(self) -> Iterator[torch.Tensor]:
        """All pieces in order, ``READ_AHEAD`` of them read and transformed ahead in threads."""
        try:
            with ThreadPoolExecutor(max_workers=READ_AHEAD, thread_name_prefix="physgen-piece") as pool:
                pending = deque(pool.submit(self.__getitem__, i) for i in range(min(READ_AHEAD, len(self))))
                for i in range(len(self)):
                    if i + READ_AHEAD < len(self):
                        pending.append(pool.submit(self.__getitem__, i + READ_AHEAD))
                    yield pending.popleft().result()
        finally:
            if self.reader is not None:
                self.reader.close()
                self.reader = None


def _as_records(rows: np.ndarray) -> np.ndarray:
    """A C-contiguous ``(n, width)`` array viewed as ``n`` opaque records: row gathers and scatters then
    move whole rows at once (about 1.5× faster than ``take(axis=0)`` on float columns)."""
    rows = np.ascontiguousarray(rows)
    return rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1])))[:, 0]


class _ShuffleBuffer:
    """A fixed buffer of ``capacity`` rows: :meth:`exchange` takes random rows out and puts new rows in.
    Output blocks come from ``allocate(rows, width)`` (torch tensors: pinned memory for CUDA)."""

    def __init__(self, capacity: int, rng: np.random.Generator, allocate):
        self.capacity, self.rng, self.allocate = capacity, rng, allocate
        self.rows: np.ndarray | None = None
        self.filled = 0

    def exchange(self, block: np.ndarray, carry: np.ndarray) -> torch.Tensor:
        """Put ``block`` in; return ``carry`` followed by as many rows as the buffer could not keep,
        drawn at random from the buffer (one gather into the output, one scatter of the block)."""
        if self.rows is None:
            self.rows = np.empty((self.capacity, block.shape[1]), dtype=np.float32)
        fill = min(len(block), self.capacity - self.filled)
        self.rows[self.filled:self.filled + fill] = block[:fill]
        self.filled += fill
        rest = block[fill:]
        out = self.allocate(len(carry) + len(rest), block.shape[1])
        values = out.numpy()
        values[:len(carry)] = carry
        done = len(carry)
        rows, new, taken = _as_records(self.rows), _as_records(rest), _as_records(values)
        for start in range(0, len(new), self.capacity):
            part = new[start:start + self.capacity]
            slots = self.rng.choice(self.capacity, len(part), replace=False)
            np.take(rows, slots, out=taken[done:done + len(part)])
            rows[slots] = part
            done += len(part)
        return out

    def drain(self, carry: np.ndarray) -> torch.Tensor:
        """``carry`` followed by everything left in the buffer, in random order."""
        order = self.rng.permutation(self.filled) if self.rows is not None else np.empty(0, dtype=np.int64)
        out = self.allocate(len(carry) + len(order), carry.shape[1])
        values = out.numpy()
        values[:len(carry)] = carry
        if len(order):
            np.take(_as_records(self.rows[:self.filled]), order, out=_as_records(values)[len(carry):])
        return out


_END = object()


class StoreStream:
    """Packed batches ``(batch, width)`` float32, transformed, of one epoch of a store, per :class:`StreamPlan`
    (variables side by side in ``plan.variables`` order; :func:`make_loader` unpacks them by name)."""

    def __init__(self, plan: StreamPlan, transforms: TransformSet, epoch: int, width: int, skip: int = 0,
                 num_workers: int = 0, pin_memory: bool = False, cache: ReadCache | None = None):
        self.plan, self.transforms, self.epoch, self.width, self.skip = plan, transforms, epoch, width, skip
        self.num_workers, self.pin_memory, self.cache = num_workers, pin_memory, cache

    def _allocate(self, rows: int, width: int) -> torch.Tensor:
        return torch.empty((rows, width), dtype=torch.float32, pin_memory=self.pin_memory)

    def _pieces(self) -> Iterator[torch.Tensor]:
        if self.num_workers == 0:
            return _Pieces(self.plan, self.transforms, self.epoch, self.width, False, self.cache).in_threads()
        pieces = _Pieces(self.plan, self.transforms, self.epoch, self.width, shared=True)
        # The generator keeps DataLoader from drawing worker seeds from the global torch RNG, which
        # the training step uses (a resumed run would diverge otherwise); the workers draw nothing.
        loader = DataLoader(pieces, batch_size=None, num_workers=min(self.num_workers, max(len(pieces), 1)),
                            prefetch_factor=READ_AHEAD, generator=torch.Generator().manual_seed(self.plan.seed))
        return iter(loader)

    def _shuffle(self, pieces: Iterator[torch.Tensor], blocks: queue.Queue, stop: threading.Event) -> None:
        """The shuffling thread: pieces → shuffle buffer → blocks of whole batches on ``blocks``."""

        def put(item) -> bool:
            while not stop.is_set():
                try:
                    blocks.put(item, timeout=0.05)
                    return True
                except queue.Full:
                    continue
            return False

        size = self.plan.batch_size
        try:
            buffer = _ShuffleBuffer(self.plan.buffer_events, np.random.default_rng(self.plan.stream_key(self.epoch)),
                                    self._allocate)
            carry = np.empty((0, self.width), dtype=np.float32)
            for piece in pieces:
                out = buffer.exchange(piece.numpy(), carry)
                whole = len(out) // size * size
                carry = out.numpy()[whole:]
                if whole and not put(out[:whole]):
                    return
            out = buffer.drain(carry)
            whole = len(out) // size * size
            if whole and not put(out[:whole]):
                return
            put(_END)
        except BaseException as error:  # noqa: BLE001 — handed to the consuming thread, which raises it
            put(error)
        finally:
            close = getattr(pieces, "close", None)  # the threads' generator (DataLoader iterators end themselves)
            if close is not None:
                close()

    def __iter__(self) -> Iterator[torch.Tensor]:
        pieces = self._pieces()  # worker processes start here, from the consuming thread
        blocks: queue.Queue = queue.Queue(maxsize=BLOCKS_AHEAD)
        stop = threading.Event()
        thread = threading.Thread(target=self._shuffle, args=(pieces, blocks, stop), name="physgen-shuffle",
                                  daemon=True)
        thread.start()
        size, skip = self.plan.batch_size, self.skip
        try:
            while (block := blocks.get()) is not _END:
                if isinstance(block, BaseException):
                    raise block
                n = len(block) // size
                for i in range(min(skip, n), n):
                    yield block[i * size:(i + 1) * size]
                skip = max(skip - n, 0)
        finally:
            stop.set()
            thread.join()


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
                pin_memory: bool = False, cache: ReadCache | None = None) -> _Unpacking:
    """An iterable over one epoch of ``plan`` starting after ``skip`` batches, yielding ``dict[name -> Tensor]``.

    ``num_workers`` processes read and transform pieces (worth it where cores are free and the reads
    or transforms are expensive); ``0`` uses threads of this process. The batches are the same either
    way. ``pin_memory`` allocates the batches in pinned memory (for ``.to("cuda", non_blocking=True)``).
    ``cache``: a :class:`ReadCache` of ``plan`` kept from epoch to epoch (used by the threads, not by
    worker processes); the batches are the same with or without it.
    """
    shapes = cache.shapes if cache is not None else None
    if shapes is None:
        group = open_root(plan.url, mode="r")
        shapes = {v: tuple(group[v].shape[1:]) for v in plan.variables}
        if cache is not None:
            cache.shapes = shapes
    width = sum(int(np.prod(s, dtype=np.int64)) for s in shapes.values())
    pin = pin_memory and torch.cuda.is_available()
    return _Unpacking(StoreStream(plan, transforms, epoch, width, skip, num_workers, pin, cache), shapes)
