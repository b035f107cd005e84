"""Helpers of the reliability tests: byte-level store comparison, file-tree digests, killed CLI runs."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

KILL_AT = Path(__file__).with_name("_kill_at.py")

VOLATILE = ("created", "history")
"""Root provenance keys that differ between otherwise identical runs: the wall-clock time, and the run
log (``history``: when each run started, and the resumes an interrupted store records by design;
tests/test_provenance.py checks it field by field)."""


def store_bytes(path: str | os.PathLike[str]) -> dict[str, bytes]:
    """Every file of a local store, by relative path; the root ``zarr.json`` without its :data:`VOLATILE`
    keys (re-serialised), everything else byte for byte. Hidden files (temporaries) are listed too."""
    root = Path(path)
    files = {}
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        data = file.read_bytes()
        if rel == "zarr.json":
            meta = json.loads(data)
            for key in VOLATILE:
                meta.get("attributes", {}).get("physgen", {}).pop(key, None)
            data = json.dumps(meta, sort_keys=True).encode()
        files[rel] = data
    return files


def assert_same_bytes(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> None:
    """Two stores hold the same files with the same bytes (up to the creation time)."""
    __tracebackhide__ = True
    left, right = store_bytes(a), store_bytes(b)
    assert sorted(left) == sorted(right), f"files differ: {sorted(set(left) ^ set(right))}"
    differ = [k for k in left if left[k] != right[k]]
    assert not differ, f"files with other bytes: {differ}"


def tree_digest(path: str | os.PathLike[str]) -> dict[str, str]:
    """sha256 of every file under ``path`` (or of the file itself), with sizes and modes: "unchanged byte for byte"."""
    root = Path(path)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return {p.relative_to(root.parent).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def environment() -> dict[str, str]:
    """The environment of physgen subprocesses: one thread, no colour codes in messages."""
    return os.environ | {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NO_COLOR": "1", "TERM": "dumb",
                         "COLUMNS": "2000"}


def run_killed(target: str, n: int, when: str, *args: object, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``physgen ARGS`` in a subprocess that kills itself (SIGKILL) at the ``n``-th call of ``target``."""
    proc = subprocess.run([sys.executable, str(KILL_AT), target, str(n), when, "--", *map(str, args)],
                          capture_output=True, text=True, env=environment(), cwd=cwd, timeout=900)
    assert proc.returncode == -signal.SIGKILL, (
        f"expected the run to be killed at call {n} of {target}, it exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return proc


def run_cli(*args: object, cwd: Path | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    """``physgen ARGS`` in a subprocess (exit code, stdout, stderr)."""
    return subprocess.run([sys.executable, "-m", "physgen.cli", *map(str, args)], capture_output=True, text=True,
                          env=environment(), cwd=cwd, timeout=timeout)


def kill_after_commits(cmd: list[str], url: Path, events: int, timeout: float) -> int:
    """Run ``cmd`` (a simulate into ``url``), ``kill -9`` it once ``events`` are committed (or after
    ``timeout`` seconds), and return the events the store then holds."""
    from physgen.errors import StoreError
    from physgen.store import open_store, read_provenance

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if read_provenance(url)["committed_events"] >= events:
                break
        except StoreError:  # not created yet
            pass
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return open_store(url).sizes["event"]
