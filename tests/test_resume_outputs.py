"""Run outputs after interruptions: ``metrics.jsonl`` without duplicated steps after a resume (also one
started before the first checkpoint), and interrupt messages that promise only what exists."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from _train_stores import model_spec, toy_store
from physgen import cli
from physgen.cli import app
from physgen.train import train

runner = CliRunner()


def _steps(run_dir):
    return [json.loads(line)["step"] for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("checkpoint_first", [False, True])
def test_metrics_have_each_step_once_after_a_resume(tmp_path, torch_one_thread, checkpoint_first):
    store = toy_store(tmp_path, "toy_bimodal_1d", 4000)
    spec = model_spec(tmp_path, "toy_gan_bimodal_1d",
                      training={"checkpoint_every": 20 if checkpoint_first else 1000, "selection": None,
                                "options": {"log_every": 10}})
    run = tmp_path / "run"
    if checkpoint_first:  # killed after the checkpoint at step 20, with step 30 and half a line logged since
        train(spec, store, run, steps=20, device="cpu", progress=False)
        assert _steps(run) == [10, 20]
        (run / "metrics.jsonl").write_text((run / "metrics.jsonl").read_text() + '{"step": 30}\n{"step": 4')
    else:  # killed before the first checkpoint, after steps 10..40 were logged
        train(spec, store, run, steps=40, device="cpu", progress=False)
        assert _steps(run) == [10, 20, 30, 40]
        (run / "checkpoint.pt").unlink()
    train(spec, store, run, steps=40, device="cpu", progress=False, resume=True)
    assert _steps(run) == [10, 20, 30, 40]


@pytest.mark.parametrize(("command", "says"), [
    ("simulate", "rerun the same command with --resume"),
    ("generate", "rerun the same command with --resume"),
    ("observables", "nothing partial was left"),
    ("evaluate", "nothing partial was left"),
    ("reweight", "the last training checkpoint is kept"),
    ("train", "the last training checkpoint is kept"),
    ("run_pipeline", "finished steps keep their outputs; rerun the same command with --resume"),
])
def test_interrupt_messages_promise_only_what_exists(command, says):
    func = getattr(cli, command)
    assert says in cli._after_interrupt(getattr(func, "__wrapped__", func))


def test_ctrl_c_prints_the_message_and_exit_130(monkeypatch, tmp_path):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("physgen.report.evaluate", interrupted)
    result = runner.invoke(app, ["evaluate", "a.zarr", "b.zarr", "--out", str(tmp_path / "r")])
    assert result.exit_code == 130 and "nothing partial was left" in result.stderr and "--resume" not in result.stderr


@pytest.mark.parametrize(("rank", "printed"), [("0", True), ("1", False)])
def test_only_rank_0_prints_the_training_summary(monkeypatch, tmp_path, rank, printed):
    from types import SimpleNamespace

    monkeypatch.setenv("RANK", rank)
    monkeypatch.setattr("physgen.train.train", lambda *a, **k: SimpleNamespace(step=7, run_dir=tmp_path / "run",
                                                                                  stopped_at_time_limit=False))
    result = runner.invoke(app, ["train", "toy_gan_circle_8", "--data", "x.zarr", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert ("trained 7 steps" in result.stdout) is printed
