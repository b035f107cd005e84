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
    """300 events of the shipped spec: 20 pileup interactions, paper 002's selection."""
    folder = tmp_path_factory.mktemp("zmumu")
    url = simulate(_spec(folder), folder / "z.zarr", events=300, seed=5, progress=False)
    assert validate_store(url) == []
    return open_store(url).load()


@pytest.fixture(scope="module")
def no_pileup(tmp_path_factory):
    """150 events of the same spec without pileup."""
    folder = tmp_path_factory.mktemp("zmumu0")
    return build_simulator(resolve_dataset(_spec(folder, pileup_mean=0))).simulate(150, np.random.SeedSequence(6))


def _m_ll(ds) -> np.ndarray:
    e = np.asarray(ds["mu1_e"]) + np.asarray(ds["mu2_e"])
    px, py = np.asarray(ds["mu1_px"]) + np.asarray(ds["mu2_px"]), np.asarray(ds["mu2_py"])
    pz = np.asarray(ds["mu1_pz"]) + np.asarray(ds["mu2_pz"])
    return np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0))


def _recoil(ds) -> tuple[np.ndarray, np.ndarray]:
    """(u∥ + qT, u⊥) of the hadronic recoil u⃗ = −(p⃗T,miss + q⃗T) along and across the dimuon q⃗T."""
    qx, qy = np.asarray(ds["mu1_px"]) + np.asarray(ds["mu2_px"]), np.asarray(ds["mu2_py"])
    qt = np.hypot(qx, qy)
    ux, uy = -(np.asarray(ds["met_px"]) + qx), -(np.asarray(ds["met_py"]) + qy)
    return (ux * qx + uy * qy) / qt + qt, (ux * qy - uy * qx) / qt


# CMS 13 TeV PF p_T^miss resolution in Z -> mumu events versus the scalar pT sum of the particle-flow
# candidates, sigma = a + b sqrt(SumET) (GeV): u_par (2.0, 0.64), u_perp (-1.5, 0.68); CMS-PAS-JME-17-001
# Table 3, as transcribed in Rivet's MET_SMEAR_CMS_RUN2 (include/Rivet/Tools/ExptSmearingFunctions.hh).
CMS_MET_RESOLUTION = {"u_par": (2.0, 0.64), "u_perp": (-1.5, 0.68)}


def test_store_holds_the_17_features_plus_extras(zmumu):
    seventeen = [f.name for f in SpecRegistry.default(near=SPEC).get("features", "zmumu17").spec.features]
    assert len(seventeen) == 17
    names = list(zmumu.data_vars)
    assert names[:17] == seventeen
    assert {"nvtx", "n_pileup", "m_ll_true", "mu1_iso_charged", "mu1_iso_charged_pileup", "mu2_iso_neutral"} <= set(names)


def test_selection_and_dimuon_mass_near_the_paper(zmumu):
    """Paper 002 quotes M_ll mean 89.6 and RMS 7.7 GeV; in 60-120 GeV the statistical error with these
    ~250 events is ~0.4 GeV on each (the precise check is test_dimuon_mass_matches_the_paper, slow)."""
    m = _m_ll(zmumu)
    assert np.all(zmumu.m_ll_true.values > 50)  # the authors' load_data: genmll > 50 GeV
    window = (m > 60) & (m < 120)
    assert window.mean() > 0.85
    assert np.mean(m[window]) == pytest.approx(89.6, abs=1.0)
    assert np.std(m[window]) == pytest.approx(7.7, abs=1.5)
    # detector smearing: reconstructed and generated masses agree to a few GeV
    assert np.nanmedian(np.abs(m - zmumu.m_ll_true.values)) < 3.0


@pytest.mark.slow
def test_dimuon_mass_matches_the_paper(tmp_path):
    """3000 events (no pileup: it does not touch the muons). Targets of issue 13 from paper 002 (Sec. 4:
    M_Z = 89.6, sigma_MZ = 7.7 GeV) in 60-120 GeV: mean within 0.5, RMS within 1.0 (statistical errors
    here ~0.1). Over the whole stored sample (no window on the reconstructed M_ll, as in the authors'
    file) the mean is 89.43 GeV in their notebooks (github.com/bth5032/DY-GAN,
    gan/notebooks/gan_loader.ipynb, after load_data's genmll > 50 cut); statistical error here ~0.25.
    The whole-sample RMS is not tested: half of its variance comes from the 0.5 % of events above
    150 GeV, so 2000-event subsamples scatter from 11 to 18 GeV."""
    sample = build_simulator(resolve_dataset(_spec(tmp_path, pileup_mean=0))).simulate(3000, np.random.SeedSequence(8))
    m = _m_ll(sample)
    window = (m > 60) & (m < 120)
    assert np.mean(m[window]) == pytest.approx(89.6, abs=0.5)
    assert np.std(m[window]) == pytest.approx(7.7, abs=1.0)
    assert np.mean(m) == pytest.approx(89.43, abs=0.75)


def test_rotation_ordering_and_isolation(zmumu):
    pt1 = np.abs(zmumu.mu1_px.values)
    pt2 = np.hypot(zmumu.mu2_px.values, zmumu.mu2_py.values)
    assert np.all(zmumu.mu1_px.values > 0) and np.all(pt1 >= pt2) and np.all(pt2 > 10)
    # Δβ correction (CMS muon paper, JINST 13 (2018) P06015): charged(PV) + max(0, γ + n − 0.5 charged(PU))
    iso = {c: zmumu[f"mu1_iso_{c}"].values for c in ("charged", "charged_pileup", "photon", "neutral")}
    expected = iso["charged"] + np.maximum(iso["photon"] + iso["neutral"] - 0.5 * iso["charged_pileup"], 0)
    np.testing.assert_allclose(zmumu.mu1_iso.values, expected, rtol=1e-5, atol=1e-7)
    assert np.mean(iso["charged_pileup"]) > np.mean(iso["charged"])  # 20 pileup vertices outweigh the Z's own
    jets = np.stack([zmumu[f"jet{i}_pt"].values for i in range(1, 6)], axis=1)
    assert np.all(np.diff(jets, axis=1) <= 0) and np.all((jets == 0) | (jets > 20))


def test_pileup_corrected_isolation_keeps_muons_isolated(zmumu):
    """Target of issue 13: ≥ 90 % of leading muons with isolation < 0.1 at 20 pileup interactions
    (without the corrections, 46 %: the charged pileup alone pushes most muons above 0.1)."""
    assert np.mean(zmumu.mu1_iso.values < 0.1) >= 0.90
    uncorrected = sum(zmumu[f"mu1_iso_{c}"].values for c in ("charged", "charged_pileup", "photon", "neutral"))
    assert np.mean(uncorrected < 0.1) < 0.75


def test_jets_per_event_barely_change_with_pileup(zmumu, no_pileup):
    """CHS + ρ·A: jets above 20 GeV per event within 0.3 of the no-pileup value (issue 13's target)."""
    def per_event(jets):
        return np.mean((np.stack(jets, axis=1) > 20).sum(axis=1))
    with_pu = per_event([zmumu[f"jet{i}_pt"].values for i in range(1, 6)])
    without = per_event([no_pileup[f"jet{i}_pt"] for i in range(1, 6)])
    assert abs(with_pu - without) < 0.3
    assert 0.1 < without < 1.0


def test_vertices_follow_pileup(zmumu, tmp_path):
    """nVTX = 1 + n_pileup by default: the Delphes card of paper 002 stores one vertex per interaction
    (PileUpMerger); a vertex efficiency below 1 drops pileup vertices binomially."""
    nvtx, n_pu = zmumu.nvtx.values, zmumu.n_pileup.values
    np.testing.assert_array_equal(nvtx, 1 + n_pu)
    assert np.mean(nvtx) == pytest.approx(1 + 20, abs=1.0)
    assert np.std(zmumu.nvtx_smeared.values - nvtx) == pytest.approx(0.5, abs=0.1)
    lossy = build_simulator(resolve_dataset(_spec(tmp_path, vertex_efficiency=0.7))).simulate(
        20, np.random.SeedSequence(3))
    assert np.all((lossy["nvtx"] >= 1) & (lossy["nvtx"] <= lossy["n_pileup"] + 1))
    assert np.sum(lossy["nvtx"] - 1) / np.sum(lossy["n_pileup"]) == pytest.approx(0.7, abs=0.08)  # ~400 vertices


def test_met_grows_with_pileup(zmumu, no_pileup):
    assert np.all(no_pileup["nvtx"] == 1)
    met_0 = np.hypot(no_pileup["met_px"], no_pileup["met_py"])
    met_20 = np.hypot(zmumu.met_px.values, zmumu.met_py.values)
    assert 5 < np.mean(met_0) < 20 and 20 < np.mean(met_20) < 45
    assert np.mean(met_20) > 1.5 * np.mean(met_0)
    high = zmumu.nvtx.values > np.median(zmumu.nvtx.values)
    assert np.mean(met_20[high]) > np.mean(met_20[~high])


def test_met_resolution_matches_cms(zmumu):
    """sigma(u_perp) and sigma(u_par + qT) against CMS's 13 TeV parametrisation in SumET (see
    CMS_MET_RESOLUTION), as pulls u / sigma_CMS(SumET) of each event: their RMS is 1 where physgen
    resolves like CMS (statistical error ~0.05 with these events; measured 1.01 and 0.93 on 1500)."""
    u_par, u_perp = _recoil(zmumu)
    root_sum_et = np.sqrt(zmumu.pf_sum_et.values)
    assert 800 < np.mean(zmumu.pf_sum_et.values) < 2000  # 20 minimum-bias interactions of ~60 GeV each
    for name, u in (("u_par", u_par - np.mean(u_par)), ("u_perp", u_perp)):
        a, b = CMS_MET_RESOLUTION[name]
        assert np.sqrt(np.mean((u / (a + b * root_sum_et)) ** 2)) == pytest.approx(1.0, abs=0.15), name


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
    ({"generator_m_ll_min": -5}, "generator_m_ll_min"),
    ({"rho_ranges": [[-2.5, 2.5], [2.0, 5.0]]}, "rho_ranges must be non-empty, non-overlapping"),
    ({"hcal_resolution": [{"max_abs_eta": 3.0, "constant": 0.05, "stochastic": 1.5}]}, "hcal_resolution bins must"),
])
def test_bad_input_fails_before_any_store_is_written(tmp_path, options, message):
    out = tmp_path / "never.zarr"
    with pytest.raises(SpecError, match=message):
        simulate(_spec(tmp_path, **options), out, events=5, progress=False)
    assert not out.exists()
