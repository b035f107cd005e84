"""One writer per store: a second writer (a real second process) is refused with a message naming
the holder, a reader sees only committed events while a write is under way, the lock of a killed
writer is recovered, and object stores without locks are refused unless ``--no-lock`` is given
(``memory://`` outputs of a command are refused: they would vanish when it exits)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from typer.testing import CliRunner

from physgen.cli import app
from physgen.errors import StoreError, StoreLockedError
from physgen.sim import simulate
from physgen.store import add_variable, open_store, read_provenance, store_lock
from physgen.store._lock import lock_paths
from physgen.train import train as train_model
from _reliability import KILL_AT, environment, run_cli

runner = CliRunner()

ENDLESS = ("kind: dataset\nname: toy_endless\nsimulator: {name: mixture, options: {mixture: circle_8}}\n"
           "features: toy_2d\nevents: 1000\nseed: 9\nchunk_events: 500\n")


def _wait_for(condition, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def test_second_writer_refused_reader_sees_commits_killed_holder_recovered(tmp_path, caplog):
    spec = tmp_path / "work" / "specs" / "toy_endless.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(ENDLESS)
    url = tmp_path / "work" / "s.zarr"
    # 10**13 events: far more than will ever be written (the run plans its chunks lazily: no MemoryError);
    # each commit waits 50 ms, so the writer is still writing while this test looks at it
    writer = subprocess.Popen([sys.executable, str(KILL_AT), "physgen.store._writer:StoreWriter._commit", "50",
                               "pause", "--", "simulate", str(spec), "--out", str(url), "--events", str(10**13)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment(), text=True)
    try:
        lock_file, record = lock_paths(str(url))
        _wait_for(lambda: writer.poll() is not None or (url / "zarr.json").exists(), "the writer to create the store")
        assert writer.poll() is None, writer.stderr.read()
        assert json.loads(record.read_text())["pid"] == writer.pid

        second = run_cli("simulate", spec, "--out", url, "--events", 10**13, "--resume")
        assert second.returncode == 2, second.stderr
        assert f"being written by pid {writer.pid}" in second.stderr and "simulate" in second.stderr
        assert "Traceback" not in second.stderr and len(second.stderr.strip().splitlines()) == 1
        with pytest.raises(StoreLockedError, match=f"pid {writer.pid}"):  # any writer: add_variable too
            add_variable(url, "w", np.ones(0), attrs={"units": ""}, provenance={})

        views = []  # readers during the write: only committed events, each a prefix of the final store
        while len(views) < 4 or views[-1][0] < 2000:
            ds = open_store(url)
            views.append((ds.sizes["event"], ds["x"].values))
            assert writer.poll() is None
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    committed = read_provenance(url)["committed_events"]
    reference = simulate(str(spec), tmp_path / "work" / "reference.zarr", events=committed, progress=False)
    final = open_store(reference)["x"].values
    np.testing.assert_array_equal(open_store(url)["x"].values, final)  # what the killed writer committed
    # the next writer recovers the lock (a resume may not shrink the 10¹³-event request, so it starts the
    # store again; tests/test_reliability_kill.py resumes killed runs)
    with caplog.at_level(logging.WARNING, logger="physgen"):
        simulate(str(spec), url, events=1000, mode="overwrite", progress=False)
    assert f"pid {writer.pid}" in caplog.text and "ended without releasing it" in caplog.text
    assert not record.exists() and lock_file.exists()
    np.testing.assert_array_equal(open_store(url)["x"].values, final[:1000])
    for n, x in views:
        assert n % 500 == 0 and len(x) == n
        np.testing.assert_array_equal(x, final[:n])


def test_lock_is_reentrant_in_a_thread_and_exclusive_across_threads(tmp_path):
    url = simulate("toy_bimodal_1d", tmp_path / "s.zarr", events=100, progress=False)
    refused = []

    def other_thread():
        try:
            with store_lock(url):
                pass
        except StoreLockedError as exc:
            refused.append(str(exc))

    with store_lock(url):
        add_variable(url, "w", np.ones(100), attrs={"units": "dimensionless"}, provenance={})  # takes it again
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
    assert len(refused) == 1 and "another thread" in refused[0]
    assert "w" in open_store(url)
    with store_lock(url):  # released after the outer block
        pass


def test_object_stores_need_no_lock_and_unknown_protocols_fail_cleanly(tmp_path):
    locked = runner.invoke(app, ["simulate", "toy_bimodal_1d", "--events", "10", "--out", "s3://bucket/x.zarr"])
    assert locked.exit_code == 2 and "object stores have no locks" in locked.stderr and "--no-lock" in locked.stderr
    unknown = runner.invoke(app, ["simulate", "toy_bimodal_1d", "--events", "10", "--out", "nosuch://b/x.zarr",
                                  "--no-lock"])
    assert unknown.exit_code == 2 and "unknown URL protocol 'nosuch'" in unknown.stderr
    reading = runner.invoke(app, ["store", "info", "nosuch://b/x.zarr"])
    assert reading.exit_code == 2 and "unknown URL protocol" in reading.stderr
    try:
        import s3fs  # noqa: F401
    except ImportError:
        s3 = runner.invoke(app, ["simulate", "toy_bimodal_1d", "--events", "10", "--out", "s3://bucket/x.zarr",
                                 "--no-lock"])
        assert s3.exit_code == 2 and "s3fs" in s3.stderr
    memory = runner.invoke(app, ["simulate", "toy_bimodal_1d", "--events", "10", "--out", "memory://locks/x.zarr"])
    assert memory.exit_code == 2 and "vanishes when the command exits" in memory.stderr  # nothing would be kept
    # from Python, one process sees a memory:// store: an in-process lock
    in_memory = simulate("toy_bimodal_1d", "memory://locks/x.zarr", events=10, progress=False)
    assert open_store(in_memory).sizes["event"] == 10


def test_unwritable_lock_folder_is_a_clear_error(tmp_path, monkeypatch):
    import filelock

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self.lock_file))

    monkeypatch.setattr(filelock.FileLock, "acquire", refuse)
    with pytest.raises(StoreError, match="cannot lock .* Permission denied"):
        simulate("toy_bimodal_1d", tmp_path / "s.zarr", events=10, progress=False)
    assert not (tmp_path / "s.zarr").exists()


def test_second_training_of_one_run_directory_is_refused_naming_the_first(tmp_path, caplog):
    store = simulate("toy_circle_8", tmp_path / "toy.zarr", events=2000, progress=False)
    run_dir = tmp_path / "gan.run"
    trainer = subprocess.Popen([sys.executable, "-m", "physgen.cli", "train", "toy_gan_circle_8", "--data", str(store),
                                "--out", str(run_dir), "--steps", str(10**9)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environment(), text=True)
    try:
        _, record = lock_paths(str(run_dir))
        _wait_for(lambda: trainer.poll() is not None or (run_dir / "run.json").exists(), "the run description")
        assert trainer.poll() is None, trainer.stderr.read()
        assert json.loads(record.read_text())["pid"] == trainer.pid

        second = run_cli("train", "toy_gan_circle_8", "--data", store, "--out", run_dir, "--steps", 10, "--overwrite")
        assert second.returncode == 2, second.stderr
        assert f"run directory '{run_dir}' is being written by pid {trainer.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        assert trainer.poll() is None and (run_dir / "run.json").exists()  # --overwrite deleted nothing
        os.kill(trainer.pid, signal.SIGKILL)
        trainer.wait()
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()
    with caplog.at_level(logging.WARNING, logger="physgen"):
        result = train_model("toy_gan_circle_8", store, run_dir, steps=5, overwrite=True, progress=False)
    assert f"pid {trainer.pid}" in caplog.text and "ended without releasing it" in caplog.text
    assert result.step == 5 and not record.exists()
