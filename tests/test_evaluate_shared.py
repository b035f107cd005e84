"""``evaluate`` compares what both stores hold and says what it skipped and why; variables held by both
must agree in dims, shape and units; requested names missing on one side are named as missing."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from physgen.cli import app
from physgen.report import evaluate
from physgen.testing._observable_strategies import make_store

runner = CliRunner()


@pytest.mark.slow  # 14 s (a figure per Z→μμ column); skipping and its listing: test_report_explains_every_metric_…
def test_reference_with_more_variables_evaluates_and_lists_the_skipped(tmp_path):
    """A Z→μμ reference with the simulator's extras (zmumu_reco) against a generator of the 17 features."""
    ref = make_store(tmp_path / "ref.zarr", features="zmumu_reco", n_events=600, seed=1, chunk_events=600)
    gen = make_store(tmp_path / "gen.zarr", features="zmumu17", n_events=600, seed=2, chunk_events=600)
    # one cheap metric: which variables are compared or skipped does not depend on the metrics asked for
    result = runner.invoke(app, ["evaluate", ref, gen, "--out", str(tmp_path / "r"), "--metrics", "s2_mean"])
    assert result.exit_code == 0, result.output
    assert "skipped" in result.stderr and "n_pileup" in result.stderr and "only in the reference" in result.stderr
    written = json.loads((tmp_path / "r" / "metrics.json").read_text())
    assert {"nvtx", "n_pileup", "m_ll_true", "mu1_iso_charged"} <= set(written["skipped"])
    assert {"m_ll", "met", "mu1_px", "jet5_pt"} <= set(written["observables"])
    assert not set(written["skipped"]) & set(written["observables"])


def test_requested_names_missing_on_one_side_are_called_missing(tmp_path):
    ref = make_store(tmp_path / "ref.zarr", features="zmumu_reco", n_events=200, seed=1, chunk_events=200)
    gen = make_store(tmp_path / "gen.zarr", features="zmumu17", n_events=200, seed=2, chunk_events=200)
    result = runner.invoke(app, ["evaluate", ref, gen, "--out", str(tmp_path / "r"), "--names", "m_ll,n_pileup"])
    assert result.exit_code == 2 and "n_pileup (missing in the generated store)" in result.stderr
    assert "Traceback" not in result.output


def test_variables_defined_differently_are_refused(tmp_path):
    ref = make_store(tmp_path / "ref.zarr", features="toy_1d", n_events=100, seed=1, chunk_events=100)
    gen = make_store(tmp_path / "gen.zarr", features="toy_1d", n_events=100, seed=2, chunk_events=100)
    import zarr

    group = zarr.open_group(gen, mode="r+")
    meta = dict(group.attrs["physgen"])
    meta["schema"] = meta["schema"] | {"x": meta["schema"]["x"] | {"units": "GeV"}}
    group.attrs["physgen"] = meta
    result = runner.invoke(app, ["evaluate", ref, gen, "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "define variables differently: x" in result.stderr


def test_toy_stores_compare_their_raw_coordinates(tmp_path):
    ref = make_store(tmp_path / "ref.zarr", features="toy_2d", n_events=300, seed=1, chunk_events=300)
    gen = make_store(tmp_path / "gen.zarr", features="toy_2d", n_events=300, seed=2, chunk_events=300)
    metrics = evaluate(ref, gen, tmp_path / "r", classifier_epochs=1, html=False, progress=False)
    assert set(metrics["observables"]) == {"x", "y"} and metrics["skipped"] == {}


def test_report_explains_every_metric_and_lists_the_skipped(tmp_path):
    weights = {"w_a": ("dimensionless", lambda rng, n: rng.uniform(0.5, 1.5, n)),
               "w_b": ("dimensionless", lambda rng, n: rng.exponential(1.0, n))}
    ref = make_store(tmp_path / "ref.zarr", features="toy_2d", n_events=400, seed=1, chunk_events=400)
    gen = make_store(tmp_path / "gen.zarr", features="toy_1d", n_events=400, seed=2, chunk_events=400, extra=weights)
    metrics = evaluate(ref, gen, tmp_path / "r", weights=["w_a", "w_b"], classifier_epochs=2, progress=False)
    from physgen.report._explanations import explain

    assert metrics["skipped"] == {"y": "only in the reference store (the generator does not produce it)"}
    unexplained = [k for k in metrics["summary"] if explain(k, weights=["w_a", "w_b"]) is None]
    unexplained += [k for v in metrics["observables"].values() for k in v
                    if explain(k, weights=["w_a", "w_b"], column=True) is None]
    assert unexplained == []
    page = (tmp_path / "r" / "report.html").read_text()
    assert "0.5: indistinguishable" in page and "Kish" in page and "weighted by w_b" in page
    assert "Not compared" in page and "only in the reference store" in page
