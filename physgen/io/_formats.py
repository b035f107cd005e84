"""The public HDF5 layouts physgen reads (docs/PHYSICS.md §1–3 and the CaloChallenge 2022 docs)."""

from __future__ import annotations

import h5py
import numpy as np

from physgen.errors import InputFileError
from physgen.io._base import Importer, Key, register_importer
from physgen.store import ResolvedDataset

__all__ = ["CaloGANImporter", "LAGANImporter", "CaloChallengeImporter", "ILDImporter", "lagan_to_eta_phi"]

CALOCHALLENGE_VARIANTS = {368: "calochallenge_1_photons", 533: "calochallenge_1_pions",
                          6480: "calochallenge_2", 40500: "calochallenge_3"}
"""Voxels per shower → detector of the Fast Calorimeter Simulation Challenge 2022 datasets."""


@register_importer
class CaloGANImporter(Importer):
    """CaloGAN (paper 001): ``energy`` (N,1) GeV, ``layer_0..2`` MeV, ``overflow`` (N,3) MeV.

    The files hold no impact point or angles: the showers enter perpendicular at the
    centre, so ``x0 = y0 = theta = phi = 0`` is stored.
    """

    name = "calogan"
    dataset = "import_calogan"

    def keys(self, dataset):
        cells = [Key(v.name, v.shape) for v in dataset.schema.variables if v.name.startswith("layer_") or v.name == "overflow"]
        return [Key("energy", (1,)), *cells]

    def read(self, f, start, stop, dataset):
        out = {k.path: f[k.path][start:stop] for k in self.keys(dataset)[1:]}
        zero = np.zeros(stop - start, np.float32)
        return out | {"energy": f["energy"][start:stop, 0], "x0": zero, "y0": zero, "theta": zero, "phi": zero}


@register_importer
class LAGANImporter(Importer):
    """LAGAN jet images (paper 000): ``image`` (N,25,25) pT in GeV plus per-jet columns.

    Axes: the public arrays are ``image[row, col]`` with columns along η (η = −1.2 … +1.2) and rows
    along φ, *decreasing* (row 0 is φ = +1.2): the original generator filled its histogram
    η-major, then stored ``flipud(transpose(...))`` (``hep-lbdl/adversarial-jets``,
    ``generation/jettools/jettools.py`` ``rotate_jet``; its ``analysis/plots.ipynb`` builds the
    matching grids ``eta = tile(grid, (25, 1))``, ``phi = tile(grid[::-1, None], (1, 25))``). physgen
    stores ``image[eta, phi]`` with both increasing, so ``image[i, j] = lagan[24 − j, i]``: the
    second subjet, below the centre in LAGAN's array, lands at negative φ as in physgen's own images,
    and the heavier right half stays at positive η. Pixel values are copied exactly.

    ``signal`` is required; any other feature column the file lacks is stored as NaN
    (float features), −1 (``n_constituents``) or 1 (``weight``).
    """

    name = "lagan"
    dataset = "import_lagan"
    FILL = {"n_constituents": -1, "weight": 1.0}

    def keys(self, dataset):
        image = dataset.schema["image"]
        features = [f for f in dataset.feature_spec.features if f.name != "signal"]
        return [Key("image", image.shape), Key("signal", (), "fbiu"),
                *(Key(f.name, (), "fiub", required=False) for f in features)]

    def filled(self, f, dataset):
        return {feature.name for feature in dataset.feature_spec.features if feature.name not in f}

    def read(self, f, start, stop, dataset):
        signal = f["signal"][start:stop]
        wrong = ~np.isin(signal, (0, 1))
        if wrong.any():
            event = int(np.argmax(wrong))
            msg = (f"{f.filename}: event {start + event}: 'signal' is {signal[event]!r}; it must be 1 (W' → WZ) "
                   f"or 0 (QCD)")
            raise InputFileError(msg)
        out = {"image": lagan_to_eta_phi(f["image"][start:stop]), "signal": signal.astype(np.int8)}
        for feature in dataset.feature_spec.features:
            if feature.name in out:
                continue
            if feature.name in f:
                out[feature.name] = f[feature.name][start:stop].astype(feature.dtype)
            else:
                out[feature.name] = np.full(stop - start, self.FILL.get(feature.name, np.nan), feature.dtype)
        return out


def lagan_to_eta_phi(images: np.ndarray) -> np.ndarray:
    """LAGAN-layout images ``(..., φ decreasing, η increasing)`` → physgen's ``(..., eta, phi)``, both increasing."""
    return np.ascontiguousarray(np.swapaxes(images[..., ::-1, :], -1, -2))


@register_importer
class CaloChallengeImporter(Importer):
    """Fast Calorimeter Simulation Challenge 2022: ``incident_energies`` (N,1) MeV, ``showers`` (N, voxels) MeV.

    The dataset (1 photons, 1 pions, 2, 3) follows from the number of voxels.
    """

    name = "calochallenge"
    dataset = ""

    def resolve(self, files: list[h5py.File]) -> ResolvedDataset:
        voxels = set()
        for f in files:
            showers = f.get("showers")
            if not isinstance(showers, h5py.Dataset) or showers.ndim != 2 or showers.shape[1] not in CALOCHALLENGE_VARIANTS:
                got = f"shape {showers.shape}" if isinstance(showers, h5py.Dataset) else "nothing"
                msg = (f"{f.filename}: expected 'showers' of shape (N, V) with V one of "
                       f"{sorted(CALOCHALLENGE_VARIANTS)} (datasets 1 photons, 1 pions, 2, 3), got {got}")
                raise InputFileError(msg)
            voxels.add(showers.shape[1])
        if len(voxels) > 1:
            msg = f"the files mix CaloChallenge datasets (voxel counts {sorted(voxels)}); import them separately"
            raise InputFileError(msg)
        self.dataset = f"import_{CALOCHALLENGE_VARIANTS[voxels.pop()]}"
        return super().resolve(files)

    def keys(self, dataset):
        return [Key("incident_energies", (1,)), Key("showers", dataset.schema["showers"].shape)]

    def read(self, f, start, stop, dataset):
        return {"showers": f["showers"][start:stop], "incident_energy": f["incident_energies"][start:stop, 0]}


@register_importer
class ILDImporter(Importer):
    """ILD 30×30×30 photon showers (paper 004): group ``30x30``, ``energy`` (N,1) GeV, ``layers`` (N,30,30,30) MeV.

    The file's axes (layer, x, z) are stored unchanged as the detector's (z, y, x).
    """

    name = "ild"
    dataset = "import_ild"

    def keys(self, dataset):
        return [Key("30x30/energy", (1,)), Key("30x30/layers", dataset.schema["energy"].shape)]

    def read(self, f, start, stop, dataset):
        return {"energy": f["30x30/layers"][start:stop], "incident_energy": f["30x30/energy"][start:stop, 0]}
