"""The model zoo: export of a trained generator as a shipped checkpoint (bf16, self-contained), loading
by file or by name with the sha256 checked, shipping a quality run into an index (budget, quality,
cost, observable summary), generating from a shipped name through the CLI with honest provenance."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from _train_stores import toy_store
from physgen.cli import app
from physgen.errors import PhysgenError
from physgen.generate import generate
from physgen.pipeline import run_pipeline
from physgen.store import open_store, validate_store
from physgen.provenance import file_sha256
from physgen.sim.geant4 import validation_sample
from physgen.train import train
from physgen.zoo import export_checkpoint, load_generator, read_checkpoint, reference_changes, ship, shipped_models
from physgen.zoo import _index as zoo_index

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory) -> Path:
    """The circle toy GAN trained for 60 steps on 3000 reference events."""
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("toy_run")
    train("toy_gan_circle_8", toy_store(tmp, "toy_circle_8", 3000), tmp / "gan.run", steps=60, progress=False)
    return tmp / "gan.run"


def test_export_stores_bf16_generator_and_loads_without_pickled_code(toy_run, tmp_path):
    path = export_checkpoint(toy_run, tmp_path / "toy.pt", checkpoint="last")
    content = read_checkpoint(path)  # torch.load(weights_only=True): plain data and tensors only
    floats = [v for v in content["generator"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.bfloat16 for v in floats)
    assert content["info"]["model_spec"]["name"] == "toy_gan_circle_8"
    assert content["reference"]["specs"]["dataset"]["name"] == "toy_circle_8"
    assert content["reference"]["events"] == 3000 and content["training"]["steps"] == 60
    assert file_sha256(Path(export_checkpoint(toy_run, tmp_path / "again.pt", checkpoint="last"))) == \
        file_sha256(Path(path))  # exporting the same snapshot again gives the same file
    run_info = json.loads((toy_run / "run.json").read_text())
    assert content["reference"]["specs"]["dataset"]["hash"] == run_info["store_specs"]["dataset"]["hash"]


def test_generation_from_the_exported_file_matches_the_run_within_bf16_rounding(toy_run, tmp_path):
    path = export_checkpoint(toy_run, tmp_path / "toy.pt", checkpoint="last")
    from_run = open_store(generate(toy_run, 2000, tmp_path / "run.zarr", checkpoint="last", progress=False))
    from_file = open_store(generate(path, 2000, tmp_path / "file.zarr", progress=False))
    assert validate_store(tmp_path / "file.zarr") == []
    for v in ("x", "y"):
        a, b = from_run[v].values, from_file[v].values
        # bf16 keeps 8 bits of mantissa: weights change by < 0.4 %, outputs by far less than the spread
        assert np.abs(a - b).max() < 0.05 * a.std()
        assert from_file[v].attrs["units"] == from_run[v].attrs["units"]
    producer = from_file.physgen.provenance["producer"]
    assert producer["kind"] == "shipped_model" and producer["checkpoint_sha256"] == file_sha256(Path(path))
    assert producer["shipped"]["reference"]["specs"]["dataset"]["name"] == "toy_circle_8"


def test_generate_writes_the_codec_asked_for_with_the_same_values(toy_run, tmp_path):
    """``--compression none`` (a store the loader reads at in-memory speed) holds the same events as the
    default, which is the training dataset spec's codec (zstd); the store records its codec."""
    runner = CliRunner()
    for name, extra in (("default", []), ("raw", ["--compression", "none"])):
        result = runner.invoke(app, ["generate", str(toy_run), "--events", "300", "--out", str(tmp_path / f"{name}.zarr"),
                                     "--checkpoint", "last", *extra])
        assert result.exit_code == 0, result.output
    default, raw = (open_store(tmp_path / f"{n}.zarr") for n in ("default", "raw"))
    assert default.physgen.provenance["compression"] == "zstd" and raw.physgen.provenance["compression"] == "none"
    np.testing.assert_array_equal(default.x.values, raw.x.values)
    bad = runner.invoke(app, ["generate", str(toy_run), "--events", "10", "--out", str(tmp_path / "bad.zarr"),
                              "--compression", "gzip9"])
    assert bad.exit_code == 2 and "gzip9" in bad.output and not (tmp_path / "bad.zarr").exists()


def test_export_of_a_directory_without_a_run_is_a_clear_error(tmp_path):
    with pytest.raises(PhysgenError, match="not a physgen run directory"):
        export_checkpoint(tmp_path, tmp_path / "x.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(PhysgenError, match="not a readable shipped checkpoint"):
        load_generator(tmp_path / "junk.pt")


MINI_QUALITY = {
    "kind": "pipeline", "name": "mini_quality",
    "steps": [
        {"run": "simulate", "args": {"dataset": "toy_circle_8", "out": "{workdir}/reference.zarr", "events": 3000,
                                     "seed": 1, "progress": False}},
        {"run": "simulate", "args": {"dataset": "toy_circle_8", "out": "{workdir}/reference_test.zarr",
                                     "events": 2000, "seed": 2, "progress": False}},
        {"run": "train", "args": {"model_spec": "toy_gan_circle_8", "data_store": "{workdir}/reference.zarr",
                                  "run_dir": "{workdir}/gan.run", "steps": 40, "progress": False}},
        {"run": "export", "args": {"run_dir": "{workdir}/gan.run", "out": "{workdir}/toy_gan.pt",
                                   "name": "toy_gan", "checkpoint": "last"}},
        {"run": "generate", "args": {"run_dir": "{workdir}/toy_gan.pt", "events": 2000, "seed": 1,
                                     "out": "{workdir}/generated.zarr", "progress": False}},
        {"run": "quality", "args": {
            "reference": "{workdir}/reference_test.zarr", "generated": "{workdir}/generated.zarr",
            "baseline": "{workdir}/reference.zarr", "out": "{workdir}/quality", "title": "toy",
            "figures": [{"label": "x mean shift", "metric": "mean_shift", "options": {"names": ["x"]}, "target": 5.0},
                        {"label": "KS", "metric": "ks_sum_columns", "each": ["x", "y"]}]}},
    ],
}


@pytest.fixture(scope="module")
def quality_run(tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    tmp = tmp_path_factory.mktemp("quality_run")
    (tmp / "pipe.yaml").write_text(yaml.safe_dump(MINI_QUALITY))
    run_pipeline(tmp / "pipe.yaml", workdir=tmp / "work")
    return tmp / "work"


@pytest.fixture
def zoo(tmp_path, monkeypatch) -> Path:
    """An empty zoo folder standing in for the package's."""
    folder = tmp_path / "zoo"
    folder.mkdir()
    monkeypatch.setattr(zoo_index, "ZOO_DIR", folder)
    return folder


def test_ship_records_quality_cost_and_summary_and_generate_by_name_works(quality_run, zoo, tmp_path, wide_console):
    entry = ship(quality_run)
    assert shipped_models() == {"toy_gan": entry}
    assert (zoo / entry["file"]).is_file() and entry["sha256"] == file_sha256(zoo / entry["file"])
    quality = json.loads((quality_run / "quality" / "quality.json").read_text())
    assert entry["quality"]["figures"][0]["value"] == quality["figures"][0]["value"]
    assert entry["quality"]["evaluated_against"]["seed"] == 2 and entry["reference"]["seed"] == 1
    assert entry["cost"]["train_cpu_s"] > 0 and entry["pipeline"] == "mini_quality"
    generated = entry["observables"]["generated"]["groups"]["all"]
    assert set(generated) == {"x", "y"} and generated["x"]["events"] == 2000

    result = CliRunner().invoke(app, ["generate", "toy_gan", "--events", "500", "--out", str(tmp_path / "g.zarr")])
    assert result.exit_code == 0, result.output
    ds = open_store(tmp_path / "g.zarr")
    assert ds.sizes["event"] == 500 and validate_store(tmp_path / "g.zarr") == []
    shipped = ds.physgen.provenance["producer"]["shipped"]
    assert shipped["sha256"] == entry["sha256"] and shipped["quality"]["targets"] == 1
    assert shipped["reference"]["specs"]["dataset"]["name"] == "toy_circle_8"
    listing = CliRunner().invoke(app, ["zoo", "list"])
    assert listing.exit_code == 0 and "toy_gan" in listing.output and "current" in listing.output
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- zoo:begin -->\nold\n<!-- zoo:end -->\ntail\n")
    assert CliRunner().invoke(app, ["zoo", "table", "--readme", str(readme)]).exit_code == 0
    text = readme.read_text()
    assert "old" not in text and "| `toy_gan` (dense_gan) | toy_circle_8 3000 / 2000 |" in text
    assert "x mean shift: " in text and text.endswith("<!-- zoo:end -->\ntail\n")


def test_a_moved_quality_run_ships_its_own_files_not_those_at_its_recorded_path(quality_run, zoo, tmp_path):
    """A working folder moved elsewhere (while its recorded path still holds a run, maybe another one) ships
    the figures and weights inside the folder it is given."""
    moved = tmp_path / "moved"
    shutil.copytree(quality_run, moved)
    quality_file = moved / "quality" / "quality.json"
    quality = json.loads(quality_file.read_text())
    quality["figures"][0]["value"] = 123.0
    quality_file.write_text(json.dumps(quality))
    entry = ship(moved)
    assert entry["quality"]["figures"][0]["value"] == 123.0
    assert entry["sha256"] == file_sha256(moved / "toy_gan.pt")


def test_a_changed_simulator_flags_the_shipped_reference(quality_run, zoo, monkeypatch, wide_console):
    """A refit of the simulator (tune constants, options, versions) changes the reference's physics
    without touching its dataset spec: the shipped entry keeps the producer record's hash, and
    ``zoo list`` asks for a retrain when the spec's simulator would record something else."""
    from types import SimpleNamespace

    import physgen.sim

    entry = ship(quality_run)
    assert entry["reference"]["producer"].startswith("sha256:") and reference_changes(entry) == []
    refitted = SimpleNamespace(producer=lambda: {"kind": "simulator", "name": "mixtures", "tune": "refitted"})
    monkeypatch.setattr(physgen.sim, "build_simulator", lambda dataset: refitted)
    assert reference_changes(entry) == ["simulator (version, options or tune)"]
    listing = CliRunner().invoke(app, ["zoo", "list"])
    assert listing.exit_code == 0 and "changed since (simulator" in listing.output


def test_unknown_name_tampered_weights_and_budget_are_clear_errors(quality_run, zoo, tmp_path, monkeypatch):
    entry = ship(quality_run)
    result = CliRunner().invoke(app, ["generate", "toy_gann", "--events", "10", "--out", str(tmp_path / "a.zarr")])
    assert result.exit_code == 2 and "did you mean 'toy_gan'" in result.output
    weights = zoo / entry["file"]
    weights.write_bytes(weights.read_bytes() + b"tampered")
    result = CliRunner().invoke(app, ["generate", "toy_gan", "--events", "10", "--out", str(tmp_path / "b.zarr")])
    assert result.exit_code == 2 and "sha256" in result.output and not (tmp_path / "b.zarr").exists()
    index_before = (zoo / "index.json").read_text()
    monkeypatch.setattr(zoo_index, "MAX_ZOO_BYTES", 100)
    with pytest.raises(PhysgenError, match="over its budget"):
        ship(quality_run, name="another")
    assert (zoo / "index.json").read_text() == index_before and not (zoo / "weights" / "another.pt").exists()


def test_pipeline_record_and_resume_keep_finished_work(quality_run, tmp_path):
    record = json.loads((quality_run / "pipeline.json").read_text())
    assert [s["run"] for s in record["steps"]] == [s["run"] for s in MINI_QUALITY["steps"]]
    assert all(s["wall_s"] > 0 and s["cpu_s"] >= 0 and s["runs"] == 1 for s in record["steps"])
    assert record["hardware"]["cpu_count"] >= 1 and len(record["hardware"]["load_average"]) == 3
    # a resumed run keeps the finished reference and training run, and adds to their recorded cost
    work = tmp_path / "work"
    shutil.copytree(quality_run, work)
    (tmp_path / "pipe.yaml").write_text(yaml.safe_dump(MINI_QUALITY))
    marker = (work / "gan.run" / "checkpoint.pt").stat().st_mtime_ns
    run_pipeline(tmp_path / "pipe.yaml", workdir=work, resume=True)
    resumed = json.loads((work / "pipeline.json").read_text())
    assert (work / "gan.run" / "checkpoint.pt").stat().st_mtime_ns == marker  # not retrained
    assert open_store(work / "reference.zarr").sizes["event"] == 3000
    before, after = (next(s for s in r["steps"] if s["run"] == "train") for r in (record, resumed))
    assert after["runs"] == 2 and after["cpu_s"] >= before["cpu_s"]


def test_time_limit_stops_training_and_the_pipeline_goes_on(tmp_path):
    steps = [dict(s) for s in MINI_QUALITY["steps"][:4]]
    steps[2] = {"run": "train", "time_limit_s": 8,
                "args": {"model_spec": "toy_gan_circle_8", "data_store": "{workdir}/reference.zarr",
                         "run_dir": "{workdir}/gan.run", "steps": 10**7, "progress": False}}
    steps[3] = {"run": "export", "args": {"run_dir": "{workdir}/gan.run", "out": "{workdir}/toy_gan.pt"}}
    (tmp_path / "pipe.yaml").write_text(yaml.safe_dump(MINI_QUALITY | {"steps": steps}))
    run_pipeline(tmp_path / "pipe.yaml", workdir=tmp_path / "work")
    record = json.loads((tmp_path / "work" / "pipeline.json").read_text())
    train_step = record["steps"][2]
    assert train_step["stopped_at_time_limit"] and train_step["wall_s"] < 60
    # the export took the best snapshot the selection (every 5 epochs of 21 steps) wrote before the limit
    selected = read_checkpoint(tmp_path / "work" / "toy_gan.pt")["training"]["selected_snapshot"]
    assert selected is not None and selected["step"] % 105 == 0 and selected["metric"] == "ks_sum_columns"


def test_retrain_reruns_the_recorded_pipeline_and_ships_again(quality_run, zoo, tmp_path, monkeypatch):
    first = ship(quality_run)
    first_weights = read_checkpoint(zoo / first["file"])["generator"]
    specs = tmp_path / "specs" / "pipelines"
    specs.mkdir(parents=True)
    (specs / "mini_quality.yaml").write_text(yaml.safe_dump(MINI_QUALITY))
    monkeypatch.setenv("PHYSGEN_SPEC_PATH", str(tmp_path / "specs"))
    result = CliRunner().invoke(app, ["zoo", "retrain", "toy_gan", "--workdir", str(tmp_path / "again")])
    assert result.exit_code == 0, result.output
    second = shipped_models()["toy_gan"]
    assert second["pipeline"] == "mini_quality" and second["cost"]["started"] != first["cost"]["started"]
    assert json.loads((tmp_path / "again" / "pipeline.json").read_text())["workdir"] == str(tmp_path / "again")
    # same spec, seeds and CPU: the retrained generator has the same weights (the file differs: it names
    # the new reference store)
    weights = read_checkpoint(zoo / second["file"])["generator"]
    assert second["sha256"] != first["sha256"] and all(torch.equal(weights[k], v) for k, v in first_weights.items())


def interrupted_step(**kwargs):
    """Stands in for a step killed by Ctrl-C or SIGTERM."""
    raise KeyboardInterrupt


def test_an_interrupted_step_keeps_its_cost_and_a_resume_keeps_the_steps_after_it(quality_run, tmp_path,
                                                                                   monkeypatch):
    from physgen.pipeline import STEP_FUNCTIONS

    work = tmp_path / "work"
    shutil.copytree(quality_run, work)
    (tmp_path / "pipe.yaml").write_text(yaml.safe_dump(MINI_QUALITY))
    monkeypatch.setitem(STEP_FUNCTIONS, "export", ("test_zoo", "interrupted_step"))
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(tmp_path / "pipe.yaml", workdir=work, resume=True)
    steps = {s["run"]: s for s in json.loads((work / "pipeline.json").read_text())["steps"]}
    assert steps["export"]["interrupted"] and steps["export"]["runs"] == 2 and steps["train"]["runs"] == 2
    # generate and quality were not reached again: their entries of the first run are kept
    assert steps["quality"]["from_earlier_run"] and steps["quality"]["runs"] == 1


def test_later_quality_steps_ship_as_comparisons_with_their_floor_in_the_table(quality_run, zoo, tmp_path):
    # a second quality step, as the calorimeter pipelines' comparison with a Geant4 sample: here against the
    # training reference (seed 1), the evaluation reference (seed 2) giving the floor column
    comparison = {"run": "quality", "args": {
        "reference": "{workdir}/reference.zarr", "generated": "{workdir}/generated.zarr",
        "baseline": "{workdir}/reference_test.zarr", "out": "{workdir}/quality_vs_training", "title": "vs training",
        "figures": [{"label": "x mean shift", "metric": "mean_shift", "options": {"names": ["x"]}, "target": 5.0}]}}
    work = tmp_path / "work"
    shutil.copytree(quality_run, work)
    (tmp_path / "pipe.yaml").write_text(yaml.safe_dump(MINI_QUALITY | {"steps": MINI_QUALITY["steps"] + [comparison]}))
    run_pipeline(tmp_path / "pipe.yaml", workdir=work, resume=True)
    entry = ship(work)
    assert entry["quality"]["evaluated_against"]["seed"] == 2 and entry["quality"]["title"] == "toy"
    (against,) = entry["comparisons"]
    assert against["title"] == "vs training" and against["evaluated_against"]["seed"] == 1
    assert against["figures"][0]["baseline_value"] >= 0 and against["targets"] == 1
    table = zoo_index.quality_table()
    assert "| ↳ `toy_gan` vs toy_circle_8 (mixture) | – / 3000 |" in table
    assert "x mean shift: " in table.splitlines()[-1] and "(training simulator: " in table.splitlines()[-1]


def test_a_pipeline_names_a_shipped_geant4_sample_by_name(tmp_path):
    pipeline = {"kind": "pipeline", "name": "g4", "steps": [
        {"run": "simulate", "args": {"dataset": "calogan_eplus", "out": "{workdir}/sim.zarr", "events": 200,
                                     "workers": 1, "progress": False}},
        {"run": "quality", "args": {
            "reference": "{geant4:geant4_calogan_eplus}", "generated": "{workdir}/sim.zarr", "out": "{workdir}/q",
            "figures": [{"label": "E", "metric": "mean_shift", "options": {"names": ["energy"]}}]}}]}
    (tmp_path / "pipe.yaml").write_text(yaml.safe_dump(pipeline))
    run_pipeline(tmp_path / "pipe.yaml", workdir=tmp_path / "work")
    quality = json.loads((tmp_path / "work" / "q" / "quality.json").read_text())
    # the shipped sample of real Geant4 positron showers (samples/geant4/README.md)
    events = open_store(validation_sample("geant4_calogan_eplus")).sizes["event"]
    assert quality["reference"]["events"] == events > 0 and quality["generated"]["events"] == 200
    assert quality["reference"]["store"].startswith("zip://") and "geant4_calogan_eplus" in quality["reference"]["store"]
    pipeline["steps"][1]["args"]["reference"] = "{geant4:geant4_calogan_eplu}"
    (tmp_path / "pipe.yaml").write_text(yaml.safe_dump(pipeline))
    with pytest.raises(PhysgenError, match="no shipped Geant4 validation sample 'geant4_calogan_eplu'.*geant4_calogan_eplus"):
        run_pipeline(tmp_path / "pipe.yaml", workdir=tmp_path / "other")
    assert not (tmp_path / "other" / "sim.zarr").exists()  # refused before any step ran


def test_a_pion_refit_does_not_outdate_a_positron_reference():
    """The shower simulator compares references by the constants a particle's showers use: e+ showers
    never read the hadronic (pion) constants, so refitting them leaves an e+ model current, while an
    EM constant or a π+ reference's pion constant outdates it; the tune's source notes are words."""
    import copy

    from physgen.sim import build_simulator, get_simulator
    from physgen.store import resolve_dataset

    showers = get_simulator("showers")
    eplus = build_simulator(resolve_dataset("calogan_eplus")).producer()
    piplus = build_simulator(resolve_dataset("calogan_piplus")).producer()

    def refit(record, part, key):
        out = copy.deepcopy(record)
        out["tune_constants"][part][key] *= 1.1
        return out

    assert showers.physics(refit(eplus, "pion", "soft_photon_path")) == showers.physics(eplus)
    assert showers.physics(refit(eplus, "em", "spots_per_gev")) != showers.physics(eplus)
    assert showers.physics(refit(piplus, "pion", "soft_photon_path")) != showers.physics(piplus)
    reworded = copy.deepcopy(eplus) | {"tune_sources": {}}
    assert showers.physics(reworded) == showers.physics(eplus)


def test_a_new_neutral_tune_constant_does_not_outdate_a_reference():
    """A constant enters the tune at its neutral default (the showers stay bit-identical): a record made before
    it existed is the same physics; the constant away from its default, or an old constant dropped, is not."""
    import copy

    from physgen.sim import build_simulator, get_simulator
    from physgen.store import resolve_dataset

    showers = get_simulator("showers")
    record = build_simulator(resolve_dataset("ild_photons_50gev")).producer()
    assert record["tune_constants"]["em"]["halo_count_spread"] == 0.0  # neutral in the ILD tune
    before = copy.deepcopy(record)
    del before["tune_constants"]["em"]["halo_count_spread"]
    assert showers.physics(before) == showers.physics(record)
    moved = copy.deepcopy(record)
    moved["tune_constants"]["em"]["halo_count_spread"] = 0.3
    assert showers.physics(moved) != showers.physics(record)
    dropped = copy.deepcopy(record)
    del dropped["tune_constants"]["em"]["spots_per_gev"]  # a required constant: always physics
    assert showers.physics(dropped) != showers.physics(record)
