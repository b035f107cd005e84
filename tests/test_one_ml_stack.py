"""One ML stack: DCTR classifiers and GANs are architectures of one registry and train through one loop,
with the same run directory and the same exact resume — also after a real ``kill -9``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from physgen.models import ClassifierRecipe, Recipe, architecture_names, get_architecture
from physgen.reweight import reweight
from physgen.specs import SpecRegistry
from physgen.store import create_store, open_store, resolve_dataset
from physgen.train import _loop, train
from _train_stores import model_spec, toy_store

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _store(url: Path, x: np.ndarray) -> str:
    resolved = resolve_dataset("toy_bimodal_1d")
    writer = create_store(str(url), resolved.schema, chunk_events=1000,
                          provenance={"specs": resolved.spec_texts(), "producer": {"kind": "test"}})
    writer.append({"x": x.astype(np.float32)})
    return str(url)


def _dctr_spec(tmp: Path, **training) -> Path:
    data = yaml.safe_load(SpecRegistry.default().get("model", "dctr_toy_1d").text)
    data["name"] = "dctr_toy_1d_test"
    data["training"] |= {"epochs": 2, "batch_size": 128, "checkpoint_every": 20,
                         "options": {"clip": 5, "threads": 1}} | training
    path = tmp / "dctr.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("samples")
    rng = np.random.default_rng(11)
    return tmp, _store(tmp / "ref.zarr", rng.normal(0.0, 1.0, 3000)), _store(tmp / "gen.zarr", rng.normal(0.5, 1.0, 3000))


def test_classifiers_and_gans_share_the_registry_and_the_loop(samples, tmp_path, monkeypatch):
    assert {"dctr_mlp", "dctr_cnn3d", "dense_gan", "lagan"} <= set(architecture_names())
    assert issubclass(get_architecture("dctr_mlp"), ClassifierRecipe)
    assert issubclass(get_architecture("dctr_mlp"), Recipe) and issubclass(get_architecture("dense_gan"), Recipe)
    fitted = []
    original = _loop._Trainer.fit

    def spy(self, total_steps, progress, *args):
        fitted.append((self.spec.architecture, type(self.data).__name__))
        return original(self, total_steps, progress, *args)

    monkeypatch.setattr(_loop._Trainer, "fit", spy)
    _, ref, gen = samples
    gan = model_spec(tmp_path, "toy_gan_bimodal_1d", training={"selection": None, "batch_size": 128})
    train(gan, ref, tmp_path / "gan", steps=5, device="cpu", progress=False)
    reweight(ref, gen, _dctr_spec(tmp_path), out=tmp_path / "dctr", name="w_shared", progress=False)
    assert fitted == [("dense_gan", "StoreData"), ("dctr_mlp", "TwoSampleData")]
    for run in ("gan", "dctr"):  # one run-directory layout
        assert {"run.json", "checkpoint.pt", "metrics.jsonl"} <= {p.name for p in (tmp_path / run).iterdir()}
    epochs = [json.loads(line) for line in (tmp_path / "dctr" / "metrics.jsonl").read_text().splitlines()]
    assert [e["epoch_end"] for e in epochs if "epoch_end" in e] == [1, 2]  # held-out loss after every epoch


def test_classifier_resumes_exactly_in_process(samples, tmp_path):
    """N steps straight == N/2 steps, then resume to N: identical classifier and identical weights."""
    _, ref, gen = samples
    spec = _dctr_spec(tmp_path)
    straight = reweight(ref, gen, spec, out=tmp_path / "straight", name="w_straight", progress=False)
    steps = straight["steps"]
    from physgen.train import train_classifier

    train_classifier(spec, ref, gen, tmp_path / "split", steps=steps // 2 + 3, progress=False)
    resumed = reweight(ref, gen, spec, out=tmp_path / "split", name="w_split", resume=True, progress=False)
    assert resumed["steps"] == steps
    a = torch.load(tmp_path / "straight" / "classifier.pt", weights_only=False)["recipe"]["networks"]
    b = torch.load(tmp_path / "split" / "classifier.pt", weights_only=False)["recipe"]["networks"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    ds = open_store(gen)
    np.testing.assert_array_equal(ds.w_straight.values, ds.w_split.values)
    assert resumed["history"] == straight["history"]


def _progress(run_dir: Path) -> int:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return 0
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    try:
        return json.loads(lines[-1])["step"] if lines else 0
    except json.JSONDecodeError:  # a line being written
        return 0


def _cli(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "physgen.cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow  # ≈ 19 s; the default suite kills train and reweight at fixed points (test_reliability_kill)
def test_reweight_resumes_exactly_after_kill_9(samples, tmp_path):
    """A DCTR run killed with SIGKILL between checkpoints, rerun with --resume, gives the classifier and the
    weights of an uninterrupted run, bit for bit (as GAN training does)."""
    _, ref, gen = samples
    spec = str(_dctr_spec(tmp_path, epochs=6, checkpoint_every=25))
    env = os.environ | {"OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parent)}
    straight = _cli("reweight", ref, gen, "--model", spec, "--out", str(tmp_path / "straight"), "--name", "k_straight",
                    env=env)
    assert straight.wait(timeout=600) == 0, straight.stdout.read()

    killed_run = tmp_path / "killed"
    victim = _cli("reweight", ref, gen, "--model", spec, "--out", str(killed_run), "--name", "k_resumed", env=env)
    deadline = time.monotonic() + 300
    while _progress(killed_run) < 60 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert victim.poll() is None, "the run ended before it could be killed"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    state = torch.load(killed_run / "checkpoint.pt", weights_only=False)
    assert 0 < state["step"] and "k_resumed" not in open_store(gen).data_vars

    again = _cli("reweight", ref, gen, "--model", spec, "--out", str(killed_run), "--name", "k_resumed", "--resume",
                 env=env)
    assert again.wait(timeout=600) == 0, again.stdout.read()
    a = torch.load(tmp_path / "straight" / "classifier.pt", weights_only=False)["recipe"]["networks"]
    b = torch.load(killed_run / "classifier.pt", weights_only=False)["recipe"]["networks"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    ds = open_store(gen)
    np.testing.assert_array_equal(ds.k_straight.values, ds.k_resumed.values)
    steps = [json.loads(line)["step"] for line in (killed_run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(steps)  # lines logged after the checkpoint were dropped, not repeated
    assert steps[-1] == json.loads((tmp_path / "straight" / "metrics.json").read_text())["steps"]


@pytest.mark.slow  # ≈ 19 s; the default suite kills train and reweight at fixed points (test_reliability_kill)
def test_gan_training_resumes_exactly_after_kill_9(tmp_path):
    """The same guarantee for a GAN through the same loop: train killed with SIGKILL, then --resume."""
    store = toy_store(tmp_path, "toy_bimodal_1d", 6000)
    spec = str(model_spec(tmp_path, "toy_gan_bimodal_1d",
                          training={"selection": None, "batch_size": 64, "checkpoint_every": 40}))
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    args = ["train", spec, "--data", store, "--steps", "400", "--device", "cpu"]
    straight = _cli(*args, "--out", str(tmp_path / "straight"), env=env)
    assert straight.wait(timeout=600) == 0, straight.stdout.read()
    victim = _cli(*args, "--out", str(tmp_path / "killed"), env=env)
    deadline = time.monotonic() + 300
    while _progress(tmp_path / "killed") < 100 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert victim.poll() is None, "the run ended before it could be killed"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    again = _cli(*args, "--out", str(tmp_path / "killed"), "--resume", env=env)
    assert again.wait(timeout=600) == 0, again.stdout.read()
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=False)["recipe"]["networks"]
    b = torch.load(tmp_path / "killed" / "checkpoint.pt", weights_only=False)["recipe"]["networks"]
    assert all(torch.equal(a[k], b[k]) for k in a)
