"""Weighted (biased) samples: training draws events ∝ weight, metrics and snapshot selection weigh the
reference, bad weights fail clearly, and the jets simulator's pT-hat bias leaves the physics unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from physgen.errors import PhysgenError
from physgen.metrics import Comparison, chi2_test, effective_sample_size, get_metric, roc_auc
from physgen.sim import build_simulator, simulate
from physgen.specs import LoadedSpec, TrainingOptions, assignments, load_with_overrides
from physgen.store import open_store, resolve_dataset
from physgen.train import StoreData, load_model_spec, train_classifier
from physgen.train._distributed import Distributed
from physgen.train.selection import generated_dataset
from _train_stores import jet_image_store, model_spec

pytestmark = pytest.mark.usefixtures("torch_one_thread")

N_EVENTS = 960
SPEC = Path(__file__).resolve().parents[1] / "specs" / "datasets" / "jets_wprime_qcd.yaml"


def _uneven_weights(n: int = N_EVENTS) -> np.ndarray:
    """Weight 3 for the W events (odd index) of the store's second half, 1 otherwise: the chunks differ in
    weight sum, so drawing the same number of events from every chunk would give the wrong mixture."""
    index = np.arange(n)
    return np.where((index % 2 == 1) & (index >= n // 2), 3.0, 1.0)


def _store_data(tmp_path: Path, weights: np.ndarray, **data) -> StoreData:
    url = jet_image_store(tmp_path, events=len(weights), weights=weights)
    spec = model_spec(tmp_path, "lagan_compact", training={"batch_size": 32, "validation_fraction": 0.0}, data=data)
    store = StoreData(load_model_spec(spec).spec, url, TrainingOptions(), Distributed(), 0)
    store.fit(None)
    return store


def _drawn_signal(data: StoreData, epochs: int) -> np.ndarray:
    return np.concatenate([b["signal"].numpy() for epoch in range(epochs) for b in data.loader(epoch, 0, False)])


def test_loader_draws_events_with_frequency_proportional_to_weight(tmp_path):
    """Exact expectation: the W share of the weighted store is Σ w·signal / Σ w = 2/3 (not the 1/2 of its
    counts); 5 epochs of 960 draws give it within 5 binomial σ, and every epoch keeps its 30 batches."""
    weights = _uneven_weights()
    data = _store_data(tmp_path, weights)
    assert data.info()["event_weights"] == "weight"
    assert data.batches_in_epoch(0) == N_EVENTS // 32
    drawn = _drawn_signal(data, epochs=5)
    expected = np.sum(weights * (np.arange(N_EVENTS) % 2)) / weights.sum()
    assert expected == pytest.approx(2 / 3)
    sigma = np.sqrt(expected * (1 - expected) / len(drawn))
    assert abs(drawn.mean() - expected) < 5 * sigma
    assert data.info()["effective_train_events"] == pytest.approx(effective_sample_size(weights), rel=1e-3)


def test_weights_can_be_switched_off_in_the_model_spec(tmp_path):
    """``data.event_weights: false``: every event once per epoch, so exactly half the draws are W jets."""
    data = _store_data(tmp_path, _uneven_weights(), event_weights=False)
    assert data.info()["event_weights"] is None
    assert _drawn_signal(data, epochs=1).mean() == 0.5


@pytest.mark.parametrize("bad", [-1.0, np.nan])
def test_negative_or_nan_weights_stop_training_and_evaluation_with_one_message(tmp_path, bad):
    weights = _uneven_weights()
    weights[7] = bad
    with pytest.raises(PhysgenError, match="must be finite and non-negative"):
        _store_data(tmp_path, weights)
    reference = open_store(str(tmp_path / "jets.zarr"))
    with pytest.raises(PhysgenError, match="the reference: the event weights 'weight' must be finite"):
        Comparison(reference, reference)


def test_dctr_classifier_learns_the_weighted_reference(tmp_path):
    """DCTR's classifier reads a weighted reference with its weights: against an unweighted sample of the
    physics that reference stands for (drawn ∝ weight: 80 % W jets where the stored events hold 50 %) the
    held-out weighted AUC is near ½ and the weights are flat; the same reference with its weights dropped
    is told apart by the jet mass (the W share differs) — the check that the weights are really used."""
    n = 4000
    url = jet_image_store(tmp_path, events=n, weights=np.where(np.arange(n) % 2 == 1, 4.0, 1.0))
    reference = open_store(url).load()
    generated = _resampled(reference, n, seed=1)
    unit = reference.assign(weight=("event", np.ones(n, np.float32)))
    spec = model_spec(tmp_path, "dctr_toy_1d", data={"inputs": ["jet_mass"]},
                      training={"epochs": 4, "batch_size": 256})
    auc = {}
    for name, ref in (("weighted", reference), ("unit", unit)):
        result = train_classifier(spec, ref, generated, tmp_path / name, progress=False)
        logits, labels, weights = result.data.held_out_logits(result.recipe)
        assert (weights is None) == (name == "unit")
        auc[name] = roc_auc(labels, logits, weights)
    assert abs(auc["weighted"] - 0.5) < 0.04 < auc["unit"] - 0.5  # measured 0.506 and 0.624


def _resampled(reference, n: int, seed: int = 0):
    """An unweighted sample of the physics a weighted reference stands for (drawn ∝ weight)."""
    w = reference.weight.values.astype(np.float64)
    rows = np.random.default_rng(seed).choice(reference.sizes["event"], n, p=w / w.sum())
    return reference.isel(event=rows).assign(weight=("event", np.ones(n, np.float32)))


def test_metrics_compare_with_the_weighted_reference(tmp_path):
    """A sample drawn ∝ weight from the reference agrees with the weighted reference (χ²/ndf of the jet
    mass near 1, Gagunashvili's test; a weighted classifier two-sample AUC near ½) and is farther from the
    same reference read unweighted."""
    url = jet_image_store(tmp_path, events=N_EVENTS, weights=_uneven_weights())
    reference = open_store(url).load()
    generated = _resampled(reference, 4000)
    weighted = get_metric("chi2_ndf_mean")(reference, generated, names=["jet_mass"], bins=20).value
    unit = reference.assign(weight=("event", np.ones(N_EVENTS, np.float32)))
    unweighted = get_metric("chi2_ndf_mean")(unit, generated, names=["jet_mass"], bins=20).value
    assert weighted < 2.0 < unweighted
    with pytest.raises(PhysgenError, match="does not take event weights, and the reference events are weighted"):
        get_metric("precision")(reference, generated)
    c2st = {name: get_metric("c2st_auc")(ref, generated, names=["jet_mass", "jet_pt"], epochs=5).value
            for name, ref in (("weighted", reference), ("unweighted", unit))}
    assert abs(c2st["weighted"] - 0.5) < 0.08 and c2st["unweighted"] - c2st["weighted"] > 0.03  # 0.46, 0.53


def test_average_image_and_mass_peak_weigh_the_reference(tmp_path):
    """The average image (paper 000 Fig. 5) and the W mass peak (Fig. 6) of a weighted reference are those
    of the physics it stands for: the reference compared with itself, its weights naming the generated
    events' weights too, differs by 0; a large sample drawn ∝ weight is close, and the unweighted reading
    of the same reference is farther (its W share is wrong)."""
    url = jet_image_store(tmp_path, events=N_EVENTS, weights=_uneven_weights())
    reference = open_store(url).load()
    drawn = _resampled(reference, 20_000)
    unit = reference.assign(weight=("event", np.ones(N_EVENTS, np.float32)))
    image = get_metric("mean_image_difference")
    assert image(reference, reference, weights="weight", names=["image"]).value == pytest.approx(0.0, abs=1e-12)
    assert image(reference, drawn, names=["image"]).value < 0.5 * image(unit, drawn, names=["image"]).value
    peak = get_metric("peak_shift")(reference, reference, weights="weight", names=["jet_mass"]).value
    assert peak == pytest.approx(0.0, abs=1e-9)
    assert get_metric("peak_shift")(reference, unit, weights="weight", names=["jet_mass"]).value > 0


def test_snapshot_scores_use_the_weighted_held_out_events(tmp_path):
    """Snapshot selection's emd_minimax (class-conditional jet mass and τ21 from the images): with W
    weights that favour a hard second prong (weight 10 above 75 GeV, else 1), a generated sample with the
    weighted physics scores better than one with the unweighted physics; the generated dataset carries
    no weights."""
    plain = open_store(jet_image_store(tmp_path / "plain", events=N_EVENTS)).load()
    weights = np.where((plain.signal.values == 1) & (plain.image.values[:, 12, 15] > 75), 10.0, 1.0)
    held = open_store(jet_image_store(tmp_path, events=N_EVENTS, weights=weights))[["image", "signal", "weight"]]
    held = held.load()
    right = _resampled(held, N_EVENTS)
    wrong = held.isel(event=np.random.default_rng(1).integers(0, N_EVENTS, N_EVENTS))
    metric = get_metric("emd_minimax")
    generated = [generated_dataset(held, {k: g[k].values for k in ("image", "signal")}) for g in (right, wrong)]
    assert "weight" not in generated[0]
    scores = [metric(held, g).value for g in generated]
    assert scores[0] < scores[1]


def _jets_spec(**options) -> LoadedSpec:
    """The shipped LAGAN dataset spec with its simulator ``options`` changed."""
    return load_with_overrides(SPEC, "dataset", assignments(options, "simulator.options."))


def test_pt_hat_bias_weights_qcd_only_and_is_recorded(tmp_path):
    """Pythia's bias2Selection applies to 2 → 2 processes: QCD events get unequal weights (average 1 per
    chunk and class, so the weighted W' share stays the spec's), W' events (2 → 1) weight 1."""
    spec = _jets_spec(mass_window=None, pt_hat_bias=4)
    url = simulate(spec, tmp_path / "biased.zarr", events=16, seed=2, progress=False)
    store = open_store(url).load()
    signal, weight = store.signal.values == 1, store.weight.values
    np.testing.assert_allclose(weight[signal], 1.0)
    assert weight[~signal].std() > 0 and weight[~signal].mean() == pytest.approx(1.0, rel=1e-5)
    producer = store.physgen.provenance["producer"]
    assert producer["options"]["pt_hat_bias"] == 4
    assert "PhaseSpace:bias2SelectionPow = 4.0" in producer["pythia_settings"]["background"]
    assert not any("bias2" in s for s in producer["pythia_settings"]["signal"])


def _qcd_jets(spec: str, n: int, seed: int) -> dict[str, np.ndarray]:
    return build_simulator(resolve_dataset(spec)).simulate(n, np.random.SeedSequence(seed))


@pytest.mark.slow
def test_biased_and_unbiased_qcd_jets_agree_on_mass_pt_and_tau21(tmp_path):
    """The biased QCD sample, weighted, has the unbiased sample's jet mass, pT and τ21 (Gagunashvili's
    weighted-vs-unweighted χ² test, arXiv:physics/0605123, 10 bins on the unbiased range, p > 0.001
    for each: a false alarm once in 1000 per observable), 300 jets each, no mass window, same pT-hat
    window [200, 400] GeV."""
    plain = _qcd_jets(_jets_spec(process="background", mass_window=None), 300, 7)
    biased = _qcd_jets(_jets_spec(process="background", mass_window=None, pt_hat_bias=4), 300, 8)
    assert effective_sample_size(biased["weight"]) > 100  # a useful sample, not a few heavy events
    for name in ("jet_mass", "jet_pt", "tau_21"):
        result = chi2_test(plain[name], biased[name], bins=10, weights_b=biased["weight"])
        assert result.p_value > 1e-3, f"{name}: χ² {result.chi2:.1f} for {result.ndf} dof"
