"""Pipeline specs: steps run through the Python APIs, placeholders, missing stages fail before any step."""

from __future__ import annotations

import pytest
import torch
import yaml
from typer.testing import CliRunner

from physgen.cli import app
from physgen.errors import SpecError
from physgen.pipeline import run_pipeline
from physgen.specs import SpecRegistry, load_spec
from physgen.store import open_store


def _write(path, data) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.fixture
def dctr_spec(tmp_path) -> str:
    data = yaml.safe_load(SpecRegistry.default().get("model", "dctr_toy_1d").text)
    data["training"] |= {"epochs": 1, "batch_size": 512}
    return _write(tmp_path / "dctr.yaml", data)


def test_simulate_and_reweight_pipeline_runs_end_to_end(tmp_path, dctr_spec):
    torch.set_num_threads(1)
    steps = [
        {"run": "simulate", "args": {"dataset": "toy_bimodal_1d", "out": "{workdir}/ref.zarr", "events": 3000,
                                     "seed": 1, "progress": False}},
        {"run": "simulate", "args": {"dataset": "toy_bimodal_1d", "out": "{workdir}/gen.zarr", "events": 3000,
                                     "seed": 2, "progress": False}},
        {"run": "reweight", "args": {"reference": "{workdir}/ref.zarr", "generated": "{workdir}/gen.zarr",
                                     "model": dctr_spec, "out": "{workdir}/dctr", "progress": False}},
    ]
    spec = _write(tmp_path / "pipe.yaml", {"kind": "pipeline", "name": "mini", "steps": steps})
    results = run_pipeline(spec, workdir=tmp_path / "work")
    assert [label for label, _ in results] == [f"pipeline 'mini' step {i} ({v})" for i, v in
                                               enumerate(["simulate", "simulate", "reweight"], start=1)]
    weights = open_store(tmp_path / "work" / "gen.zarr").dctr_weight.values
    assert weights.shape == (3000,) and weights.mean() == pytest.approx(1.0)
    # rerunning needs --overwrite (stores exist); with it every step replaces its outputs
    result = CliRunner().invoke(app, ["run", spec, "--workdir", str(tmp_path / "work")])
    assert result.exit_code == 2 and "already exists" in result.output
    result = CliRunner().invoke(app, ["run", spec, "--workdir", str(tmp_path / "work"), "--overwrite"])
    assert result.exit_code == 0, result.output


def test_missing_stage_or_bad_arguments_fail_before_any_step(tmp_path):
    steps = [{"run": "simulate", "args": {"dataset": "toy_bimodal_1d", "out": "{workdir}/ref.zarr"}},
             {"run": "reweight", "args": {"reference": "a", "generated": "b", "modle": "x", "out": "c"}}]
    spec = _write(tmp_path / "pipe.yaml", {"kind": "pipeline", "name": "bad", "steps": steps})
    with pytest.raises(SpecError, match=r"unknown key 'steps\.1\.args\.modle'; did you mean 'model'"):
        run_pipeline(spec, workdir=tmp_path / "work")
    assert not (tmp_path / "work" / "ref.zarr").exists()


@pytest.mark.parametrize("name", ["dctr_toy_bimodal_1d", "dctr_toy_circle_8", "dctr_toy_grid_5x5", "dctr_ild_photons"])
def test_shipped_pipelines_validate_and_name_known_verbs(name):
    spec = SpecRegistry.default().get("pipeline", name).spec
    verbs = [step.run for step in spec.steps]
    assert verbs[0] == "simulate" and "reweight" in verbs and verbs[-1] == "evaluate"
    models = [step.args["model"] for step in spec.steps if step.run == "reweight"]
    for model in models:
        assert load_spec(SpecRegistry.default().paths[("model", model)]).spec.architecture.startswith("dctr_")
