"""``physgen evaluate``: metrics.json, the self-contained HTML report, bad input; a slow browser check."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
from typer.testing import CliRunner

from physgen.cli import app
from physgen.report import evaluate
from physgen.testing._observable_strategies import make_store

runner = CliRunner()
NAMES = ["m_ll", "met", "mu1_iso"]
WEIGHTS = {"w_a": ("dimensionless", lambda rng, n: rng.uniform(0.5, 1.5, n)),
           "w_b": ("dimensionless", lambda rng, n: rng.exponential(1.0, n))}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("eval")
    make = lambda name, seed, d, extra=None: make_store(folder / name, features="zmumu17", n_events=800, seed=seed,  # noqa: E731
                                                        chunk_events=800, distortion=d, extra=extra)
    return make("ref.zarr", 1, 0.0), make("same.zarr", 2, 0.0, WEIGHTS), make("bad.zarr", 3, 1.0, WEIGHTS)


@pytest.fixture(scope="module")
def results(stores, tmp_path_factory):
    ref, same, bad = stores
    folder = tmp_path_factory.mktemp("reports")
    metrics = ["s2_mean", "ks_sum", "ks_sum_columns", "w1_mean", "fpd", "c2st_auc"]
    good = evaluate(ref, same, folder / "good", names=NAMES, weights=["w_a", "w_b"], metrics=metrics,
                    classifier_epochs=5, html=False)
    worse = evaluate(ref, bad, folder / "bad", names=NAMES, weights=["w_a", "w_b"], metrics=metrics,
                     classifier_epochs=5)
    return good, worse, folder


def test_evaluate_separates_a_distorted_generator(results):
    good, worse, folder = results
    for key in ("s2_mean", "ks_sum", "ks_sum_columns", "w1_mean", "fpd"):
        assert worse["summary"][key] > 3 * abs(good["summary"][key]), key
    assert worse["summary"]["c2st_auc"] > good["summary"]["c2st_auc"]
    assert good["summary"]["fpd_error"] >= 0 and "ks_sum_error" not in good["summary"]  # KS has no error
    # the summary is the registry's, the per-column table the same computation
    assert good["summary"]["ks_sum_columns"] == pytest.approx(sum(e["ks"] for e in good["observables"].values()))
    assert good["metrics"]["ks_sum"]["source"].startswith("paper 002")
    assert not (folder / "good" / "report.html").exists()
    written = json.loads((folder / "bad" / "metrics.json").read_text())
    assert set(written["observables"]) == set(NAMES)
    entry = written["observables"]["met"]
    assert {"s2", "chi2_ndf", "w1", "w1_error", "s2_w_a", "s2_ratio_w_a", "dilution_w_b", "ks_w_b"} <= set(entry)
    summary = written["summary"]
    assert 0 < summary["effective_sample_size_w_b"] < 800
    assert summary["dilution_median_w_b"] > summary["dilution_median_w_a"] > 0.9  # exponential weights dilute more
    assert -1 <= summary["weight_correlation_w_a_w_b"] <= 1


def test_report_html_is_self_contained(results):
    page = (results[2] / "bad" / "report.html").read_text()
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) == len(NAMES) + 2 + 3  # histograms; weights and their correlation; 3 correlation triplets
    assert not re.search(r"(src|href)=['\"]https?:", page)
    assert "Summary metrics" in page and "dilution_w_a" in page


def test_cli_evaluate_and_bad_input(stores, tmp_path):
    ref, same, _ = stores
    result = runner.invoke(app, ["evaluate", ref, same, "--out", str(tmp_path / "r"), "--names", "m_ll",
                                 "--metrics", "s2_mean,precision"])
    assert result.exit_code == 0, result.output
    assert "precision" in result.output and "fpd" not in result.output
    result = runner.invoke(app, ["evaluate", ref, same, "--out", str(tmp_path / "q"), "--metrics", "s2_meen"])
    assert result.exit_code == 2 and "did you mean 's2_mean'" in result.output
    result = runner.invoke(app, ["evaluate", ref, same, "--out", str(tmp_path / "p"), "--metrics", "emd_minimax"])
    assert result.exit_code == 2 and "does not apply" in result.output and "signal" in result.output
    assert (tmp_path / "r" / "report.html").exists()
    result = runner.invoke(app, ["evaluate", ref, same, "--out", str(tmp_path / "x"), "--weights", "nope"])
    assert result.exit_code == 2 and "weight variable 'nope'" in result.output
    other = make_store(tmp_path / "jets.zarr", detector="jet_image_25x25", n_events=10, chunk_events=10)
    result = runner.invoke(app, ["evaluate", ref, other, "--out", str(tmp_path / "y")])
    assert result.exit_code == 2 and "share no per-event observable or variable" in result.output


@pytest.mark.slow
def test_report_renders_in_headless_chromium(tmp_path):
    """Two CaloGAN-schema stores (one distorted) → report.html → a real browser screenshot that is not blank."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    extra = {"weight": ("dimensionless", lambda rng, n: rng.uniform(0.5, 1.5, n))}
    ref = make_store(tmp_path / "ref.zarr", detector="calogan_lar3", features="calo_conditions", n_events=1500,
                     seed=1, chunk_events=1500)
    gen = make_store(tmp_path / "gen.zarr", detector="calogan_lar3", features="calo_conditions", n_events=1500,
                     seed=2, chunk_events=1500, distortion=0.3, extra=extra)
    evaluate(ref, gen, tmp_path / "report", weights=["weight"], classifier_epochs=5)
    shot = tmp_path / "report" / "screenshot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1400,2400", (tmp_path / "report" / "report.html").as_uri()],
                   check=True, timeout=120, capture_output=True)
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1300
    assert np.std(pixels[..., :3]) > 0.05  # text, tables and plots, not a blank page
    keep = pytest.importorskip("os").environ.get("PHYSGEN_KEEP_SCREENSHOT")
    if keep:
        shutil.copytree(tmp_path / "report", keep, dirs_exist_ok=True)


def test_one_dimensional_stores_evaluate(tmp_path):
    """A store with a single feature (the 1D DCTR toy) has a 1×1 correlation matrix."""
    from physgen.sim import simulate

    ref = simulate("toy_bimodal_1d", tmp_path / "ref.zarr", events=2000, progress=False)
    gen = simulate("toy_bimodal_1d", tmp_path / "gen.zarr", events=2000, seed=5, progress=False)
    metrics = evaluate(ref, gen, tmp_path / "report", classifier_epochs=2)
    assert (tmp_path / "report" / "report.html").exists()
    assert metrics["summary"]["s2_mean"] < 0.05
