"""The small Geant4 validation samples shipped with physgen, one single-file Zarr store each.

Made with the CLI from the ``geant4_*`` dataset specs (the command is in each store's
provenance); opened read-only through fsspec's zip file system, so tests, benchmarks and
``physgen evaluate`` can compare against Geant4 without running it.
"""

from __future__ import annotations

from pathlib import Path

from physgen.errors import StoreError, did_you_mean

__all__ = ["validation_sample", "validation_sample_dir", "validation_samples"]

SUFFIX = ".zarr.zip"


def validation_sample_dir() -> Path:
    """The samples in an installed wheel, or the repository's ``samples/geant4/`` (editable install)."""
    package = Path(__file__).resolve().parents[2]
    bundled = package / "_shipped_samples" / "geant4"
    return bundled if bundled.is_dir() else package.parent / "samples" / "geant4"


def validation_samples() -> dict[str, str]:
    """Store URLs (``zip://::/…/NAME.zarr.zip``, for :func:`physgen.open_store`) by dataset-spec name."""
    return {path.name.removesuffix(SUFFIX): f"zip://::{path}" for path in sorted(validation_sample_dir().glob(f"*{SUFFIX}"))}


def validation_sample(name: str) -> str:
    """The store URL of one shipped sample."""
    samples = validation_samples()
    if name not in samples:
        msg = f"no shipped Geant4 validation sample {name!r}{did_you_mean(name, samples)}"
        raise StoreError(msg)
    return samples[name]
