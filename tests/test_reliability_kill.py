"""Every writing path survives ``kill -9``: simulate, import, generate, train, reweight, observables
``--out`` and evaluate are run as real processes that SIGKILL themselves at a chosen moment (the
N-th call of a function, see ``tests/_kill_at.py``), then rerun as documented (``--resume``, or
``--overwrite`` for reweight, a plain rerun for observables and evaluate). The result must equal an
uninterrupted run with the same seed — byte for byte for stores — and a reader opening the store
right after the kill must see only committed events. One moment per path runs by default; the
full matrix is marked ``slow``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from physgen.generate import generate
from physgen.io import import_files
from physgen.observables import write_observables
from physgen.report import evaluate
from physgen.reweight import reweight
from physgen.sim import simulate
from physgen.store import open_store, read_provenance, store_exists
from physgen.train import train
from _reliability import assert_same_bytes, run_killed
from _train_stores import model_spec, toy_store

pytestmark = pytest.mark.usefixtures("torch_one_thread")

WRITER = "physgen.store._writer"
slow = pytest.mark.slow


def _moments(default, *more):
    return [default, *(pytest.param(*m, marks=slow) for m in more)]


def _assert_committed_prefix(killed, reference) -> None:
    """What a reader sees in a killed store: the committed events, equal to the start of the reference."""
    seen, full = open_store(killed), open_store(reference)
    n = seen.sizes["event"]
    assert n == read_provenance(killed)["committed_events"] < full.sizes["event"]
    for name in full.data_vars:
        np.testing.assert_array_equal(seen[name].values, full[name].values[:n])


# ------------------------------------------------------------------ simulate
TOY = ("kind: dataset\nname: toy_kill\nsimulator: {name: mixture, options: {mixture: grid_5x5}}\n"
       "features: toy_2d\nevents: 5000\nseed: 3\nchunk_events: 1000\n")


@pytest.mark.parametrize(("target", "n", "when"), _moments(
    (f"{WRITER}:StoreWriter._commit", 3, "before"),       # third chunk written, not committed
    (f"{WRITER}:StoreWriter._commit", 1, "before"),
    (f"{WRITER}:StoreWriter._commit", 3, "after"),        # right after a commit
    (f"{WRITER}:StoreWriter._write_variable", 4, "after"),  # between the arrays of one append
    (f"{WRITER}:_create", 1, "after"),                    # store created, nothing committed
    ("zarr.storage._local:_put", 9, "before"),            # in the middle of zarr's file writes
))
def test_simulate_killed_then_resumed_equals_uninterrupted(tmp_path, target, n, when):
    spec = tmp_path / "work" / "specs" / "toy_kill.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(TOY)
    killed = tmp_path / "work" / "killed.zarr"
    run_killed(target, n, when, "simulate", spec, "--out", killed)
    reference = simulate(str(spec), tmp_path / "work" / "reference.zarr", progress=False)
    if store_exists(str(killed)) and (killed / "x").exists():
        _assert_committed_prefix(killed, reference)
    simulate(str(spec), killed, mode="resume", progress=False)
    assert_same_bytes(killed, reference)


# ------------------------------------------------------------------ import
def _calogan_files(folder, count=4, n=6):
    rng = np.random.default_rng(11)
    paths = []
    for i in range(count):
        path = folder / f"part{i}.h5"
        with h5py.File(path, "w") as f:
            f["energy"] = rng.uniform(1, 100, (n, 1)).astype(np.float32)
            for name, shape in (("layer_0", (3, 96)), ("layer_1", (12, 12)), ("layer_2", (12, 6)), ("overflow", (3,))):
                f[name] = rng.exponential(1, (n, *shape)).astype(np.float32)
        paths.append(path)
    return paths


@pytest.mark.parametrize(("target", "n", "when"), _moments(
    (f"{WRITER}:StoreWriter._commit", 3, "before"),
    (f"{WRITER}:StoreWriter._commit", 1, "after"),
    (f"{WRITER}:StoreWriter._write_variable", 10, "after"),  # second file: first array grown and written
))
def test_import_killed_then_resumed_equals_uninterrupted(tmp_path, target, n, when):
    files = _calogan_files(tmp_path)
    killed = tmp_path / "killed.zarr"
    run_killed(target, n, when, "import", "calogan", *files, "--out", killed)
    reference = import_files("calogan", files, tmp_path / "reference.zarr", progress=False)
    if (killed / "layer_0").exists():
        _assert_committed_prefix(killed, reference)
    import_files("calogan", files, killed, mode="resume", progress=False)
    assert_same_bytes(killed, reference)


# ------------------------------------------------------------------ train, generate
@pytest.fixture(scope="module")
def circle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("circle")
    store = toy_store(tmp, "toy_circle_8", 3000)
    spec = model_spec(tmp, "toy_gan_circle_8", training={"selection": None, "checkpoint_every": 10})
    train(spec, store, tmp / "run", steps=10, device="cpu", progress=False)
    return store, spec, tmp / "run"


@pytest.mark.parametrize(("target", "n", "when"), _moments(
    (f"{WRITER}:StoreWriter._commit", 2, "before"),
    (f"{WRITER}:StoreWriter._commit", 1, "after"),
    (f"{WRITER}:StoreWriter._write_variable", 3, "after"),
))
def test_generate_killed_then_resumed_equals_uninterrupted(circle, tmp_path, target, n, when):
    _, _, run = circle
    killed = tmp_path / "killed.zarr"
    run_killed(target, n, when, "generate", run, "--events", 25_000, "--out", killed, "--seed", 5,
               "--checkpoint", "last", "--device", "cpu")
    reference = generate(run, 25_000, tmp_path / "reference.zarr", seed=5, checkpoint="last", device="cpu",
                         progress=False)
    if (killed / "x").exists():
        _assert_committed_prefix(killed, reference)
    generate(run, 25_000, killed, seed=5, checkpoint="last", device="cpu", mode="resume", progress=False)
    assert_same_bytes(killed, reference)


def _weights(run_dir) -> dict[str, torch.Tensor]:
    return torch.load(run_dir / "checkpoint.pt", weights_only=False)["recipe"]["networks"]


@pytest.mark.parametrize(("target", "n", "when"), _moments(
    ("physgen.train._loop:atomic_save", 2, "before"),  # checkpoint of step 10 on disk, step 20 not written
    ("physgen.train._loop:atomic_save", 1, "after"),
    ("os:replace", 2, "before"),                        # first checkpoint written to its temporary file only
))
def test_train_killed_then_resumed_equals_uninterrupted(circle, tmp_path, target, n, when):
    store, spec, _ = circle
    killed = tmp_path / "killed"
    run_killed(target, n, when, "train", spec, "--data", store, "--out", killed, "--steps", 30, "--device", "cpu")
    if (killed / "metrics.jsonl").is_file():  # a line cut short by the kill must not break the resume
        with open(killed / "metrics.jsonl", "a") as f:
            f.write('{"step": 9')
    train(spec, store, killed, steps=30, resume=True, device="cpu", progress=False)
    train(spec, store, tmp_path / "straight", steps=30, device="cpu", progress=False)
    straight, resumed = _weights(tmp_path / "straight"), _weights(killed)
    assert straight.keys() == resumed.keys()
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    steps = [json.loads(line)["step"] for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 30  # nothing logged twice, nothing torn


# ------------------------------------------------------------------ reweight
DCTR = """kind: model
name: dctr_kill
architecture: dctr_mlp
hyperparameters: {hidden: [8, 8], activation: relu}
data: {inputs: [x]}
training: {batch_size: 256, epochs: 2, optimizer: {name: adam, lr: 1.0e-3}, validation_fraction: 0.2, seed: 0,
           options: {clip: 5, weight_name: dctr_weight}}
"""


@pytest.fixture(scope="module")
def bimodal_pair(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pair")
    ref = simulate("toy_bimodal_1d", tmp / "ref.zarr", events=600, seed=1, progress=False)
    gen = simulate("toy_bimodal_1d", tmp / "gen.zarr", events=600, seed=2, progress=False)
    return tmp, ref, gen


@pytest.mark.parametrize(("target", "n", "when"), _moments(
    ("physgen.store._variables:_commit_variable", 1, "before"),  # weights written, not committed
    ("physgen.reweight._run:atomic_save", 1, "before"),           # classifier trained, nothing written
    ("physgen.reweight._run:atomic_write_text", 2, "after"),      # run files written (metrics.json last), no weights
))
def test_reweight_killed_then_rerun_equals_uninterrupted(bimodal_pair, tmp_path, target, n, when):
    source, ref, gen = bimodal_pair
    spec = tmp_path / "work" / "specs" / "dctr_kill.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(DCTR)
    killed, straight = tmp_path / "killed.zarr", tmp_path / "straight.zarr"
    shutil.copytree(gen, killed)
    shutil.copytree(gen, straight)
    run_killed(target, n, when, "reweight", ref, killed, "--model", spec, "--out", tmp_path / "run_killed")
    assert "dctr_weight" not in open_store(killed)  # an uncommitted variable stays invisible
    assert_same_bytes(killed / "x", straight / "x")
    reweight(ref, killed, spec, out=tmp_path / "run_killed", overwrite=True, progress=False)
    reweight(ref, straight, spec, out=tmp_path / "run_straight", progress=False)
    assert_same_bytes(killed / "dctr_weight", straight / "dctr_weight")
    assert list(open_store(killed).data_vars) == ["x", "dctr_weight"]


# ------------------------------------------------------------------ observables --out, evaluate
@pytest.fixture(scope="module")
def showers(tmp_path_factory):
    return simulate("calogan_eplus", tmp_path_factory.mktemp("showers") / "s.zarr", events=200, progress=False)


@pytest.mark.parametrize(("target", "n", "when", "name"), _moments(
    ("os:replace", 4, "before", "obs.zarr"),  # os.replace #1 is the lock's holder record, then zarr's files
    ("fsspec.implementations.local:LocalFileSystem.mv", 1, "before", "obs.csv"),  # table written, not renamed
    ("physgen.observables._io:_atomic", 1, "before", "obs.zarr"),  # computed, nothing written yet
))
def test_observables_out_killed_then_rerun_equals_uninterrupted(showers, tmp_path, target, n, when, name):
    out = tmp_path / name
    run_killed(target, n, when, "observables", showers, "--out", out)
    assert not out.exists()  # the output appears whole or not at all
    write_observables(open_store(showers), None, out, progress=False)
    straight = tmp_path / "straight" / name
    straight.parent.mkdir()
    write_observables(open_store(showers), None, straight, progress=False)
    if out.is_dir():
        assert_same_bytes(out, straight)
    else:
        assert out.read_bytes() == straight.read_bytes()
    assert [p.name for p in tmp_path.iterdir() if ".partial" in p.name] == []


def _metrics(folder) -> dict:
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics.pop("created")
    metrics["figures"] = {k: Path(v).name for k, v in metrics["figures"].items()}
    return metrics


@pytest.mark.parametrize(("target", "n", "when"), _moments(
    ("physgen.report._evaluate:atomic_write_text", 2, "before"),  # report.html written, metrics.json not
    ("physgen.report._evaluate:_write_pngs", 1, "after"),
))
def test_evaluate_killed_then_rerun_equals_uninterrupted(bimodal_pair, tmp_path, target, n, when):
    _, ref, gen = bimodal_pair
    killed, metrics = tmp_path / "killed", ["s2_mean", "ks_sum_columns", "w1_mean"]  # the writing is under test
    run_killed(target, n, when, "evaluate", ref, gen, "--out", killed, "--metrics", ",".join(metrics))
    assert not (killed / "metrics.json").exists()  # metrics.json marks a complete evaluation
    evaluate(ref, gen, killed, metrics=metrics)
    evaluate(ref, gen, tmp_path / "straight", metrics=metrics)
    assert _metrics(killed) == _metrics(tmp_path / "straight")
    assert sorted(p.name for p in killed.iterdir()) == ["figures", "metrics.json", "report.html"]
