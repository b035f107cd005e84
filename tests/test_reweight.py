"""DCTR: weights against known density ratios, calibration, clipping, interruption, bad input, CLI, toy."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

import physgen.store._variables as variables
from physgen.cli import app
from physgen.errors import PhysgenError, SchemaError, SpecError, StoreError
from physgen.metrics import balanced_nll, fit_temperature, roc_auc, separation_power
from physgen.models import CNN3DClassifier
from physgen.reweight import clip_and_normalise, load_classifier, reweight
from physgen.sim import simulate
from physgen.specs import LoadedSpec, parse_spec
from physgen.store import create_store, open_store, read_provenance, resolve_dataset, validate_store


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _store(url, dataset: str, **columns: np.ndarray) -> str:
    resolved = resolve_dataset(dataset)
    writer = create_store(str(url), resolved.schema, chunk_events=4000,
                          provenance={"specs": resolved.spec_texts(), "producer": {"kind": "test"}})
    writer.append({k: v.astype(np.float32) for k, v in columns.items()})
    return str(url)


def _spec(name: str = "dctr_toy_1d", hidden: list[int] | None = None, **training) -> LoadedSpec:
    """A shipped DCTR spec with a shorter training (tests run in seconds)."""
    from physgen.specs import SpecRegistry

    data = yaml.safe_load(SpecRegistry.default().get("model", name).text)
    data["training"] |= {"epochs": 6, "batch_size": 256} | training
    if hidden is not None:
        data["hyperparameters"]["hidden"] = hidden
    text = yaml.safe_dump(data)
    return LoadedSpec(parse_spec(data), text, f"test {name}")


def _ratio(x: np.ndarray) -> np.ndarray:
    """p_ref/p_gen for reference N(0, 1) and generated N(0.5, 1)."""
    return np.exp(-0.5 * x**2 + 0.5 * (x - 0.5) ** 2)


@pytest.fixture(scope="module")
def gaussians(tmp_path_factory):
    """Reference N(0,1) and generated N(0.5,1), 16 000 events each, reweighted once."""
    tmp = tmp_path_factory.mktemp("gauss")
    rng = np.random.default_rng(7)
    ref = _store(tmp / "ref.zarr", "toy_bimodal_1d", x=rng.normal(0.0, 1.0, 16_000))
    gen = _store(tmp / "gen.zarr", "toy_bimodal_1d", x=rng.normal(0.5, 1.0, 16_000))
    torch.set_num_threads(1)
    metrics = reweight(ref, gen, _spec(), out=tmp / "run", progress=False)
    return ref, gen, tmp / "run", metrics


def test_weights_approximate_the_analytic_density_ratio(gaussians):
    _, gen, run_dir, _ = gaussians
    network, temperature, _ = load_classifier(run_dir)
    grid = np.linspace(-2.0, 2.5, 46)
    with torch.no_grad():
        learnt = np.exp(network(torch.as_tensor(grid[:, None], dtype=torch.float32)).numpy() / temperature)
    exact = _ratio(grid)  # 3.1 … 0.33 on the grid
    assert np.corrcoef(learnt, exact)[0, 1] > 0.98
    assert np.mean(np.abs(learnt - exact)) < 0.12
    ds = open_store(gen)
    stored, x = ds.dctr_weight.values, ds.x.values
    assert np.corrcoef(stored, _ratio(x))[0, 1] > 0.95


def test_weights_are_clipped_normalised_and_recorded(gaussians):
    ref, gen, run_dir, metrics = gaussians
    weights = open_store(gen).dctr_weight.values
    assert weights.max() <= 5.0
    assert weights.mean() == pytest.approx(1.0, abs=1e-12)
    assert weights.dtype == np.float64
    record = read_provenance(gen)["extra_variables"]["dctr_weight"]["provenance"]
    assert record["clip"] == 5.0 and record["reference"] == ref and record["temperature"] == metrics["temperature"]
    assert record["auc_before_calibration"] == record["auc_after_calibration"]
    assert 0.6 < record["auc_after_calibration"] < 0.7  # N(0,1) vs N(0.5,1): Φ(0.5/√2) = 0.638
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["weights"]["max"] <= 5.0 and saved["variable"] == "dctr_weight"
    assert json.loads((run_dir / "calibration.json").read_text())["temperature"] == metrics["temperature"]
    assert validate_store(gen) == []


def test_same_distribution_gives_unit_weights(tmp_path):
    rng = np.random.default_rng(3)
    ref = _store(tmp_path / "ref.zarr", "toy_bimodal_1d", x=rng.normal(0.0, 1.0, 12_000))
    gen = _store(tmp_path / "gen.zarr", "toy_bimodal_1d", x=rng.normal(0.0, 1.0, 12_000))
    metrics = reweight(ref, gen, _spec(epochs=3), out=tmp_path / "run", progress=False)
    weights = open_store(gen).dctr_weight.values
    assert weights.std() < 0.1
    assert abs(metrics["auc_after_calibration"] - 0.5) < 0.03


def test_clip_and_normalise_hold_exactly():
    raw = np.random.default_rng(1).lognormal(0.0, 1.5, 50_000)
    weights = clip_and_normalise(raw, 5.0)
    assert weights.max() == 5.0
    assert weights.mean() == pytest.approx(1.0, abs=1e-12)
    unclipped = weights < 5.0  # below the clip the shape of the raw weights is kept
    np.testing.assert_allclose(weights[unclipped] / raw[unclipped], (weights / raw)[unclipped][0], rtol=1e-12)
    gentle = np.linspace(0.5, 1.5, 101)
    np.testing.assert_allclose(clip_and_normalise(gentle, 5.0), gentle)  # nothing to clip: only normalised
    with pytest.raises(SpecError, match="clip must be >= 1"):
        clip_and_normalise(raw, 0.5)


def test_clip_and_normalise_with_raw_weights_spanning_e_to_the_100():
    """A confident classifier gives exp(±50) (the logit cap): the scale must still give mean 1, not 0."""
    raw = np.exp(np.concatenate([[-50.0, 50.0], np.random.default_rng(3).normal(0.0, 2.0, 10_000)]))
    weights = clip_and_normalise(raw, 5.0)
    assert weights.mean() == pytest.approx(1.0, abs=1e-12)
    assert weights.max() == 5.0 and np.median(weights) > 0.1


def test_temperature_scaling_keeps_auc_and_lowers_nll():
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(0.0, 1.0, 20_000), rng.normal(0.5, 1.0, 20_000)])
    labels = np.concatenate([np.ones(20_000), np.zeros(20_000)])
    calibrated = np.log(_ratio(x))
    assert fit_temperature(calibrated, labels) == pytest.approx(1.0, abs=0.1)
    overconfident = 3.0 * calibrated
    temperature = fit_temperature(overconfident, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    assert roc_auc(labels, overconfident / temperature) == roc_auc(labels, overconfident)
    assert balanced_nll(overconfident, labels, temperature) < balanced_nll(overconfident, labels) - 0.05


def test_integer_weights_score_as_repeated_events():
    """An event of weight k counts as k copies: the weighted AUC (ties ½), class-balanced NLL and fitted
    temperature equal the unweighted ones of the sample with every event repeated k times."""
    rng = np.random.default_rng(11)
    labels = rng.random(600) < 0.4
    logits = np.round(rng.normal(0.8 * labels, 1.0), 1)  # rounded: many ties across the classes
    weights = rng.integers(1, 5, 600).astype(np.float64)
    copies = np.repeat(np.arange(600), weights.astype(int))
    assert roc_auc(labels, logits, weights) == pytest.approx(roc_auc(labels[copies], logits[copies]), abs=1e-12)
    assert balanced_nll(logits, labels, 1.7, weights) == pytest.approx(balanced_nll(logits[copies], labels[copies], 1.7),
                                                                      rel=1e-12)
    assert fit_temperature(logits, labels, weights) == pytest.approx(fit_temperature(logits[copies], labels[copies]),
                                                                     rel=1e-6)
    assert roc_auc(labels, logits, weights) != pytest.approx(roc_auc(labels, logits), abs=1e-3)


def test_interrupted_reweighting_leaves_store_consistent_and_rerun_completes(tmp_path, monkeypatch):
    rng = np.random.default_rng(4)
    ref = _store(tmp_path / "ref.zarr", "toy_bimodal_1d", x=rng.normal(0.0, 1.0, 6000))
    gen = _store(tmp_path / "gen.zarr", "toy_bimodal_1d", x=rng.normal(0.5, 1.0, 6000))
    x_before = open_store(gen).x.values
    spec = _spec(epochs=1)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(variables, "_commit_variable", killed)
    with pytest.raises(KeyboardInterrupt):
        reweight(ref, gen, spec, out=tmp_path / "run", progress=False)
    assert list(open_store(gen).data_vars) == ["x"] and validate_store(gen) == []
    monkeypatch.undo()
    reweight(ref, gen, spec, out=tmp_path / "run", overwrite=True, progress=False)
    reweight(ref, gen, spec, out=tmp_path / "run2", name="second", seed=5, progress=False)
    ds = open_store(gen)
    assert list(ds.data_vars) == ["x", "dctr_weight", "second"]
    np.testing.assert_array_equal(ds.x.values, x_before)
    assert np.corrcoef(ds.dctr_weight.values, ds.second.values)[0, 1] > 0.9
    with pytest.raises(StoreError, match="already has the variable 'dctr_weight'"):
        reweight(ref, gen, spec, out=tmp_path / "run3", progress=False)
    reweight(ref, gen, spec, out=tmp_path / "run4", name="third", progress=False)  # same seed as dctr_weight
    np.testing.assert_array_equal(open_store(gen).third.values, open_store(gen).dctr_weight.values)


def test_bad_input_gives_clear_errors(tmp_path):
    rng = np.random.default_rng(5)
    one_d = _store(tmp_path / "1d.zarr", "toy_bimodal_1d", x=rng.normal(size=500))
    two_d = _store(tmp_path / "2d.zarr", "toy_circle_8", x=rng.normal(size=500), y=rng.normal(size=500))
    with pytest.raises(SchemaError, match="different schemas"):
        reweight(one_d, two_d, _spec(), out=tmp_path / "a", progress=False)
    other = _store(tmp_path / "1d_b.zarr", "toy_bimodal_1d", x=rng.normal(size=500))
    with pytest.raises(PhysgenError, match=r"inputs \['y'\] are neither variables of the reference store .* nor observables"):
        reweight(one_d, other, _spec("dctr_toy_2d"), out=tmp_path / "b", progress=False)
    with pytest.raises(StoreError, match="identifier"):
        reweight(one_d, other, _spec(), out=tmp_path / "d", name="my weight", progress=False)
    with pytest.raises(StoreError, match="no physgen store"):
        reweight(one_d, tmp_path / "missing.zarr", _spec(), out=tmp_path / "c", progress=False)
    with pytest.raises(SpecError, match="expected a DCTR model spec"):
        reweight(one_d, other, "toy_gan_bimodal_1d", out=tmp_path / "e", progress=False)
    with pytest.raises(SpecError, match=r"hyperparameters\.hidden"):
        _spec(hidden=[])
    assert list(open_store(other).data_vars) == ["x"]


def test_cnn3d_classifier_shapes_and_flips():
    network = CNN3DClassifier((10, 10, 10), filters=4, dense=[8, 8])
    logits = network(torch.rand(3, 10, 10, 10))
    assert logits.shape == (3,)
    paper = CNN3DClassifier((30, 30, 30))  # 30 → 15 → 8 → 6 cells, 128 filters
    first_dense = next(m for m in paper.net if isinstance(m, torch.nn.Linear))
    assert first_dense.in_features == 128 * 6**3
    with pytest.raises(SpecError, match="too small"):
        CNN3DClassifier((2, 2, 2))


def test_cli_reweight(tmp_path):
    rng = np.random.default_rng(6)
    ref = _store(tmp_path / "ref.zarr", "toy_bimodal_1d", x=rng.normal(0.0, 1.0, 3000))
    gen = _store(tmp_path / "gen.zarr", "toy_bimodal_1d", x=rng.normal(0.5, 1.0, 3000))
    spec_path = tmp_path / "dctr.yaml"
    spec_path.write_text(_spec(epochs=1).text)
    runner = CliRunner()
    args = ["reweight", ref, gen, "--model", str(spec_path), "--out", str(tmp_path / "run"), "--name", "w"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "added w" in result.output
    assert (tmp_path / "run" / "classifier.pt").is_file()
    again = runner.invoke(app, args)
    assert again.exit_code == 2
    assert "already has the variable 'w'" in again.output
    other_name = runner.invoke(app, [*args[:-1], "w2"])
    assert other_name.exit_code == 2
    assert "not empty; pass --overwrite" in other_name.output
    assert list(open_store(gen).data_vars) == ["x", "w"]


def test_toy_bimodal_dctr_improves_separation_power(tmp_path):
    """Reference: the bimodal toy; 'generator': the same modes with wrong weights and widths."""
    ref = simulate("toy_bimodal_1d", tmp_path / "ref.zarr", events=20_000, progress=False)
    rng = np.random.default_rng(8)
    n = 20_000
    left = rng.random(n) < 0.65
    x = np.where(left, rng.normal(-1.0, 0.5, n), rng.normal(1.0, 0.35, n))
    gen = _store(tmp_path / "gen.zarr", "toy_bimodal_1d", x=x)
    reweight(ref, gen, _spec(epochs=8), out=tmp_path / "run", progress=False)
    ds_ref, ds_gen = open_store(ref), open_store(gen)
    bins = np.linspace(-3, 3, 61)
    before = separation_power(ds_ref.x.values, ds_gen.x.values, bins=bins)
    after = separation_power(ds_ref.x.values, ds_gen.x.values, bins=bins, weights_b=ds_gen.dctr_weight.values)
    assert before > 0.02
    assert after / before < 0.6
