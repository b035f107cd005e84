"""Exceptions and warnings of physgen.

Every user mistake (a spec, a file, a store, a CLI argument) raises a subclass of
:class:`PhysgenError`; the CLI prints its message in one line and exits with code 2.
Anything else is a bug and keeps its traceback. Each class also inherits the
matching builtin so that ``except FileNotFoundError`` and friends keep working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "PhysgenError",
    "PhysgenWarning",
    "SchemaError",
    "SpecError",
    "SpecNotFoundError",
    "StoreError",
    "StoreExistsError",
    "StoreLockedError",
    "InputFileError",
    "check_seed",
    "did_you_mean",
]


class PhysgenError(ValueError):
    """Root of all user-facing errors."""


class PhysgenWarning(UserWarning):
    """Root of physgen's own warnings."""


class SpecError(PhysgenError):
    """A spec failed to load or validate; the message names the file and key path."""


class SpecNotFoundError(SpecError, FileNotFoundError):
    """A spec file or a spec name that does not exist."""


class StoreError(PhysgenError):
    """A store that cannot be opened, is invalid or cannot be written as asked."""


class StoreExistsError(StoreError, FileExistsError):
    """The output store exists and neither resume nor overwrite was asked for."""


class StoreLockedError(StoreError):
    """Another process is writing the store (it holds the store's lock)."""


class SchemaError(StoreError):
    """Data whose variables, shapes, dtypes or units do not fit a store's schema."""


class InputFileError(PhysgenError, OSError):
    """An input file (HDF5 to import, YAML, ...) that is missing or malformed."""


def did_you_mean(name: str, known: Iterable[str], *, listing: str | None = "known") -> str:
    """Message tail for an unknown ``name``: ``"; did you mean 'x'?"`` when one of ``known`` is close,
    else ``"; known: a, b"`` (sorted; ``listing=None`` gives an empty tail)."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        return f"; did you mean {close[0]!r}?"
    return f"; {listing}: {', '.join(known) or 'none'}" if listing else ""


def check_seed(seed: object, *, option: str = "--seed") -> int:
    """``seed`` if it is a non-negative integer (what ``numpy.random.SeedSequence`` takes), else a
    :class:`PhysgenError` naming the option."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        msg = f"{option} must be a non-negative integer, got {seed!r}"
        raise PhysgenError(msg)
    return seed
