"""How a store's chunks are compressed: a few named Zarr v3 codec chains, every one checksummed.

A store is written once and read many times, and what it is for decides the trade: a Geant4 or
Pythia reference is precious and costly to remake, so its bytes should be small; a training store is
read every epoch, so its decompression is paid again and again (the ``loader`` benchmark measures
each chain's read cost and size side by side). Every chain ends in a content checksum (Zstandard's
own frame checksum, or a CRC-32C codec after the others), so a flipped bit on disk is a read error,
never a wrong value (see :mod:`physgen.store._writer`).

The chosen name is recorded in the store's provenance (``compression``); the codecs themselves are in
each array's Zarr metadata, which is all a reader needs, so stores written before this setting existed
(Zstandard level 3) read as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from zarr.abc.codec import BytesBytesCodec
from zarr.codecs import BloscCodec, Crc32cCodec, ZstdCodec

from physgen.errors import SchemaError, did_you_mean

__all__ = ["COMPRESSIONS", "DEFAULT_COMPRESSION", "Compression", "compressors", "check_compression"]


@dataclass(frozen=True)
class Compression:
    """A named codec chain (bytes to bytes, after Zarr's ``bytes`` serialiser) and what it is for."""

    description: str
    codecs: Callable[[], tuple[BytesBytesCodec, ...]]


COMPRESSIONS: dict[str, Compression] = {
    "zstd": Compression(
        "Zstandard level 3 with its frame checksum: the smallest; for references that are precious and rarely read",
        lambda: (ZstdCodec(level=3, checksum=True),)),
    "zstd-1": Compression(
        "Zstandard level 1 with its frame checksum: about as small, slightly cheaper to write and read",
        lambda: (ZstdCodec(level=1, checksum=True),)),
    "lz4": Compression(
        "Blosc LZ4 after a byte shuffle, then a CRC-32C checksum: cheaper to read; for stores read every epoch",
        lambda: (BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"), Crc32cCodec())),
    "none": Compression(
        "no compression, a CRC-32C checksum only: the cheapest read, the largest store",
        lambda: (Crc32cCodec(),)),
}

DEFAULT_COMPRESSION = "zstd"
"""Zstandard level 3: what every store was written with before compression was choosable."""


def check_compression(name: str) -> str:
    """``name`` if it is a known compression, else a :class:`SchemaError` that suggests the closest one."""
    if name not in COMPRESSIONS:
        msg = f"unknown compression {name!r}{did_you_mean(name, COMPRESSIONS)}"
        raise SchemaError(msg)
    return name


def compressors(name: str) -> tuple[BytesBytesCodec, ...]:
    """The Zarr v3 codecs (``compressors=`` of :meth:`zarr.Group.create_array`) of the compression ``name``."""
    return COMPRESSIONS[check_compression(name)].codecs()
