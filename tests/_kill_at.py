"""Run the physgen command line in this process and kill it with SIGKILL at a chosen moment.

    python tests/_kill_at.py MODULE:NAME[.ATTR] N before|after|pause -- ARGS...

The N-th call of the named function (``physgen.store._writer:StoreWriter._commit``, ``os:replace``…)
kills the process just before or just after it runs: a real ``kill -9`` (no cleanup, no atexit,
no finally blocks) at a moment the test chooses, instead of a timer that lands anywhere.
``pause`` kills nothing: every call waits N milliseconds first (a slow writer for concurrency tests).
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import threading
import time


def _patch(target: str, n: int, when: str) -> None:
    module_name, path = target.split(":")
    owner = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    original = getattr(owner, name)
    count = {"calls": 0}
    lock = threading.Lock()

    def kill_at_nth_call(*args, **kwargs):
        if when == "pause":
            time.sleep(n / 1000)
            return original(*args, **kwargs)
        with lock:
            count["calls"] += 1
            nth = count["calls"] == n
        if nth and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        if nth and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(owner, name, kill_at_nth_call)


def main() -> None:
    target, n, when, separator, *args = sys.argv[1:]
    assert separator == "--" and when in ("before", "after", "pause"), __doc__
    _patch(target, int(n), when)
    from physgen.cli import app

    sys.argv = ["physgen", *args]
    app()


if __name__ == "__main__":
    main()
