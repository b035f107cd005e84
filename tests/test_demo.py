"""The physics demo end to end: the shipped quality pipeline of the demo's CaloGAN, reduced to seconds
(a few hundred showers, a few training steps), shipped into a temporary zoo, then ``physgen demo``:
reference showers, generated showers, figures of merit (also against the shipped Geant4 sample), speed-up,
HTML report."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from typer.testing import CliRunner

from physgen.cli import app
from physgen.demo import DEMO_MODEL
from physgen.pipeline import run_pipeline
from physgen.specs import SpecRegistry
from physgen.zoo import _index as zoo_index
from physgen.zoo import ship


def _reduced_quality_pipeline(name: str, events: int, steps: int) -> dict:
    pipeline = yaml.safe_load(SpecRegistry.default().get("pipeline", name).text)
    for step in pipeline["steps"]:
        args = step["args"]
        if step["run"] == "simulate":
            args |= {"events": events, "workers": 1, "progress": False}
        if step["run"] == "train":
            args |= {"steps": steps, "progress": False}
        if step["run"] == "generate":
            args |= {"events": events // 2, "progress": False}
        if step["run"] == "quality":
            for figure in args["figures"]:
                if figure["metric"] == "c2st_auc":
                    figure["options"]["epochs"] = 2
    return pipeline


@pytest.mark.slow  # ≈ 40 CPU-s: simulate, train, ship, demo
@pytest.mark.usefixtures("torch_one_thread")
def test_physics_demo_with_a_shipped_calogan(tmp_path, monkeypatch, wide_console):
    torch.manual_seed(0)
    monkeypatch.setattr(zoo_index, "ZOO_DIR", tmp_path / "zoo")
    (tmp_path / "zoo").mkdir()
    pipeline = _reduced_quality_pipeline("quality_calogan_eplus", events=400, steps=2)
    (tmp_path / "pipe.yaml").write_text(yaml.safe_dump(pipeline))
    run_pipeline(tmp_path / "pipe.yaml", workdir=tmp_path / "work")
    entry = ship(tmp_path / "work")
    assert entry["model_spec"] == DEMO_MODEL and entry["pipeline"] == "quality_calogan_eplus"

    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--showers", "300"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "energy response per incident-energy decile" in result.output
    assert "classifier AUC, high-level shower features" in result.output
    assert "ms/shower" in result.output and "Geant4 in paper 001" in result.output
    assert (tmp_path / "demo" / f"{DEMO_MODEL}.report" / "report.html").is_file()
    assert (tmp_path / "demo" / "quality" / "quality.json").is_file()
    # the shipped Geant4 positron sample: the same figures for 300 generated showers at its incident energies
    assert "vs Geant4" in result.output and "simulator vs Geant4" in result.output
    versus = json.loads((tmp_path / "demo" / "quality_vs_geant4" / "quality.json").read_text())
    assert versus["generated"]["events"] == 300 and "geant4_calogan_eplus" in versus["reference"]["store"]
    assert versus["baseline"]["producer"]["kind"] == "simulator"
    # the shipped pipeline's own comparison with Geant4 was shipped too
    assert [c["evaluated_against"]["specs"]["dataset"]["name"] for c in entry["comparisons"]] == ["geant4_calogan_eplus"]
