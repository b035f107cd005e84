"""Importers: exact round trips of crafted HDF5 files, layout errors, resume, CLI."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from physgen.cli import app
from physgen.errors import InputFileError, StoreError
from physgen.io import import_files, importer_names, sha256
from physgen.observables import compute
from physgen.store import ResolvedDataset, StoreWriter, open_store, validate_store


def _calogan(path, n, seed=0):
    rng = np.random.default_rng(seed)
    data = {"energy": rng.uniform(1, 100, (n, 1)), "layer_0": rng.exponential(1, (n, 3, 96)),
            "layer_1": rng.exponential(1, (n, 12, 12)), "layer_2": rng.exponential(1, (n, 12, 6)),
            "overflow": rng.exponential(1, (n, 3))}
    data = {k: v.astype(np.float32) for k, v in data.items()}
    with h5py.File(path, "w") as f:
        for k, v in data.items():
            f[k] = v
    return data


def _write(path, data):
    with h5py.File(path, "w") as f:
        for k, v in data.items():
            f[k] = v
    return data


def test_registry_has_the_four_formats():
    assert importer_names() == ["calochallenge", "calogan", "ild", "lagan"]


def test_calogan_round_trip_over_several_files(tmp_path):
    a, b = _calogan(tmp_path / "a.h5", 7, 1), _calogan(tmp_path / "b.h5", 5, 2)
    url = import_files("calogan", [tmp_path / "a.h5", tmp_path / "b.h5"], tmp_path / "s.zarr", progress=False)
    ds = open_store(url)
    assert validate_store(url) == []
    for k in ("layer_0", "layer_1", "layer_2", "overflow"):
        np.testing.assert_array_equal(ds[k].values, np.concatenate([a[k], b[k]]))
    np.testing.assert_array_equal(ds["energy"].values, np.concatenate([a["energy"][:, 0], b["energy"][:, 0]]))
    assert ds["energy"].attrs["units"] == "GeV" and ds["layer_1"].attrs["units"] == "MeV"
    assert np.all(ds["theta"].values == 0)
    sources = ds.physgen.provenance["producer"]["sources"]
    assert [s["file"] for s in sources] == ["a.h5", "b.h5"] and sources[0]["sha256"] == sha256(tmp_path / "a.h5")


def test_lagan_round_trip_fills_missing_columns(tmp_path):
    rng = np.random.default_rng(3)
    n = 9
    data = _write(tmp_path / "j.h5", {
        "image": rng.exponential(1, (n, 25, 25)).astype(np.float32), "signal": rng.integers(0, 2, n).astype(np.float64),
        "jet_pt": rng.uniform(250, 300, n).astype(np.float32), "jet_eta": rng.normal(0, 1, n).astype(np.float32),
        "jet_mass": rng.uniform(60, 100, n).astype(np.float32), "tau_21": rng.uniform(0, 1, n).astype(np.float32)})
    url = import_files("lagan", [tmp_path / "j.h5"], tmp_path / "s.zarr", progress=False)
    ds = open_store(url)
    # rows of the file run along φ (decreasing), columns along η: stored as image[eta, phi]
    np.testing.assert_array_equal(ds["image"].values, data["image"][:, ::-1, :].transpose(0, 2, 1))
    np.testing.assert_array_equal(ds["signal"].values, data["signal"].astype(np.int8))
    for k in ("jet_pt", "jet_eta", "jet_mass", "tau_21"):
        np.testing.assert_array_equal(ds[k].values, data[k])
    assert np.all(np.isnan(ds["tau_1"].values)) and np.all(ds["n_constituents"].values == -1)
    assert np.all(ds["weight"].values == 1)
    # NaN marks "not in the file"; the store validator flags exactly those variables
    assert sorted(p.split("'")[1] for p in validate_store(url)) == ["jet_phi", "tau_1", "tau_2"]


def test_lagan_two_subjet_image_reads_back_with_its_mass(tmp_path):
    """A crafted file in the public LAGAN layout (rows: φ from +1.2 down to −1.2; columns: η from
    −1.2 to +1.2, as the original analysis notebook builds its grids) holding two massless pixels:
    pT 180 GeV at (η, φ) = (0, 0) and 90 GeV at (+0.3, −0.8). Their invariant mass is
    m² = 2 pT1 pT2 [cosh Δη − cos Δφ] (docs/PHYSICS.md §1) = 106.28 GeV; reading the file's axes the
    other way round (rows as η) would give 111.3 GeV."""
    image = np.zeros((1, 25, 25), np.float32)
    image[0, 12, 12] = 180.0           # row 12: φ = 0; column 12: η = 0
    image[0, 20, 15] = 90.0            # row 20: φ = 1.2 − 2.0 = −0.8; column 15: η = −1.2 + 1.5 = +0.3
    _write(tmp_path / "two.h5", {"image": image, "signal": np.ones(1)})
    ds = open_store(import_files("lagan", [tmp_path / "two.h5"], tmp_path / "s.zarr", progress=False))
    expected_mass = np.sqrt(2 * 180.0 * 90.0 * (np.cosh(0.3) - np.cos(0.8)))
    expected_pt = np.hypot(180.0 + 90.0 * np.cos(-0.8), 90.0 * np.sin(-0.8))
    assert expected_mass == pytest.approx(106.28, abs=0.01)
    values = compute(ds, ["jet_mass", "jet_pt"])
    assert float(values["jet_mass"][0]) == pytest.approx(expected_mass, rel=1e-5)
    assert float(values["jet_pt"][0]) == pytest.approx(expected_pt, rel=1e-5)
    # the second subjet sits below the centre (negative φ) and on the right (positive η), as in physgen's images
    assert float(ds["image"].sel(eta=0.3, phi=-0.8, method="nearest")[0]) == 90.0
    assert float(ds["image"].sel(eta=0.0, phi=0.0, method="nearest")[0]) == 180.0


@pytest.mark.parametrize("voxels", [368, 533, 6480])
def test_calochallenge_round_trip_picks_the_dataset_by_voxel_count(tmp_path, voxels):
    rng = np.random.default_rng(voxels)
    data = _write(tmp_path / "c.h5", {"incident_energies": rng.uniform(1e3, 1e6, (4, 1)),
                                      "showers": rng.exponential(1, (4, voxels)).astype(np.float32)})
    url = import_files("calochallenge", [tmp_path / "c.h5"], tmp_path / "s.zarr", progress=False)
    ds = open_store(url)
    assert validate_store(url) == []
    assert ds["showers"].dims == ("event", "voxel")
    np.testing.assert_array_equal(ds["showers"].values, data["showers"])
    np.testing.assert_array_equal(ds["incident_energy"].values, data["incident_energies"][:, 0].astype(np.float32))
    attrs = ds["voxel"].attrs
    assert len(attrs["layer_bin"]) == voxels
    assert all(len(edges) == n_r + 1 for edges, n_r in zip(attrs["r_edges_mm"], np.bincount(
        attrs["layer_bin"], weights=np.equal(attrs["alpha_bin"], 0)).astype(int)))


def test_ild_round_trip_keeps_the_axes(tmp_path):
    rng = np.random.default_rng(4)
    layers = rng.exponential(1, (3, 30, 30, 30)).astype(np.float32)
    layers[:, 0, 1, 2] = 99.0  # marks (layer 0, x 1, z 2) -> (z 0, y 1, x 2)
    with h5py.File(tmp_path / "ild.h5", "w") as f:
        f["30x30/energy"] = np.full((3, 1), 50.0)
        f["30x30/layers"] = layers
    url = import_files("ild", [tmp_path / "ild.h5"], tmp_path / "s.zarr", progress=False)
    ds = open_store(url)
    assert validate_store(url) == []
    np.testing.assert_array_equal(ds["energy"].values, layers)
    assert np.all(ds["energy"].isel(z=0, y=1, x=2).values == 99.0)
    assert np.all(ds["incident_energy"].values == 50.0)


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d.pop("layer_1"), "missing 'layer_1' of shape (N, 12, 12)"),
    (lambda d: d.update(layer_2=np.zeros((4, 6, 12), np.float32)), "expected 'layer_2' of shape (N, 12, 6)"),
    (lambda d: d.update(overflow=np.zeros((4, 3), "S1")), "'overflow' of shape (N, 3) and float dtype"),
    (lambda d: d.update(energy=np.zeros((5, 1))), "but the other datasets have 5"),
])
def test_bad_layouts_name_what_was_expected(tmp_path, mutate, expected):
    data = _calogan(tmp_path / "ok.h5", 4)
    mutate(data)
    _write(tmp_path / "bad.h5", data)
    with pytest.raises(InputFileError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        import_files("calogan", [tmp_path / "bad.h5"], tmp_path / "s.zarr", progress=False)
    assert not (tmp_path / "s.zarr").exists()


def test_calochallenge_unknown_voxel_count_and_not_hdf5(tmp_path):
    _write(tmp_path / "c.h5", {"incident_energies": np.ones((2, 1)), "showers": np.ones((2, 100))})
    with pytest.raises(InputFileError, match="368, 533, 6480, 40500"):
        import_files("calochallenge", [tmp_path / "c.h5"], tmp_path / "s.zarr", progress=False)
    (tmp_path / "x.h5").write_text("not hdf5")
    with pytest.raises(InputFileError, match="not a readable HDF5"):
        import_files("ild", [tmp_path / "x.h5"], tmp_path / "s.zarr", progress=False)


def test_resume_continues_after_the_committed_events(tmp_path, monkeypatch):
    data = _calogan(tmp_path / "a.h5", 23)
    monkeypatch.setattr(ResolvedDataset, "chunk_events", property(lambda self: 10))
    calls = {"n": 0}
    real_append = StoreWriter.append

    def crash_after_two(self, batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_append(self, batch)

    monkeypatch.setattr(StoreWriter, "append", crash_after_two)
    with pytest.raises(KeyboardInterrupt):
        import_files("calogan", [tmp_path / "a.h5"], tmp_path / "s.zarr", progress=False)
    assert open_store(tmp_path / "s.zarr").sizes["event"] == 20
    monkeypatch.setattr(StoreWriter, "append", real_append)
    with pytest.raises(StoreError, match="already exists"):
        import_files("calogan", [tmp_path / "a.h5"], tmp_path / "s.zarr", progress=False)
    import_files("calogan", [tmp_path / "a.h5"], tmp_path / "s.zarr", mode="resume", progress=False)
    ds = open_store(tmp_path / "s.zarr")
    np.testing.assert_array_equal(ds["layer_0"].values, data["layer_0"])
    _calogan(tmp_path / "a.h5", 23, seed=9)  # same name, other content
    with pytest.raises(StoreError, match="imported from other files"):
        import_files("calogan", [tmp_path / "a.h5"], tmp_path / "s.zarr", mode="resume", progress=False)


def test_cli_import_and_error_exit(tmp_path):
    _calogan(tmp_path / "a.h5", 3)
    runner = CliRunner()
    ok = runner.invoke(app, ["import", "calogan", str(tmp_path / "a.h5"), "--out", str(tmp_path / "s.zarr")])
    assert ok.exit_code == 0, ok.output
    assert open_store(tmp_path / "s.zarr").sizes["event"] == 3
    bad = runner.invoke(app, ["import", "hdf", str(tmp_path / "a.h5"), "--out", str(tmp_path / "t.zarr")])
    assert bad.exit_code == 2 and "unknown import format 'hdf'" in bad.output
