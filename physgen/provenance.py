"""The hashes and versions physgen records in provenance (stores, run directories, imports), made in
one place so that every room writes them the same way."""

from __future__ import annotations

import hashlib
import json
import os
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

__all__ = ["file_sha256", "json_sha256", "package_version", "text_sha256"]

_BLOCK = 1 << 22


def file_sha256(path: str | os.PathLike[str], *, prefixed: bool = True) -> str:
    """sha256 of a file's bytes, read in 4 MiB blocks: ``"sha256:<hex>"`` (``prefixed=False``: the hex alone)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}" if prefixed else digest.hexdigest()


def text_sha256(text: str) -> str:
    """``"sha256:<hex>"`` of a text's UTF-8 bytes (spec hashes)."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def json_sha256(value: Any) -> str:
    """``"sha256:<hex>"`` of a JSON-able value in canonical form (sorted keys, tuples as lists), e.g. a
    simulator's producer record, so a record read back from a store hashes as the one written."""
    return text_sha256(json.dumps(value, sort_keys=True, default=str))


@cache
def package_version(distribution: str) -> str:
    """The installed version of ``distribution`` (``"0+unknown"`` in a source tree that is not installed)."""
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "0+unknown"
