"""Every shipped system end to end from the command line, at tiny sizes: simulate → train (a few steps)
→ generate → evaluate, each exit 0, the generated store valid, ``metrics.json`` comparing what both
stores hold and naming what it skipped.

The default suite runs the toy and CaloGAN from simulation, and Z→μμ and LAGAN from a synthetic store
of the simulator's schema (Pythia takes minutes for enough events on a shared CPU); ``-m slow`` adds the
conditional CaloGAN, ILD, the two Pythia systems simulated for real, and evaluations of every column.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _train_stores import jet_image_store, zmumu_store
from physgen.cli import app
from physgen.store import open_store, read_provenance, validate_store

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("torch_one_thread")


def cli(*args: str):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, f"physgen {' '.join(map(str, args))}:\n{result.output}"
    return result


def _train_generate_evaluate(tmp: Path, model: str, reference: str, *, batch: int, events: int,
                             generate: tuple[str, ...] = (), names: str | None = None) -> dict:
    run, gen = tmp / "run", tmp / "gen.zarr"
    cli("train", model, "--data", reference, "--out", run, "--steps", 2, "--batch-size", batch, "--device", "cpu",
        "--set", "training.selection=null")
    cli("generate", run, "--events", events, "--out", gen, "--device", "cpu", "--seed", 3, *generate)
    assert validate_store(str(gen)) == []
    evaluated = cli("evaluate", reference, gen, "--out", tmp / "report", *(("--names", names) if names else ()))
    metrics = json.loads((tmp / "report" / "metrics.json").read_text())
    assert metrics["events"] == {"reference": open_store(reference).sizes["event"], "generated": events}
    assert (tmp / "report" / "report.html").is_file() and metrics["observables"]
    for name in metrics["skipped"]:
        assert name in evaluated.stderr
    info = json.loads((run / "run.json").read_text())
    assert f"training.batch_size={batch}" in info["model_spec"]["overrides"]
    return metrics


SYSTEMS = [  # (dataset, model, reference events, batch, generated events, evaluate --names or None: all)
    pytest.param("toy_circle_8", "toy_gan_circle_8", 1000, 64, 400, None, id="toy",
                 marks=pytest.mark.slow),  # the default suite runs the toy chain in test_cli's toy demo
    pytest.param("calogan_eplus", "calogan_eplus", 160, 16, 48, "total_energy,energy_fraction", id="calogan",
                 marks=pytest.mark.slow),  # the default suite: CLI train and generate of showers in test_shower_fractions
    # and test_shower_halo, calorimeter figures against the Geant4 sample in test_zoo
    pytest.param("calogan_eplus", "calogan_eplus", 160, 16, 48, None, id="calogan-all", marks=pytest.mark.slow),
    pytest.param("calogan_conditional_eplus", "calogan_conditional_eplus", 160, 16, 48, None,
                 id="conditional-calogan", marks=pytest.mark.slow),
    pytest.param("ild_photons_50gev", "ild_gan_3d", 48, 8, 24, None, id="ild", marks=pytest.mark.slow),
]
"""Evaluating every default column of a calorimeter store costs tens of CPU seconds (a histogram figure per
column, FPD/KPD, PRDC), so the default suite evaluates two observables there; ``-m slow`` runs them all."""


@pytest.mark.parametrize(("dataset", "model", "n_ref", "batch", "n_gen", "names"), SYSTEMS)
def test_system_from_simulate_to_evaluate(tmp_path, dataset, model, n_ref, batch, n_gen, names):
    reference = str(tmp_path / "ref.zarr")
    cli("simulate", dataset, "--events", n_ref, "--out", reference)
    metrics = _train_generate_evaluate(tmp_path, model, reference, batch=batch, events=n_gen, names=names)
    assert metrics["skipped"] == {}  # these generators produce every variable of the reference
    if names:  # per-layer observables become one column per layer
        assert all(any(col.startswith(n) for col in metrics["observables"]) for n in names.split(","))


def test_zmumu_small_store_needs_a_smaller_batch(tmp_path):
    reference = zmumu_store(tmp_path, events=400)
    refused = runner.invoke(app, ["train", "zmumu_gan17", "--data", reference, "--out", str(tmp_path / "r0"),
                                  "--steps", "2", "--device", "cpu"])
    assert refused.exit_code == 2 and "fewer than one batch of 512" in refused.stderr
    assert "--batch-size" in refused.stderr
    assert not (tmp_path / "r0" / "checkpoint.pt").exists()


@pytest.mark.slow  # the default suite trains and generates the dense Z→μμ GAN in test_generate's kill test
def test_zmumu_small_store_runs_end_to_end_with_a_smaller_batch(tmp_path):
    reference = zmumu_store(tmp_path, events=400)
    metrics = _train_generate_evaluate(tmp_path, "zmumu_gan17", reference, batch=32, events=300)
    assert {"m_ll", "met", "mu1_iso"} <= set(metrics["observables"])


def test_lagan_generated_jets_carry_the_derived_jet_variables(tmp_path):
    reference = jet_image_store(tmp_path, events=96)
    metrics = _train_generate_evaluate(tmp_path, "lagan", reference, batch=16, events=32,
                                       generate=("--conditions-from", reference))  # the W/QCD labels
    gen = tmp_path / "gen.zarr"
    derived = read_provenance(str(gen))["derived_variables"]
    assert set(derived) == {"jet_pt", "jet_mass", "tau_1", "tau_2", "tau_21"}
    assert set(open_store(gen).data_vars) == {"image", "signal", *derived}
    assert set(metrics["skipped"]) == {"jet_eta", "jet_phi", "n_constituents"}  # signal: a label, weight: a weight
    assert {"jet_mass", "tau_21"} <= set(metrics["observables"])


@pytest.mark.slow
@pytest.mark.parametrize(("dataset", "model", "n_ref", "batch", "n_gen", "skipped"), [
    ("zmumu", "zmumu_gan17", 120, 32, 100, {"nvtx", "n_pileup", "m_ll_true", "weight"}),
    ("jets_wprime_qcd", "lagan", 40, 8, 24, {"jet_eta", "jet_phi", "n_constituents"}),
])
def test_pythia_system_from_simulate_to_evaluate(tmp_path, dataset, model, n_ref, batch, n_gen, skipped):
    reference = str(tmp_path / "ref.zarr")
    cli("simulate", dataset, "--events", n_ref, "--out", reference, "--set", f"chunk_events={n_ref}")
    labels = ("--conditions-from", reference) if model == "lagan" else ()
    metrics = _train_generate_evaluate(tmp_path, model, reference, batch=batch, events=n_gen, generate=labels)
    assert skipped <= set(metrics["skipped"])
