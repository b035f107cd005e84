"""Classifier two-sample tests: physgen's fast default and the Fast Calorimeter Simulation Challenge's
(its DNN, inputs, split, best epoch, isotonic calibration, AUC and unclipped JSD), each under its own names."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from physgen.metrics import challenge_classifier_test, classifier_test, get_metric
from physgen.metrics.calibration import isotonic_calibration
from physgen.metrics.classifier import challenge_highlevel_inputs, challenge_lowlevel_inputs, challenge_scores
from physgen.store import create_store, open_store, resolve_dataset

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def test_isotonic_calibration_known_answers():
    """Pool adjacent violators by hand: labels 0 1 0 1 at p = .1 .2 .3 .4 → 0, ½, ½, 1, clipped to
    [1e-6, 1 − 1e-6], interpolated linearly in between and held at the end values outside
    (scikit-learn's IsotonicRegression(out_of_bounds="clip", y_min=1e-6, y_max=1 − 1e-6), as the challenge uses)."""
    calibrate = isotonic_calibration(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 1, 0, 1]))
    np.testing.assert_allclose(calibrate(np.array([0.1, 0.2, 0.3, 0.4])), [1e-6, 0.5, 0.5, 1 - 1e-6])
    np.testing.assert_allclose(calibrate(np.array([0.0, 0.15, 0.25, 0.35, 1.0])),
                               [1e-6, (1e-6 + 0.5) / 2, 0.5, (0.5 + 1 - 1e-6) / 2, 1 - 1e-6])
    tied = isotonic_calibration(np.array([0.5, 0.5, 0.9]), np.array([0, 1, 1]))  # equal p: labels averaged
    np.testing.assert_allclose(tied(np.array([0.5, 0.9])), [0.5, 1 - 1e-6])


def test_isotonic_calibration_matches_scikit_learn():
    sklearn = pytest.importorskip("sklearn.isotonic")
    rng = np.random.default_rng(4)
    p = np.round(rng.uniform(size=2000), 3)  # with ties
    labels = (rng.uniform(size=2000) < p**2).astype(float)
    reference = sklearn.IsotonicRegression(out_of_bounds="clip", y_min=1e-6, y_max=1 - 1e-6).fit(p, labels)
    new = rng.uniform(-0.1, 1.1, 500)
    np.testing.assert_allclose(isotonic_calibration(p, labels)(new), reference.predict(new), rtol=1e-12, atol=1e-15)


def test_challenge_scores_match_the_challenges_own_computation():
    """The calibration and scoring of evaluate.py's evaluate_cls(final_eval=True), written with its own
    libraries (scikit-learn's IsotonicRegression and roc_auc_score, torch's BCELoss) on the same logits."""
    isotonic = pytest.importorskip("sklearn.isotonic")
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(8)
    labels = np.r_[np.ones(3000), np.zeros(3000)]
    logits = rng.normal(0.8 * labels, 1.3).astype(np.float32).astype(np.float64)
    cal, test = slice(0, None, 2), slice(1, None, 2)
    sigmoid = torch.sigmoid(torch.tensor(logits)).numpy()
    iso = isotonic.IsotonicRegression(out_of_bounds="clip", y_min=1e-6, y_max=1.0 - 1e-6).fit(sigmoid[cal], labels[cal])
    rescaled = iso.predict(sigmoid[test])
    auc = metrics.roc_auc_score(labels[test], rescaled)
    bce = torch.nn.BCELoss()(torch.tensor(rescaled), torch.tensor(labels[test])).item()
    ours = challenge_scores(logits[cal], labels[cal], logits[test], labels[test])
    assert ours == pytest.approx((auc, (np.log(2.0) - bce) / np.log(2.0)), rel=1e-12, abs=1e-14)


def test_challenge_test_on_identical_and_on_separable_samples():
    rng = np.random.default_rng(0)
    same = challenge_classifier_test(rng.normal(size=(1500, 4)), rng.normal(size=(1500, 4)), epochs=4,
                                     n_hidden=32, batch_size=100)
    apart = challenge_classifier_test(rng.normal(size=(1500, 4)), rng.normal(3, 1, size=(1500, 4)), epochs=4,
                                      n_hidden=32, batch_size=100)
    assert same.convention == "calochallenge" and same.n_test == 600  # 20 % of each sample of 1500
    assert abs(same.auc - 0.5) < 0.06 and abs(same.jsd) < 0.05  # JSD is not clipped: it may be slightly < 0
    assert apart.auc > 0.99 and apart.jsd > 0.8  # N(0,1) vs N(3,1) in 4D: Bayes error ≈ Φ(−3) ≈ 0.1 %
    assert 1 <= same.best_epoch <= 4 and 1 <= apart.best_epoch <= 4


def test_physgen_default_and_registry_names_have_one_meaning():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(800, 2))
    b = rng.normal(0.6, 1, size=(800, 2))
    result = classifier_test(a, b, epochs=5)
    assert result.convention == "physgen" and result.calibration["method"] == "temperature"
    assert 0.6 < result.auc < 0.8  # two features shifted by 0.6σ: d′ = 0.6·√2, AUC = Φ(d′/√2) = Φ(0.6) ≈ 0.73
    ds_a = xr.Dataset({"u": ("event", a[:, 0]), "v": ("event", a[:, 1])})
    ds_b = xr.Dataset({"u": ("event", b[:, 0]), "v": ("event", b[:, 1])})
    metric = get_metric("c2st_auc")
    auc = metric(ds_a, ds_b, epochs=5)
    assert auc.value == pytest.approx(result.auc, abs=1e-12)  # the registry's c2st_auc is the AUC
    assert metric.distance(auc) == pytest.approx(abs(result.auc - 0.5), abs=1e-12)  # what snapshot selection scores


def _calochallenge_store(tmp_path, name: str, incident: np.ndarray, cells: np.ndarray) -> str:
    dataset = resolve_dataset("import_calochallenge_1_photons")
    writer = create_store(str(tmp_path / name), dataset.schema, chunk_events=100,
                          provenance={"specs": dataset.spec_texts(), "producer": {"kind": "test"}})
    writer.append({"showers": cells.astype(np.float32), "incident_energy": incident.astype(np.float32)})
    return str(tmp_path / name)


def test_challenge_inputs_follow_the_challenge_preparation(tmp_path):
    """prepare_low_data_for_classifier: [log10 E_inc, voxels / E_inc] (MeV); prepare_high_data_for_classifier:
    log10(E + 1e-8) for energies, mm / 100 for positions and widths, the rest as it is."""
    cells = np.zeros((2, 368))
    cells[0, 0], cells[0, 5], cells[1, 367] = 2.0, 0.05, 512.0
    url = _calochallenge_store(tmp_path, "c.zarr", np.array([1000.0, 2048.0]), cells)
    low = challenge_lowlevel_inputs(open_store(url), threshold_mev=0.1)
    assert low.shape == (2, 369)
    np.testing.assert_allclose(low[:, 0], [3.0, np.log10(2048.0)], rtol=1e-7)
    assert low[0, 1] == pytest.approx(0.002) and low[0, 6] == 0.0  # 0.05 MeV is below the 0.1 MeV cut
    assert low[1, 368] == pytest.approx(0.25)
    ds = xr.Dataset({"incident_energy": ("event", [1.0, 10.0], {"units": "GeV"}),
                     "e_layer": ("event", [100.0, 0.0], {"units": "MeV"}),
                     "centre": ("event", [25.0, -3.0], {"units": "cm"}),
                     "sparsity": ("event", [0.3, 0.9], {"units": "dimensionless"})})
    high = challenge_highlevel_inputs(ds, ["e_layer", "centre", "sparsity"])
    np.testing.assert_allclose(high, [[3.0, np.log10(100.0 + 1e-8), 2.5, 0.3], [4.0, -8.0, -0.3, 0.9]], rtol=1e-9)


def test_challenge_lowlevel_metric_sees_a_mismodelled_shower(tmp_path):
    rng = np.random.default_rng(2)
    incident = rng.uniform(1e3, 1e4, 600)
    profile = np.exp(-np.arange(368) / 40.0)
    ref = _calochallenge_store(tmp_path, "ref.zarr", incident, incident[:, None] * profile * rng.gamma(5, 0.2, (600, 368)) / 40)
    gen = _calochallenge_store(tmp_path, "gen.zarr", incident,
                               incident[:, None] * profile[::-1] * rng.gamma(5, 0.2, (600, 368)) / 40)
    auc = get_metric("classifier_auc_challenge_lowlevel")(open_store(ref), open_store(gen), epochs=2, n_hidden=64)
    assert auc.value > 0.95  # the generated profile runs backwards
