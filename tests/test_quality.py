"""Quality figures: known answers of the figure metrics, the quality step (per-class selection, one value
per name, the statistical floor, targets), its early checks, and the transforms of the Z→μμ features
(``threshold``; ``encode``, the forward transforms on tensors)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xarray as xr

from _train_stores import jet_image_store
from physgen.errors import PhysgenError, SpecError
from physgen.metrics import get_metric
from physgen.store import open_store
from physgen.pipeline import quality
from physgen.pipeline._quality import observable_summary
from physgen.train import TransformSet
from physgen.specs import Transform


def _dataset(**columns) -> xr.Dataset:
    return xr.Dataset({k: ("event", np.asarray(v, dtype=np.float64)) for k, v in columns.items()})


def test_mean_and_std_shift_are_the_moment_differences():
    rng = np.random.default_rng(1)
    x = rng.normal(90, 7, 20_000)
    reference, generated = _dataset(m=x), _dataset(m=1.1 * (x - x.mean()) + x.mean() + 0.4)  # +0.4, 10 % wider
    assert get_metric("mean_shift")(reference, generated, names=["m"]).value == pytest.approx(0.4, abs=1e-9)
    assert get_metric("std_shift")(reference, generated, names=["m"]).value == pytest.approx(0.1 * x.std(), rel=1e-9)
    with pytest.raises(PhysgenError, match=r"needs the options \['names'\]"):
        get_metric("mean_shift")(reference, generated).value


def test_moment_shifts_in_a_window_ignore_the_tails():
    """Same peak, but the generated sample has 2 % of its events in a far tail at 300: over all events the
    RMS differs by √(0.98·7² + 0.02·0.98·210²) − 7 ≈ 23 GeV, inside 60–120 GeV (paper 002's M_ll window) by the sampling noise only."""
    rng = np.random.default_rng(3)
    reference = _dataset(m=rng.normal(90, 7, 20_000))
    generated = _dataset(m=np.concatenate([rng.normal(90, 7, 19_600), np.full(400, 300.0)]))
    assert get_metric("std_shift")(reference, generated, names=["m"]).value == pytest.approx(23.2, abs=0.5)
    window = {"names": ["m"], "window": [60, 120]}
    for name in ("mean_shift", "std_shift"):
        estimate = get_metric(name)(reference, generated, **window)
        assert estimate.value < 3 * estimate.error < 0.3
    with pytest.raises(PhysgenError, match=r"no value inside the window \[200, 250\]"):
        get_metric("mean_shift")(reference, generated, names=["m"], window=[200, 250]).value


def test_peak_shift_finds_a_mass_peak_on_a_falling_background():
    rng = np.random.default_rng(2)

    def sample(peak):  # a W-like peak (width 8 GeV) on an exponential QCD-like background
        return np.concatenate([rng.normal(peak, 8, 6000), rng.exponential(40, 4000)])

    shift = get_metric("peak_shift")(_dataset(m=sample(80.4)), _dataset(m=sample(84.4)), names=["m"], window=[50, 120]).value
    assert shift == pytest.approx(4.0, abs=1.0)
    # a generator with no peak in the window (untrained: every mass at 200) fails the figure, not the run
    assert get_metric("peak_shift")(_dataset(m=sample(80.4)), _dataset(m=np.full(100, 200.0)), names=["m"],
                                    window=[50, 120]).value == np.inf
    with pytest.raises(PhysgenError, match=r"cannot locate a peak from 0 values in \[50.0, 120.0\]"):
        get_metric("peak_shift")(_dataset(m=np.full(100, 200.0)), _dataset(m=sample(80.4)), names=["m"], window=[50, 120])


def test_binned_mean_deviation_is_the_worst_decile():
    rng = np.random.default_rng(3)
    energy = rng.uniform(1, 100, 10_000)
    response = rng.normal(1.0, 0.02, 10_000)
    top = energy >= np.quantile(energy, 0.9)
    generated = _dataset(r=np.where(top, 1.03 * response, response), energy=energy)
    deviation = get_metric("binned_mean_deviation")(_dataset(r=response, energy=energy), generated, names=["r"]).value
    assert deviation == pytest.approx(0.03, rel=1e-6)  # the top decile is 3 % high, the others exact


def test_mean_image_difference_is_relative_l1():
    images = np.ones((10, 4, 4))
    reference = xr.Dataset({"image": (("event", "eta", "phi"), images)})
    generated = xr.Dataset({"image": (("event", "eta", "phi"), images * 1.1)})
    assert get_metric("mean_image_difference")(reference, generated, names=["image"]).value == pytest.approx(0.1)


def test_peak_mean_image_and_summary_weigh_a_weighted_reference(tmp_path):
    """A biased reference (the jets simulator's pT-hat bias weights QCD): 600 events of mass 70 ± 3 and
    image 1 per pixel with weight 1, 400 of mass 90 ± 3 and image 6 with weight 4. Weighted, the mass
    peaks at 90 with mean (600·70 + 1600·90) / 2200 = 930/11, and the average image is
    (600·1 + 1600·6) / 2200 = 51/11 per pixel; unweighted it peaks at 70 and averages to 3."""
    rng = np.random.default_rng(6)
    low = np.arange(1000) < 600
    weights = np.where(low, 1.0, 4.0)
    mass = np.where(low, 70.0, 90.0) + rng.normal(0, 3, 1000)
    mass[low] += 70 - mass[low].mean()
    mass[~low] += 90 - mass[~low].mean()
    reference = open_store(jet_image_store(tmp_path, 1000, weights=weights)).load()
    reference = reference.assign(m=("event", mass),
                                 image=(reference.image.dims, np.where(low, 1.0, 6.0)[:, None, None] * np.ones((1, 25, 25))))
    unit = reference.assign(weight=("event", np.ones(1000)))
    generated = xr.Dataset({"m": ("event", rng.normal(90, 3, 1000)),
                            "image": (reference.image.dims, np.full((1000, 25, 25), 51 / 11))})

    peak = get_metric("peak_shift")
    assert peak(reference, generated, names=["m"], window=[50, 120]).value < 1.5
    assert peak(unit, generated, names=["m"], window=[50, 120]).value == pytest.approx(20, abs=1.5)
    difference = get_metric("mean_image_difference")
    assert difference(reference, generated, names=["image"]).value == pytest.approx(0.0, abs=1e-12)
    assert difference(unit, generated, names=["image"]).value == pytest.approx((51 / 11 - 3) / 3, rel=1e-9)
    summary = observable_summary(reference, ["m"])["groups"]["all"]["m"]
    assert summary["mean"] == pytest.approx(930 / 11, rel=1e-12) and summary["events"] == 1000


def test_classifier_auc_is_a_half_for_one_distribution_and_one_for_disjoint_ones():
    rng = np.random.default_rng(4)
    a, b = rng.normal(0, 1, (4000, 2)), rng.normal(0, 1, (4000, 2))
    same = get_metric("c2st_auc")(_dataset(x=a[:, 0], y=a[:, 1]), _dataset(x=b[:, 0], y=b[:, 1]), epochs=3).value
    apart = get_metric("c2st_auc")(_dataset(x=a[:, 0], y=a[:, 1]), _dataset(x=b[:, 0] + 6, y=b[:, 1]),
                                     epochs=3).value
    assert abs(same - 0.5) < 0.06 and apart > 0.99  # 1600 test events: sigma(AUC) ~ 0.015


def test_dctr_gain_and_dilution_with_exact_density_ratio_weights():
    rng = np.random.default_rng(5)
    mu = 0.5
    x_ref, x_gen = rng.normal(0, 1, 50_000), rng.normal(mu, 1, 50_000)
    w = np.exp(-x_gen**2 / 2 + (x_gen - mu) ** 2 / 2)  # p_ref / p_gen
    generated = _dataset(x=x_gen, w=w / w.mean())
    ratio = get_metric("s2_weight_ratio")(_dataset(x=x_ref), generated, names=["x"], weights="w").value
    r = get_metric("dilution_median")(_dataset(x=x_ref), generated, names=["x"], weights="w").value
    assert ratio < 0.1  # exact weights remove the shift up to statistics
    # r = sqrt(sum w^2 (x - m)^2) / sum w over sigma_ref / sqrt(N) (paper 004 sec. III); for exact weights of
    # a unit Gaussian shifted by mu: E_gen[w^2 x^2] = exp(mu^2) E_{N(-mu,1)}[x^2] = exp(mu^2) (1 + mu^2)
    assert r == pytest.approx(np.exp(mu**2 / 2) * np.sqrt(1 + mu**2), rel=0.05)


def test_threshold_transform_keeps_generated_values_out_of_the_gap():
    transforms = TransformSet({"jet_pt": [Transform(name="threshold", options={"threshold": 20})]})
    y = torch.tensor([-3.0, 4.0, 9.9, 10.0, 15.0, 19.0, 20.0, 55.0])
    out = transforms.inverse({"jet_pt": y})["jet_pt"]
    assert out.tolist() == [0.0, 0.0, 0.0, 30.0, 25.0, 21.0, 20.0, 55.0]
    with pytest.raises(SpecError, match="threshold: Field required"):
        TransformSet({"jet_pt": [Transform(name="threshold")]})
    with pytest.raises(SpecError, match="threshold: Input should be greater than 0"):
        TransformSet({"jet_pt": [Transform(name="threshold", options={"threshold": 0})]})


def test_encode_is_the_forward_transform_on_tensors_and_keeps_the_gradient():
    """What a recipe computes in physical units (a muon energy from its momentum) goes back into the network's
    space through the same chain the loader applied: encode agrees with the numpy forward, and is differentiable."""
    chains = {"e": [Transform(name="log"), Transform(name="scale", options={"mean": 2.0, "std": 0.5})],
              "iso": [Transform(name="log", options={"offset": 0.01})], "n": [Transform(name="log1p")]}
    transforms = TransformSet(chains)
    x = {"e": np.array([15.0, 45.0, 300.0]), "iso": np.array([0.0, 0.05, 1.2]), "n": np.array([0.0, 3.0, 40.0])}
    expected = transforms.forward(x, None)
    tensors = {k: torch.tensor(v, requires_grad=True) for k, v in x.items()}
    encoded = transforms.encode(tensors)
    for k in x:
        np.testing.assert_allclose(encoded[k].detach().numpy(), expected[k], rtol=1e-6)
    encoded["e"].sum().backward()
    # d/dx (log(x) - 2) / 0.5 = 2 / x
    np.testing.assert_allclose(tensors["e"].grad.numpy(), 2 / x["e"], rtol=1e-6)


@pytest.fixture(scope="module")
def jet_stores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("jets")
    (tmp / "a").mkdir(), (tmp / "b").mkdir(), (tmp / "c").mkdir()
    return jet_image_store(tmp / "a", 200, seed=5), jet_image_store(tmp / "b", 200, seed=6), \
        jet_image_store(tmp / "c", 200, seed=7)


FIGURES = [
    {"label": "W jets S2", "metric": "s2_mean", "where": {"signal": 1}, "each": ["jet_mass", "jet_pt"],
     "target": 0.9},
    {"label": "W mass peak", "metric": "peak_shift", "where": {"signal": 1}, "target": 1e-9,
     "options": {"names": ["jet_mass"], "window": [0, 400]}},
    {"label": "average image", "metric": "mean_image_difference", "options": {"names": ["image"]}},
]


def test_quality_step_selects_classes_gives_values_per_name_and_a_floor(jet_stores, tmp_path):
    reference, generated, baseline = jet_stores
    result = quality(reference, generated, tmp_path / "q", figures=FIGURES, baseline=baseline, title="jets")
    s2, peak, image = result["figures"]
    assert set(s2["values"]) == {"jet_mass", "jet_pt"} and set(s2["baseline_values"]) == {"jet_mass", "jet_pt"}
    assert s2["passed"] is True and peak["passed"] is False and image["passed"] is None
    assert image["figure"].endswith("average_image.png") and (tmp_path / "q" / "figures" / "average_image.png").is_file()
    assert result["targets"] == 2 and result["targets_met"] == 1
    saved = json.loads((tmp_path / "q" / "quality.json").read_text())
    assert saved["figures"][0]["values"] == s2["values"] and saved["baseline"]["events"] == 200
    table = (tmp_path / "q" / "quality.md").read_text()
    assert "| W jets S2 | signal = 1 |" in table and "targets met: 1 of 2" in table


def test_quality_figures_are_checked_before_anything_is_computed(jet_stores, tmp_path):
    reference, generated, _ = jet_stores
    with pytest.raises(SpecError, match="quality figure 0 .*lable"):
        quality(reference, generated, tmp_path / "q", figures=[{"lable": "x", "metric": "s2_mean"}])
    with pytest.raises(PhysgenError, match="unknown metric 'ks_summ'; did you mean 'ks_sum'"):
        quality(reference, generated, tmp_path / "q", figures=[{"label": "x", "metric": "ks_summ"}])
    with pytest.raises(PhysgenError, match="no per-event variable 'charge'"):
        quality(reference, generated, tmp_path / "q",
                figures=[{"label": "x", "metric": "s2_mean", "where": {"charge": 1}}])
    assert not (tmp_path / "q" / "quality.json").exists()


def test_weighted_figures_have_no_floor_and_the_others_keep_theirs(tmp_path):
    from physgen.sim import simulate
    from physgen.store import add_variable

    stores = [simulate("toy_bimodal_1d", tmp_path / f"{i}.zarr", events=2000, seed=i, progress=False) for i in range(3)]
    add_variable(stores[1], "w", np.ones(2000), attrs={"units": "dimensionless"}, provenance={"producer": "test"})
    figures = [{"label": "S2", "metric": "s2_mean", "options": {"names": ["x"]}},
               {"label": "S2 with w / without", "metric": "s2_weight_ratio", "options": {"names": ["x"], "weights": "w"}}]
    plain, weighted = quality(stores[0], stores[1], tmp_path / "q", figures=figures, baseline=stores[2])["figures"]
    assert "baseline_value" in plain and "baseline_value" not in weighted
    assert weighted["value"] == pytest.approx(1.0)  # unit weights change nothing
