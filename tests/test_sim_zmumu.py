"""Z → μμ simulator with pileup: schema, physics checks, determinism, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from physgen.errors import SpecError
from physgen.sim import build_simulator, simulate
from physgen.specs import SpecRegistry
from physgen.store import open_store, resolve_dataset, validate_store

SPEC = Path(__file__).resolve().parents[1] / "specs" / "datasets" / "zmumu.yaml"


def _spec(tmp_path: Path, chunk_events: int | None = None, **options) -> str:
    """The shipped Z → μμ spec with a small pileup pool and some options changed."""
    data = yaml.safe_load(SPEC.read_text())
    data["simulator"]["options"].update({"pileup_pool_size": 200, **options})
    if chunk_events:
        data["chunk_events"] = chunk_events
    path = tmp_path / "zmumu.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture(scope="module")
def zmumu(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zmumu")
    url = simulate(_spec(folder), folder / "z.zarr", events=150, seed=5, progress=False)
    assert validate_store(url) == []
    return open_store(url).load()


def _m_ll(ds) -> np.ndarray:
    e = ds.mu1_e.values + ds.mu2_e.values
    px, py = ds.mu1_px.values + ds.mu2_px.values, ds.mu2_py.values
    pz = ds.mu1_pz.values + ds.mu2_pz.values
    return np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0))


def test_store_holds_the_17_features_plus_extras(zmumu):
    seventeen = [f.name for f in SpecRegistry.default(near=SPEC).get("features", "zmumu17").spec.features]
    assert len(seventeen) == 17
    names = list(zmumu.data_vars)
    assert names[:17] == seventeen
    assert {"nvtx", "n_pileup", "m_ll_true", "mu1_iso_charged", "mu2_iso_neutral"} <= set(names)


def test_dimuon_mass_near_the_paper(zmumu):
    m = _m_ll(zmumu)
    window = (m > 60) & (m < 120)
    assert window.mean() > 0.9
    assert np.mean(m[window]) == pytest.approx(89.6, abs=2.0)
    assert np.std(m[window]) == pytest.approx(7.7, abs=2.0)
    # detector smearing: reconstructed and generated masses agree to a few GeV
    assert np.nanmedian(np.abs(m - zmumu.m_ll_true.values)) < 3.0


def test_rotation_ordering_and_isolation(zmumu):
    pt1 = np.abs(zmumu.mu1_px.values)
    pt2 = np.hypot(zmumu.mu2_px.values, zmumu.mu2_py.values)
    assert np.all(zmumu.mu1_px.values > 0) and np.all(pt1 >= pt2) and np.all(pt2 > 10)
    total = sum(zmumu[f"mu1_iso_{c}"].values for c in ("charged", "photon", "neutral"))
    np.testing.assert_allclose(zmumu.mu1_iso.values, total, rtol=1e-5)
    jets = np.stack([zmumu[f"jet{i}_pt"].values for i in range(1, 6)], axis=1)
    assert np.all(np.diff(jets, axis=1) <= 0) and np.all((jets == 0) | (jets > 20))


def test_vertices_follow_pileup(zmumu):
    nvtx = zmumu.nvtx.values
    assert np.mean(nvtx) == pytest.approx(21.0, abs=1.5)
    np.testing.assert_array_equal(nvtx, zmumu.n_pileup.values + 1)  # vertex efficiency 1 by default
    assert np.std(zmumu.nvtx_smeared.values - nvtx) == pytest.approx(0.5, abs=0.15)


def test_met_grows_with_pileup(zmumu, tmp_path):
    without = build_simulator(resolve_dataset(_spec(tmp_path, pileup_mean=0))).simulate(40, np.random.SeedSequence(1))
    assert np.all(without["nvtx"] == 1)
    met_0 = np.hypot(without["met_px"], without["met_py"])
    met_20 = np.hypot(zmumu.met_px.values, zmumu.met_py.values)
    assert 5 < np.mean(met_0) < 20 and 20 < np.mean(met_20) < 45
    assert np.mean(met_20) > 1.5 * np.mean(met_0)
    high = zmumu.nvtx.values > np.median(zmumu.nvtx.values)
    assert np.mean(met_20[high]) > np.mean(met_20[~high])


def test_same_seed_same_events(tmp_path):
    simulator = build_simulator(resolve_dataset(_spec(tmp_path)))
    first = simulator.simulate(5, np.random.SeedSequence(9))
    second = simulator.simulate(5, np.random.SeedSequence(9))
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
    assert "SoftQCD:nonDiffractive = on" in simulator.producer()["pythia_settings"]["pileup"]


@pytest.mark.parametrize(("options", "message"), [
    ({"pileup_mean": -1}, "pileup_mean"),
    ({"pythia_settings": ["PhaseSpace:mHatMax = banana"]}, "Pythia rejects the setting 'PhaseSpace:mHatMax = banana'"),
    ({"pileup_pool_size": 0}, "pileup_pool_size"),
])
def test_bad_input_fails_before_any_store_is_written(tmp_path, options, message):
    out = tmp_path / "never.zarr"
    with pytest.raises(SpecError, match=message):
        simulate(_spec(tmp_path, **options), out, events=5, progress=False)
    assert not out.exists()
