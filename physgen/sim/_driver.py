"""Running a simulator into a store: chunked, seeded per chunk, parallel, resumable.

Chunk ``i`` of a run with seed ``s`` always gets ``SeedSequence(s, spawn_key=(i,))``, so a
parallel run, a serial run and a resumed run give identical stores. Chunks are computed
on a ``dask.distributed`` cluster (a ``LocalCluster`` by default, or any scheduler
address) and committed to the store in order by this process, one atomic append each. The
run holds the store's writer lock, so a second writer is refused instead of interleaving.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

import numpy as np
import yaml

from physgen.errors import PhysgenError, StoreError, check_seed
from physgen.progress import event_progress
from physgen.sim._base import Simulator, get_simulator
from physgen.specs import LoadedSpec, parse_spec
from physgen.store import ResolvedDataset, create_store, normalise_url, read_provenance, resolve_dataset, store_lock

__all__ = ["simulate", "chunk_plan", "build_simulator", "default_workers"]


def chunk_plan(n_events: int, chunk_events: int, *, first: int = 0) -> Iterator[tuple[int, int]]:
    """``(chunk index, events)`` of chunks ``first, first + 1, …``: full chunks then one remainder.
    Lazy, so any event count plans in constant memory."""
    for index in range(first, -(-n_events // chunk_events)):
        yield index, min(chunk_events, n_events - index * chunk_events)


def default_workers(simulator: Simulator, chunks: int) -> int:
    """All cores (at most one per chunk) for simulators marked ``parallel_by_default``, else 1.

    Starting a local dask cluster costs seconds, worth it only for expensive simulators (Pythia)
    with more than one chunk to do.
    """
    if not simulator.parallel_by_default:
        return 1
    return max(1, min(os.cpu_count() or 1, chunks))


def build_simulator(dataset: ResolvedDataset) -> Simulator:
    return get_simulator(dataset.spec.producer.name)(dataset)


@lru_cache(maxsize=4)
def _worker_simulator(texts: tuple[tuple[str, str, str], ...]) -> Simulator:
    """Rebuild the simulator in a worker process from spec texts (cached: Pythia start-up is slow)."""
    loaded = {role: LoadedSpec(parse_spec(yaml.safe_load(text), source=source), text, source)
              for role, text, source in texts}
    return build_simulator(ResolvedDataset(loaded["dataset"], loaded.get("detector"), loaded.get("features")))


def _simulate_chunk(texts, n_events: int, seed: int, index: int) -> dict[str, np.ndarray]:
    return _worker_simulator(texts).simulate(n_events, np.random.SeedSequence(seed, spawn_key=(index,)))


def _spec_texts(dataset: ResolvedDataset) -> tuple[tuple[str, str, str], ...]:
    parts = (("dataset", dataset.dataset), ("detector", dataset.detector), ("features", dataset.features))
    return tuple((role, loaded.text, loaded.source) for role, loaded in parts if loaded is not None)


def _quiet_distributed_log() -> None:
    """Run on every worker before the cluster shuts down: its closing races are not logged (dask/distributed#7105)."""
    logging.getLogger("distributed").setLevel(logging.CRITICAL)


@contextmanager
def _client(workers: int, scheduler: str | None) -> Iterator[object]:
    """A dask client (a scheduler's, or a local cluster's); ``None`` for a serial run in this process.

    Chunks are submitted to it explicitly, so it is never made dask's default scheduler
    (``set_as_default=False``): a client that fails to connect would otherwise leave the global
    ``scheduler: dask.distributed`` setting behind, and every later ``compute`` in the process fails."""
    if workers == 1 and scheduler is None:
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler:
        try:  # the connect timeout is dask's distributed.comm.timeouts.connect (30 s by default)
            client = Client(scheduler, set_as_default=False)
        except (OSError, ValueError, TypeError) as exc:
            msg = f"cannot connect to the dask scheduler {scheduler!r}: {exc}"
            raise PhysgenError(msg) from None
        with client:
            yield client
        return
    distributed_log = logging.getLogger("distributed")
    level = distributed_log.level
    try:
        # the dashboard on a free port: None does not switch it off (distributed 2026.8), and two runs side by side
        # then warned that port 8787 was in use
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
                Client(cluster, set_as_default=False) as client:
            yield client
            # Every result is in. Shutting the cluster down races the workers' heartbeats and the nannies'
            # exit handlers, which then log CommClosedError / CancelledError tracebacks after a run that
            # succeeded (dask/distributed#7105): workers go first, and the shutdown is not logged.
            distributed_log.setLevel(logging.CRITICAL)
            client.run(_quiet_distributed_log)  # the worker processes log their heartbeats' failures themselves
            client.retire_workers(close_workers=True)
    finally:
        distributed_log.setLevel(level)


def simulate(
    dataset: str | LoadedSpec | ResolvedDataset,
    out: str | os.PathLike[str],
    *,
    events: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    mode: str = "create",
    progress: bool = True,
    lock: bool = True,
) -> str:
    """Simulate ``events`` events of ``dataset`` into the store ``out``; return its URL.

    ``mode``: ``"create"`` (fail if ``out`` exists), ``"overwrite"`` or ``"resume"``
    (continue an interrupted run with the same spec and seed). ``workers``: local worker processes;
    ``None`` chooses (:func:`default_workers`). The store is the same whatever the choice.
    ``lock=False`` skips the store's writer lock (``--no-lock``, for object stores nobody else writes).
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        msg = f"--workers must be a positive number of processes (1: in this process), got {workers!r}"
        raise PhysgenError(msg)
    if not isinstance(dataset, ResolvedDataset):
        dataset = resolve_dataset(dataset)
    simulator = build_simulator(dataset)  # validates options: fails before any write
    spec = dataset.spec
    n_events = events if events is not None else spec.events
    seed = check_seed(spec.seed if seed is None else seed)
    if n_events <= 0:
        msg = f"--events must be positive, got {n_events}"
        raise StoreError(msg)
    url = normalise_url(out)
    chunk = dataset.chunk_events
    with store_lock(url, enabled=lock):
        if workers is None:
            done = _committed_events(url) if mode == "resume" else 0
            workers = default_workers(simulator, len(range(-(-done // chunk), -(-n_events // chunk))))
        with _client(workers, scheduler) as client:  # connected before anything is written
            _simulate_into(url, dataset, simulator, n_events, seed, client, 2 * workers, mode, progress)
    return url


def _committed_events(url: str) -> int:
    """Events already in the store at ``url`` (0 if there is none yet, or it is not one: creating it says why)."""
    try:
        return int(read_provenance(url)["committed_events"])
    except StoreError:
        return 0


def _simulate_into(url: str, dataset: ResolvedDataset, simulator: Simulator, n_events: int, seed: int,
                   client: object | None, in_flight: int, mode: str, progress: bool) -> None:
    spec = dataset.spec
    chunk = dataset.chunk_events
    provenance = {"specs": dataset.spec_texts(), "producer": simulator.producer(), "seed": seed,
                  "requested_events": n_events}
    writer = create_store(url, dataset.schema, chunk_events=chunk, provenance=provenance, mode=mode,
                          compression=spec.compression)
    done = writer.committed_events
    todo = chunk_plan(n_events, chunk, first=-(-done // chunk))
    with event_progress(f"simulate {spec.name}", total=n_events, completed=min(done, n_events),
                        enabled=progress) as advance:
        if client is None:
            for i, n in todo:
                writer.append(simulator.simulate(n, np.random.SeedSequence(seed, spawn_key=(i,))))
                advance(n)
        else:
            _run_distributed(writer, _spec_texts(dataset), todo, seed, client, in_flight, advance)


def _run_distributed(writer, texts, todo, seed, client, in_flight_max, advance) -> None:
    from distributed import as_completed

    pending = iter(todo)
    in_flight = {}
    for i, n in itertools.islice(pending, in_flight_max):
        in_flight[client.submit(_simulate_chunk, texts, n, seed, i, pure=False)] = i
    ready: dict[int, dict[str, np.ndarray]] = {}
    next_index = min(in_flight.values(), default=0)
    futures = as_completed(list(in_flight), loop=client.loop)  # this client's loop: it is not the default one
    for future in futures:
        ready[in_flight.pop(future)] = future.result()
        while next_index in ready:  # commit strictly in chunk order
            batch = ready.pop(next_index)
            writer.append(batch)
            advance(len(next(iter(batch.values()))))
            next_index += 1
        following = next(pending, None)
        if following is not None:
            new = client.submit(_simulate_chunk, texts, following[1], seed, following[0], pure=False)
            in_flight[new] = following[0]
            futures.add(new)
