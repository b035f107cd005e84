"""Bad input files and CLI arguments: one clear message naming the file (or option) and the problem,
exit code 2, never a traceback — and the inputs are left byte for byte as they were.

Damaged stores (a corrupt or truncated Zstd chunk, a damaged ``zarr.json``, an impossible commit
counter, a deleted chunk), damaged or unphysical HDF5 files to import, damaged run directories
(checkpoint, ``run.json``, ``selection.json``), out-of-range arguments, an unreachable scheduler,
and a disk that refuses writes (full or read-only).
"""

from __future__ import annotations

import errno
import json
import shutil

import h5py
import numpy as np
import pytest
import torch
import zarr.storage._local as zarr_local
from typer.testing import CliRunner

from physgen.cli import app
from physgen.errors import StoreError
from physgen.sim import simulate
from physgen.store import open_store, read_provenance
from physgen.testing import assert_store_equal
from physgen.train import train
from _reliability import tree_digest
from _train_stores import model_spec

pytestmark = pytest.mark.usefixtures("torch_one_thread")

runner = CliRunner()

TOY = ("kind: dataset\nname: toy_chunks\nsimulator: {name: mixture, options: {mixture: bimodal_1d}}\n"
       "features: toy_1d\nevents: 1500\nseed: 3\nchunk_events: 500\n")


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def assert_user_error(result, *needles: str) -> str:
    """Exit 2, one message (no traceback) holding every needle; returns the message."""
    __tracebackhide__ = True
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    message = result.stderr
    assert "Traceback" not in message + result.stdout
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """A 1500-event store in three chunks, and a second one to compare with."""
    tmp = tmp_path_factory.mktemp("toy")
    spec = tmp / "work" / "specs" / "toy_chunks.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(TOY)
    store = simulate(str(spec), tmp / "store.zarr", progress=False)
    other = simulate(str(spec), tmp / "other.zarr", seed=4, progress=False)
    model = model_spec(tmp, "toy_gan_bimodal_1d", training={"selection": None, "batch_size": 64})
    return tmp, store, other, model


def _damaged_copy(toy, tmp_path, damage):
    _, store, _, _ = toy
    copy = tmp_path / "damaged.zarr"
    shutil.copytree(store, copy)
    damage(copy)
    return copy


def _flip(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2:] = bytes(b ^ 0x5A for b in data[len(data) // 2:])
    path.write_bytes(bytes(data))


def _set_meta(key, value):
    def damage(copy):
        root = json.loads((copy / "zarr.json").read_text())
        root["attributes"]["physgen"][key] = value
        (copy / "zarr.json").write_text(json.dumps(root))
    return damage


STORE_DAMAGE = {
    "corrupt zstd chunk": (lambda c: _flip(c / "x" / "c" / "1"), ["'x'", "events 500:", "cannot be read"]),
    "truncated chunk": (lambda c: (c / "x" / "c" / "2").write_bytes((c / "x" / "c" / "2").read_bytes()[:20]),
                        ["'x'", "events 1000:", "cannot be read"]),
    "random-bytes chunk": (lambda c: (c / "x" / "c" / "0").write_bytes(np.random.default_rng(0).bytes(600)),
                           ["'x'", "events 0:500"]),
    "deleted chunk": (lambda c: (c / "x" / "c" / "1").unlink(), ["x/c/1", "missing", "zeros"]),
    "corrupt array zarr.json": (lambda c: (c / "x" / "zarr.json").write_text('{"shape": [15'),
                                ["x/zarr.json", "damaged"]),
    "corrupt root zarr.json": (lambda c: (c / "zarr.json").write_text("{"), ["zarr.json", "damaged"]),
    "committed_events not an integer": (_set_meta("committed_events", "1500"), ["committed_events", "'1500'"]),
    "committed_events fractional": (_set_meta("committed_events", 2.5), ["committed_events", "2.5"]),
    "committed_events negative": (_set_meta("committed_events", -3), ["committed_events", "-3"]),
    "committed_events beyond the arrays": (_set_meta("committed_events", 10**9), ["committed_events", "1500"]),
    "chunk_events zero": (_set_meta("chunk_events", 0), ["chunk_events"]),
}


@pytest.mark.parametrize("case", list(STORE_DAMAGE))
def test_damaged_store_is_one_message_naming_it(toy, tmp_path, case):
    damage, needles = STORE_DAMAGE[case]
    copy = _damaged_copy(toy, tmp_path, damage)
    before = tree_digest(copy)
    assert_user_error(invoke("store", "validate", copy), str(copy), *needles)
    assert tree_digest(copy) == before


@pytest.fixture(scope="module")
def showers(tmp_path_factory):
    return simulate("calogan_eplus", tmp_path_factory.mktemp("showers") / "s.zarr", events=200, progress=False)


SHOWER_DAMAGE = {
    "corrupt zstd chunk": (lambda c: _flip(c / "layer_1" / "c" / "0" / "0" / "0"), ["'layer_1'", "cannot be read"]),
    "deleted chunk": (lambda c: (c / "layer_2" / "c" / "0" / "0" / "0").unlink(), ["layer_2/c/0/0/0", "missing"]),
    "corrupt array zarr.json": (lambda c: (c / "layer_0" / "zarr.json").write_text("[]"),
                                ["layer_0/zarr.json", "damaged"]),
    "committed_events beyond the arrays": (_set_meta("committed_events", 201), ["committed_events", "200"]),
    "deleted array zarr.json": (lambda c: (c / "layer_2" / "zarr.json").unlink(), ["'layer_2'", "missing"]),
    "flipped coordinate": (lambda c: _flip(c / "layer" / "c" / "0"), ["'layer'", "cannot be read"]),
    "deleted coordinate chunk": (lambda c: (c / "layer_0_x" / "c" / "0").unlink(), ["layer_0_x/c/0", "missing"]),
}


@pytest.mark.parametrize("case", list(SHOWER_DAMAGE))
def test_damaged_store_fails_observables_cleanly(showers, tmp_path, case):
    damage, needles = SHOWER_DAMAGE[case]
    copy = tmp_path / "damaged.zarr"
    shutil.copytree(showers, copy)
    damage(copy)
    before = tree_digest(copy)
    assert_user_error(invoke("observables", copy), str(copy), *needles)
    assert_user_error(invoke("observables", copy, "--out", tmp_path / "o.csv"), str(copy), *needles)
    assert tree_digest(copy) == before and not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("case", ["corrupt zstd chunk", "deleted chunk"])
def test_damaged_store_fails_train_and_evaluate_cleanly(toy, tmp_path, case):
    _, _, other, model = toy
    damage, needles = STORE_DAMAGE[case]
    copy = _damaged_copy(toy, tmp_path, damage)
    before = tree_digest(copy)
    assert_user_error(invoke("train", model, "--data", copy, "--out", tmp_path / "run", "--steps", 3,
                             "--device", "cpu"), str(copy), *needles)
    assert_user_error(invoke("evaluate", other, copy, "--out", tmp_path / "eval"), str(copy), *needles)
    assert tree_digest(copy) == before


def test_an_intact_store_with_all_zero_chunks_is_valid(tmp_path):
    """All-zero chunks are written too, so the missing-chunk check never mistakes them for deletions."""
    url = simulate("calogan_eplus", tmp_path / "s.zarr", events=50, progress=False)  # x0 = y0 = 0 everywhere
    assert invoke("store", "validate", url).exit_code == 0
    assert (tmp_path / "s.zarr" / "x0" / "c" / "0").is_file()


# ------------------------------------------------------------------ HDF5 files to import
def _calogan(path, n=40, **override):
    rng = np.random.default_rng(5)
    data = {"energy": rng.uniform(1, 100, (n, 1)), "layer_0": rng.exponential(1, (n, 3, 96)),
            "layer_1": rng.exponential(1, (n, 12, 12)), "layer_2": rng.exponential(1, (n, 12, 6)),
            "overflow": rng.exponential(1, (n, 3))}
    data = {k: v.astype(np.float32) for k, v in data.items()}
    for key, (index, value) in override.items():
        data[key][index] = value
    with h5py.File(path, "w") as f:
        for k, v in data.items():
            f.create_dataset(k, data=v, chunks=(10, *v.shape[1:]), compression="gzip")
    return path


def _damage_hdf5_chunk(path, key="layer_1", chunk=2):
    with h5py.File(path, "r") as f:
        info = f[key].id.get_chunk_info(chunk)
    with open(path, "r+b") as f:
        f.seek(info.byte_offset + 8)
        f.write(b"\xff" * min(64, info.size - 8))


HDF5_CASES = {
    "NaN cell energy": ({"layer_1": ((7, 3, 4), np.nan)}, ["event 7", "'layer_1'", "NaN"]),
    "inf cell energy": ({"layer_2": ((12, 0, 0), np.inf)}, ["event 12", "'layer_2'", "inf"]),
    "negative cell energy": ({"layer_0": ((3, 1, 5), -2.0)}, ["event 3", "'layer_0'", "-2.0", "outside"]),
    "NaN incident energy": ({"energy": ((20, 0), np.nan)}, ["event 20", "'energy'", "NaN"]),
    "negative incident energy": ({"energy": ((0, 0), -5.0)}, ["event 0", "'energy'", "-5.0"]),
}


@pytest.mark.parametrize("case", list(HDF5_CASES))
def test_unphysical_values_are_refused_on_import(tmp_path, case):
    override, needles = HDF5_CASES[case]
    path = _calogan(tmp_path / "bad.h5", **override)
    before = tree_digest(path)
    assert_user_error(invoke("import", "calogan", path, "--out", tmp_path / "s.zarr"), "bad.h5", *needles)
    assert not (tmp_path / "s.zarr").exists()  # nothing half-imported is left
    assert tree_digest(path) == before


def test_damaged_or_truncated_hdf5_is_refused(tmp_path):
    damaged = _calogan(tmp_path / "damaged.h5")
    _damage_hdf5_chunk(damaged)
    assert_user_error(invoke("import", "calogan", damaged, "--out", tmp_path / "a.zarr"), "damaged.h5",
                      "events", "cannot be read")
    assert not (tmp_path / "a.zarr").exists()
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(_calogan(tmp_path / "whole.h5").read_bytes()[:5000])
    assert_user_error(invoke("import", "calogan", truncated, "--out", tmp_path / "b.zarr"), "truncated.h5")


@pytest.mark.parametrize("signal", [2, -1, np.nan, 0.5])
def test_lagan_signal_must_be_zero_or_one(tmp_path, signal):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 6).astype(np.float64)
    labels[4] = signal
    with h5py.File(tmp_path / "jets.h5", "w") as f:
        f["image"] = rng.exponential(1, (6, 25, 25)).astype(np.float32)
        f["signal"] = labels
    assert_user_error(invoke("import", "lagan", tmp_path / "jets.h5", "--out", tmp_path / "s.zarr"),
                      "jets.h5", "event 4", "'signal'", "must be 1")
    assert not (tmp_path / "s.zarr").exists()


def test_import_resumed_into_existing_store_keeps_it_when_a_file_is_bad(tmp_path):
    good = _calogan(tmp_path / "good.h5")
    store = tmp_path / "s.zarr"
    assert invoke("import", "calogan", good, "--out", store).exit_code == 0
    before = tree_digest(store)
    bad = _calogan(tmp_path / "good2.h5", layer_1=((1, 0, 0), np.nan))
    assert_user_error(invoke("import", "calogan", bad, "--out", store), "already exists")
    assert tree_digest(store) == before


# ------------------------------------------------------------------ run directories
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    circle = simulate("toy_circle_8", tmp / "circle.zarr", events=1000, progress=False)
    bimodal = simulate("toy_bimodal_1d", tmp / "bimodal.zarr", events=1000, progress=False)
    spec = model_spec(tmp, "toy_gan_circle_8", training={"selection": None, "batch_size": 64})
    train(spec, circle, tmp / "circle_run", steps=2, device="cpu", progress=False)
    other = model_spec(tmp, "toy_gan_bimodal_1d", training={"selection": None, "batch_size": 64})
    train(other, bimodal, tmp / "bimodal_run", steps=2, device="cpu", progress=False)
    return tmp, circle, spec


def _checkpoint_damage(runs):
    tmp = runs[0]
    return {
        "truncated": lambda p: p.write_bytes(p.read_bytes()[:300]),
        "empty": lambda p: p.write_bytes(b""),
        "random bytes": lambda p: p.write_bytes(np.random.default_rng(2).bytes(4096)),
        "another model": lambda p: shutil.copyfile(tmp / "bimodal_run" / "checkpoint.pt", p),
        "not a checkpoint": lambda p: torch.save({"weights": [1, 2]}, p),
    }


@pytest.mark.parametrize("case", ["truncated", "empty", "random bytes", "another model", "not a checkpoint"])
def test_damaged_checkpoint_fails_generate_and_resume_cleanly(runs, tmp_path, case):
    tmp, circle, spec = runs
    run = tmp_path / "run"
    shutil.copytree(tmp / "circle_run", run)
    _checkpoint_damage(runs)[case](run / "checkpoint.pt")
    before = tree_digest(run)
    assert_user_error(invoke("generate", run, "--events", 10, "--out", tmp_path / "g.zarr", "--device", "cpu"),
                      "checkpoint.pt")
    assert_user_error(invoke("train", spec, "--data", circle, "--out", run, "--steps", 4, "--resume",
                             "--device", "cpu"), "checkpoint.pt")
    assert not (tmp_path / "g.zarr").exists()
    assert tree_digest(run) == before


@pytest.mark.parametrize("name", ["run.json", "selection.json"])
def test_truncated_run_files_fail_cleanly(runs, tmp_path, name):
    tmp, circle, spec = runs
    run = tmp_path / "run"
    shutil.copytree(tmp / "circle_run", run)
    text = (run / "run.json").read_text() if name == "run.json" else json.dumps([{"step": 2, "path": "x.pt"}])
    (run / name).write_text(text[: len(text) // 2])
    assert_user_error(invoke("generate", run, "--events", 10, "--out", tmp_path / "g.zarr", "--device", "cpu"),
                      name, "damaged or truncated")
    if name == "run.json":
        assert_user_error(invoke("train", spec, "--data", circle, "--out", run, "--steps", 4, "--resume",
                                 "--device", "cpu"), name)


# ------------------------------------------------------------------ arguments
@pytest.mark.parametrize("args", [
    ("simulate", "toy_bimodal_1d", "--events", "10", "--seed", "-1"),
    ("simulate", "toy_bimodal_1d", "--events", "10", "--workers", "0"),
    ("simulate", "toy_bimodal_1d", "--events", "10", "--workers", "-3"),
    ("simulate", "toy_bimodal_1d", "--events", "0"),
    ("simulate", "toy_bimodal_1d", "--events", "10", "--scheduler", "not-an-address"),
    ("simulate", "toy_bimodal_1d", "--events", "10", "--scheduler", "nosuch://host:1"),
])
def test_bad_simulate_arguments(tmp_path, args):
    out = tmp_path / "s.zarr"
    import dask

    scheduler = dask.config.get("scheduler", None)
    message = assert_user_error(invoke(*args, "--out", out))
    assert args[-2] in message or "scheduler" in message
    assert not out.exists()
    assert dask.config.get("scheduler", None) == scheduler  # a failed client leaves dask's settings alone


def test_dead_scheduler_is_a_clear_error(tmp_path):
    import dask

    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = invoke("simulate", "toy_bimodal_1d", "--events", "10", "--scheduler", "tcp://127.0.0.1:9",
                        "--out", tmp_path / "s.zarr")
    assert_user_error(result, "cannot connect to the dask scheduler", "tcp://127.0.0.1:9")
    assert dask.config.get("scheduler", None) is None  # a failed client leaves dask's settings alone


def test_negative_seeds_everywhere(runs, toy, tmp_path):
    tmp, circle, _ = runs
    _, store, other, _ = toy
    assert_user_error(invoke("generate", tmp / "circle_run", "--events", 10, "--out", tmp_path / "g.zarr",
                             "--seed", -1), "--seed")
    assert_user_error(invoke("evaluate", store, other, "--out", tmp_path / "e", "--seed", -2), "--seed")
    assert_user_error(invoke("reweight", store, other, "--model", "dctr_toy_1d", "--out", tmp_path / "r",
                             "--seed", -1), "--seed")
    assert not (tmp_path / "g.zarr").exists()


def test_observables_into_a_missing_folder(showers, tmp_path):
    assert_user_error(invoke("observables", showers, "--out", tmp_path / "nope" / "o.csv"), "nope", "does not exist")


# ------------------------------------------------------------------ a disk that refuses writes
def _refusing_put(monkeypatch, code: int, after: int):
    real = zarr_local._put
    calls = {"n": 0}

    def put(path, value, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > after:
            raise OSError(code, errno.errorcode[code] and {errno.ENOSPC: "No space left on device",
                                                           errno.EROFS: "Read-only file system"}[code], str(path))
        return real(path, value, *args, **kwargs)

    monkeypatch.setattr(zarr_local, "_put", put)


@pytest.mark.parametrize(("code", "text"), [(errno.ENOSPC, "No space left on device"),
                                             (errno.EROFS, "Read-only file system")])
def test_full_or_read_only_disk_keeps_the_committed_events(tmp_path, monkeypatch, code, text):
    spec = tmp_path / "work" / "specs" / "toy_chunks.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(TOY)
    out = tmp_path / "work" / "s.zarr"
    _refusing_put(monkeypatch, code, after=12)  # creation (~5 files) and one append go through
    message = assert_user_error(invoke("simulate", spec, "--out", out), text, "committed events", "--resume")
    monkeypatch.undo()
    committed = read_provenance(out)["committed_events"]
    assert f"keeps its {committed} committed" in message and open_store(out).sizes["event"] == committed
    assert invoke("simulate", spec, "--out", out, "--resume").exit_code == 0
    assert_store_equal(out, simulate(str(spec), tmp_path / "work" / "reference.zarr", progress=False))


def test_refused_writes_outside_stores_are_one_line(showers, tmp_path, monkeypatch):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "o.csv"))

    monkeypatch.setattr("pandas.DataFrame.to_csv", full)
    assert_user_error(invoke("observables", showers, "--out", tmp_path / "o.csv"), "No space left on device", "o.csv")
    with pytest.raises(StoreError, match="object stores have no locks"):
        simulate("toy_bimodal_1d", "gs://bucket/s.zarr", events=10, progress=False)
