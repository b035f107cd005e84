"""Loading geant4_pybind offline, without Geant4's data sets, and keeping its output quiet.

geant4_pybind 0.1.3 (Geant4 11.4.1) looks for its ~2 GB of data sets when imported and when
the run manager is created; none of them can be had offline and the data-free physics lists
(:mod:`._physics`) need none. Three stand-ins, made once in physgen's cache folder
(``$PHYSGEN_CACHE`` or the platform's user cache, via platformdirs), are enough
(``shared/GEANT4.md``, verbatim failures):

* ``GEANT4_DATA_DIR`` set to an existing folder, else the import asks on stdin whether to
  download the data sets and then fails with ``ImportError: initialization failed``;
* ``G4ENSDFSTATEDATA`` naming a folder with an empty ``ENSDFSTATE.dat`` (read by
  G4NuclideTable when the run manager is created);
* ``G4LEVELGAMMADATA`` naming an empty folder (G4DecayPhysics builds a ``std::string`` of it;
  empty means no discrete de-excitation gammas).

Every Geant4 call runs in one thread per process (:func:`geant4_call`), the thread that imported
geant4_pybind. There geant4_pybind routes G4cout to Python's ``sys.stdout``, and :func:`quiet`
swallows it, so that a normal run prints nothing but a fatal error's report
(``PHYSGEN_GEANT4_VERBOSE=1`` shows everything).
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from functools import cache
from pathlib import Path
from types import ModuleType

import platformdirs

from physgen.errors import PhysgenError

__all__ = ["GEANT4_PYBIND_VERSION", "Geant4UnavailableError", "cache_dir", "geant4_call", "load_geant4", "quiet"]

GEANT4_PYBIND_VERSION = "0.1.3"
"""The wheel the data-free physics lists are written against (they use its C++ symbol names)."""


class Geant4UnavailableError(PhysgenError):
    """geant4_pybind cannot be imported here (another OS or CPU, or the wheel is missing)."""


def cache_dir() -> Path:
    """physgen's cache folder: ``$PHYSGEN_CACHE``, else the user cache folder of the platform."""
    root = os.environ.get("PHYSGEN_CACHE")
    return Path(root).expanduser() if root else Path(platformdirs.user_cache_dir("physgen"))


def _prepare_environment() -> None:
    """Create the data-set stand-ins and point Geant4's environment variables at them."""
    base = cache_dir() / "geant4-offline"
    ensdf, empty = base / "ENSDFSTATE", base / "empty"
    for folder in (ensdf, empty):
        folder.mkdir(parents=True, exist_ok=True)
    (ensdf / "ENSDFSTATE.dat").touch()
    for variable, folder in (("GEANT4_DATA_DIR", base), ("G4ENSDFSTATEDATA", ensdf), ("G4LEVELGAMMADATA", empty)):
        value = os.environ.get(variable)
        if not value or not Path(value).is_dir():  # a user's real data sets are left in place
            os.environ[variable] = str(folder)


class _Geant4Thread:
    """A daemon thread running queued calls one at a time (a daemon: Ctrl-C need not wait for a batch)."""

    def __init__(self):
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, name="physgen-geant4", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            function, args, future = self._calls.get()
            try:
                future.set_result(function(*args))
            except BaseException as exc:  # noqa: BLE001  (handed to the caller)
                future.set_exception(exc)

    def call(self, function: Callable, *args):
        if threading.current_thread() is self.thread:  # a call from inside a call
            return function(*args)
        future: Future = Future()
        self._calls.put((function, args, future))
        return future.result()


_THREAD: list[_Geant4Thread] = []
_THREAD_LOCK = threading.Lock()


def _geant4_thread() -> _Geant4Thread:
    with _THREAD_LOCK:  # one Geant4 thread per process, even when two threads ask first at once
        if not _THREAD:
            _THREAD.append(_Geant4Thread())
        return _THREAD[0]


def geant4_call(function: Callable, *args):
    """``function(*args)`` in this process's Geant4 thread, where geant4_pybind was imported.

    The wheel is a multi-threaded Geant4 build: its singletons (sensitive-detector manager,
    navigators, process managers) and the routing of G4cout to Python live per OS thread.
    So every Geant4 call of physgen runs in one thread per process, whichever thread asks
    (the CLI's main thread, a dask worker's task threads).
    """
    return _geant4_thread().call(function, *args)


@cache
def load_geant4() -> ModuleType:
    """Import geant4_pybind (in the Geant4 thread) after the offline set-up; a clear error where it cannot load."""
    try:
        _prepare_environment()
    except OSError as exc:
        msg = f"cannot prepare Geant4's offline data folder in {cache_dir()}: {exc}; set $PHYSGEN_CACHE to a writable folder"
        raise Geant4UnavailableError(msg) from None
    return geant4_call(_import_geant4)


def _import_geant4() -> ModuleType:
    try:
        with quiet():
            import geant4_pybind
    except ImportError as exc:
        msg = (f"the geant4 simulator needs geant4_pybind=={GEANT4_PYBIND_VERSION} (a Linux x86-64 wheel for "
               f"CPython {sys.version_info.major}.{sys.version_info.minor}), which cannot be imported here: {exc}. "
               f"Install it with `pip install geant4_pybind=={GEANT4_PYBIND_VERSION}` on Linux x86-64")
        raise Geant4UnavailableError(msg) from None
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("geant4_pybind")
    except PackageNotFoundError:
        found = "unknown"
    if found != GEANT4_PYBIND_VERSION:
        msg = (f"the geant4 simulator is built against geant4_pybind=={GEANT4_PYBIND_VERSION} (it uses that wheel's "
               f"C++ symbols), found {found}; `pip install geant4_pybind=={GEANT4_PYBIND_VERSION}`")
        raise Geant4UnavailableError(msg)
    return geant4_pybind


class _FatalOnly(io.TextIOBase):
    """Swallows Geant4's output except its fatal-exception reports, which go to the real stderr.

    A fatal ``G4Exception`` aborts the process right after printing its report (it cannot be caught
    from Python), so that report is the only explanation a user gets: it is let through.
    """

    def __init__(self):
        self._line = ""
        self._passing = False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._line += text
        *lines, self._line = self._line.split("\n")
        for line in lines:
            if "G4Exception-START" in line and "EEEE" in line:
                self._passing = True
            if self._passing:
                print(line, file=sys.__stderr__, flush=True)
            if "G4Exception-END" in line:
                self._passing = False
        return len(text)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence what Geant4 prints (G4cout/G4cerr reach Python's stdout/stderr) while inside, except
    fatal-exception reports; ``PHYSGEN_GEANT4_VERBOSE=1`` lets everything through (debugging)."""
    if os.environ.get("PHYSGEN_GEANT4_VERBOSE"):
        yield
        return
    sink = _FatalOnly()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield
