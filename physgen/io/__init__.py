"""Importers of the public HDF5 datasets of the papers into physgen stores.

Formats: ``calogan``, ``lagan``, ``calochallenge``, ``ild`` (``physgen import FORMAT FILE... --out STORE``).
Each streams its files in chunks, checks their layout first (clear :class:`InputFileError`),
records file names and sha256 checksums, and resumes an interrupted import.
"""

from physgen.io import _formats  # noqa: F401  (registers the importers)
from physgen.io._base import Importer, Key, get_importer, import_files, importer_names, register_importer, sha256
from physgen.io._formats import lagan_to_eta_phi

__all__ = [
    "Importer", "Key", "get_importer", "import_files", "importer_names", "lagan_to_eta_phi", "register_importer", "sha256",
]


def __dir__() -> list[str]:
    return __all__
