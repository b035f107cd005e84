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

Geant4's G4cout is routed by geant4_pybind to Python's ``sys.stdout``; :func:`quiet` captures
it so that a normal run prints nothing (``PHYSGEN_GEANT4_VERBOSE=1`` shows it).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import ModuleType

import platformdirs

from physgen.errors import PhysgenError

__all__ = ["GEANT4_PYBIND_VERSION", "Geant4UnavailableError", "cache_dir", "load_geant4", "quiet"]

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
    os.environ.setdefault("GEANT4_DATA_DIR", str(base))
    os.environ.setdefault("G4ENSDFSTATEDATA", str(ensdf))
    os.environ.setdefault("G4LEVELGAMMADATA", str(empty))


@cache
def load_geant4() -> ModuleType:
    """Import geant4_pybind after the offline set-up; a clear error where it cannot load."""
    try:
        _prepare_environment()
    except OSError as exc:
        msg = f"cannot prepare Geant4's offline data folder in {cache_dir()}: {exc}; set $PHYSGEN_CACHE to a writable folder"
        raise Geant4UnavailableError(msg) from None
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


@contextlib.contextmanager
def quiet() -> Iterator[io.StringIO]:
    """Capture what Geant4 prints (G4cout/G4cerr reach Python's stdout/stderr) while inside;
    ``PHYSGEN_GEANT4_VERBOSE=1`` lets it through (debugging)."""
    buffer = io.StringIO()
    if os.environ.get("PHYSGEN_GEANT4_VERBOSE"):
        yield buffer
        return
    with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
        yield buffer
