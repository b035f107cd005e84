"""One writer per store: a lock held for the whole of a writing command.

Local stores are locked with an operating-system file lock (:mod:`filelock`: ``flock`` on Unix)
on the hidden file ``.NAME.lock`` next to the store ``NAME``, outside it, so ``--overwrite`` can
delete the store while holding the lock. The kernel releases the lock when its holder dies, so
a writer killed with ``kill -9`` never blocks the next run. Next to the lock, ``.NAME.lock.json``
names the holder (pid, host, command, since when) for the refusal message a second writer gets;
a record still there when the lock is free was left by a holder that died: it is replaced and
the recovery logged. ``memory://`` stores live inside one process and get an in-process lock.
Object stores (``s3://``, ``gs://`` …) have no locks: writing them is refused unless the caller
passes ``lock=False`` (``--no-lock``), promising that nobody else writes the store meanwhile.

The lock is re-entrant within a thread (``reweight`` holds it and ``add_variable`` takes it
again), and it serialises writers only: readers never take it, they see committed events.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock

from physgen.errors import StoreError, StoreLockedError
from physgen.store._url import is_local, local_path, normalise_url

__all__ = ["holds_lock", "lock_paths", "store_lock"]

log = logging.getLogger("physgen")


@dataclass
class _Held:
    thread: int
    lock: filelock.BaseFileLock | None
    record: Path | None
    depth: int = 1
    recovered: dict[str, Any] | None = field(default=None)


_HELD: dict[str, _Held] = {}
_REGISTRY = threading.Lock()


def lock_paths(url: str) -> tuple[Path, Path]:
    """The lock file and the holder record of the local store ``url``."""
    path = local_path(url)
    return path.with_name(f".{path.name}.lock"), path.with_name(f".{path.name}.lock.json")


def holds_lock(url: str) -> bool:
    """Whether this thread holds the lock of ``url`` (writers clean up only under the lock)."""
    held = _HELD.get(normalise_url(url))
    return held is not None and held.thread == threading.get_ident()


def _command() -> str:
    args = [Path(sys.argv[0]).name if sys.argv else "python", *sys.argv[1:]]
    text = " ".join(args)
    return text if len(text) <= 200 else text[:197] + "..."


def _holder_record() -> dict[str, Any]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "command": _command(),
            "since": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")}


def _describe(record: dict[str, Any] | None) -> str:
    if not record:
        return "another process (it has not written its holder record)"
    return (f"pid {record.get('pid')} on {record.get('host')} (`{record.get('command')}`, "
            f"since {record.get('since')})")


def _read_record(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _write_record(path: Path, record: dict[str, Any]) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


def _refuse(url: str, record: dict[str, Any] | None, lock_file: Path | None, kind: str) -> StoreLockedError:
    where = f"; lock file {lock_file}" if lock_file else ""
    msg = (f"{kind} {url!r} is being written by {_describe(record)}; wait for it to finish or stop it "
           f"(a stopped simulate/import/generate/train continues with --resume){where}")
    return StoreLockedError(msg)


def _acquire(url: str, kind: str) -> _Held:
    thread = threading.get_ident()
    if not is_local(url):
        if url.startswith("memory://"):  # one process sees a memory:// store: the registry is the lock
            return _Held(thread, None, None)
        protocol = url.split("://", 1)[0]
        msg = (f"cannot lock {url!r}: {protocol}:// object stores have no locks, so physgen cannot keep a second "
               f"writer out; if no other process writes this store, pass --no-lock (lock=False)")
        raise StoreError(msg)
    lock_file, record_file = lock_paths(url)
    try:
        lock_file.parent.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(lock_file)
        lock.acquire(timeout=0)
    except filelock.Timeout:
        raise _refuse(url, _read_record(record_file), lock_file, kind) from None
    except OSError as exc:
        msg = f"cannot lock {url!r} for writing: {exc.strerror or exc} ({lock_file})"
        raise StoreError(msg) from None
    stale = _read_record(record_file) if record_file.exists() else None
    try:
        _write_record(record_file, _holder_record())
    except OSError as exc:
        lock.release()
        msg = f"cannot lock {url!r} for writing: {exc.strerror or exc} ({record_file})"
        raise StoreError(msg) from None
    if stale is not None:
        log.warning("recovered the lock of %s: its holder, %s, ended without releasing it (killed?); "
                    "what it committed is intact", url, _describe(stale))
    return _Held(thread, lock, record_file, recovered=stale or None)


def _release(held: _Held) -> None:
    if held.record is not None:
        held.record.unlink(missing_ok=True)
    if held.lock is not None:
        held.lock.release()


@contextmanager
def store_lock(url: str | os.PathLike[str], *, enabled: bool = True,
               kind: str = "store") -> Iterator[dict[str, Any] | None]:
    """Hold the writer lock of the store at ``url`` for the block; yield the record of a stale holder
    recovered on the way (``None`` usually).

    A second writer (another process, or another thread of this one) gets :class:`StoreLockedError`
    naming the holder. ``enabled=False`` skips locking (``--no-lock``), e.g. for object stores.
    ``kind`` names what is locked in that message (training locks its ``run directory`` the same way).
    """
    url = normalise_url(url)
    if not enabled:
        yield None
        return
    with _REGISTRY:
        held = _HELD.get(url)
        if held is not None and held.thread == threading.get_ident():
            held.depth += 1
            nested = True
        elif held is not None:
            raise _refuse(url, _holder_record() | {"command": f"{_command()} (another thread)"}, None, kind)
        else:
            nested = False
    if not nested:
        held = _acquire(url, kind)
        with _REGISTRY:
            _HELD[url] = held
    try:
        yield held.recovered
    finally:
        with _REGISTRY:
            held.depth -= 1
            done = held.depth == 0
            if done:
                del _HELD[url]
        if done:
            _release(held)
