"""The command line: verbs work, user errors give one message and exit code 2 without a traceback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from physgen.cli import app
from physgen.store import open_store

runner = CliRunner()


def run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_specs_list_show_validate(tmp_path):
    listed = run("specs", "list")
    assert listed.exit_code == 0 and "calogan_lar3" in listed.stdout and "zmumu17" in listed.stdout
    shown = run("specs", "show", "ild_ecal_30")
    assert shown.exit_code == 0 and "threshold: 0.1 MeV" in shown.stdout
    assert run("specs", "validate", "specs/detectors/ild_ecal_30.yaml", "specs/datasets/toy_bimodal_1d.yaml").exit_code == 0


@pytest.mark.parametrize(("text", "needle"), [
    ("kind: detector\nname: d\ngeometry: {type: eta_phi_grid, n_eta: 0, n_phi: 3, cell_eta: 0.1, cell_phi: 0.1}\n",
     "n_eta: Input should be greater than 0"),
    ("kind: detector\nnam: d\n", "did you mean 'name'"),
    ("kind: [\n", "not valid YAML"),
])
def test_bad_spec_is_one_message_and_exit_2(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = run("specs", "validate", str(path))
    assert result.exit_code == 2
    assert needle in result.stderr and "bad.yaml" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_simulate_info_validate_and_refuse_existing(tmp_path):
    out = str(tmp_path / "toy.zarr")
    assert run("simulate", "toy_bimodal_1d", "--events", "5000", "--out", out).exit_code == 0
    info = run("store", "info", out)
    assert info.exit_code == 0 and "5000 committed events" in info.stdout and "mixture" in info.stdout
    assert run("store", "validate", out).exit_code == 0
    again = run("simulate", "toy_bimodal_1d", "--events", "10", "--out", out)
    assert again.exit_code == 2 and "already exists" in again.stderr
    assert open_store(out).sizes["event"] == 5000
    extend = run("simulate", "toy_bimodal_1d", "--events", "7000", "--out", out, "--resume")
    assert extend.exit_code == 2 and "last chunk is partial" in extend.stderr
    assert run("simulate", "toy_bimodal_1d", "--events", "5000", "--out", out, "--resume").exit_code == 0
    assert open_store(out).sizes["event"] == 5000
    both = run("simulate", "toy_bimodal_1d", "--out", out, "--resume", "--overwrite")
    assert both.exit_code == 2 and "exclude each other" in both.stderr


def test_unknown_dataset_name_and_missing_store(tmp_path):
    result = run("simulate", "toy_circle8", "--out", str(tmp_path / "x.zarr"))
    assert result.exit_code == 2 and "did you mean 'toy_circle_8'" in result.stderr
    assert not (tmp_path / "x.zarr").exists()
    missing = run("store", "info", str(tmp_path / "nothing.zarr"))
    assert missing.exit_code == 2 and "no physgen store" in missing.stderr


def test_corrupt_store_metadata_is_reported(tmp_path):
    out = tmp_path / "toy.zarr"
    assert run("simulate", "toy_bimodal_1d", "--events", "100", "--out", str(out)).exit_code == 0
    (out / "zarr.json").write_text("{not json")
    result = run("store", "validate", str(out))
    assert result.exit_code == 2 and "cannot open" in result.stderr


def test_invalid_simulator_options_fail_before_writing(tmp_path):
    spec = tmp_path / "d.yaml"
    spec.write_text("kind: dataset\nname: d\nsimulator: {name: mixture, options: {mixture: donut}}\nfeatures: toy_2d\n")
    result = run("simulate", str(spec), "--out", str(tmp_path / "d.zarr"))
    assert result.exit_code == 2 and "simulator.options.mixture" in result.stderr
    assert not (tmp_path / "d.zarr").exists()


def test_toy_demo_runs(tmp_path):
    result = run("demo", "--toy", "--out", str(tmp_path / "demo"))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "validated" in result.stdout
    assert "classifier two-sample AUC" in result.stdout  # the evaluation's headline metrics are printed
    report = tmp_path / "demo" / "toy_gan_circle_8.report"
    assert (report / "report.html").is_file() and (report / "metrics.json").is_file()
