"""Data-parallel training with torch.distributed: 2 CPU processes, gloo backend."""

from __future__ import annotations

import hashlib
import math
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from _train_stores import model_spec, toy_store


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, world: int, port: int, spec: str, store: str, run: str, out: str) -> None:
    """One torchrun-like process: environment as torchrun sets it, then the ordinary train()."""
    os.environ |= {"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                   "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    torch.set_num_threads(1)
    from physgen.train import train

    result = train(spec, store, run, steps=12, device="cpu", progress=False)
    weights = result.recipe.networks.state_dict()
    digest = hashlib.sha256(b"".join(t.numpy().tobytes() for t in weights.values())).hexdigest()
    with open(os.path.join(out, f"rank{rank}.txt"), "w") as f:
        f.write(f"{digest} {result.last['d_loss']} {result.last['g_loss']} {result.step}")
    # train() left the process group it joined, every rank together (else a rank can abort at exit)
    assert not dist.is_initialized()


def test_two_process_gloo_training_keeps_ranks_in_step(tmp_path):
    store = toy_store(tmp_path, "toy_circle_8", 8_000)
    spec = model_spec(tmp_path, "toy_gan_circle_8", training={"selection": None, "checkpoint_every": 4})
    mp.spawn(_rank, args=(2, _free_port(), str(spec), store, str(tmp_path / "run"), str(tmp_path)), nprocs=2)
    reports = [(tmp_path / f"rank{r}.txt").read_text().split() for r in range(2)]
    assert reports[0][0] == reports[1][0], "the ranks' weights differ after training"
    for _, d_loss, g_loss, step in reports:
        assert step == "12" and math.isfinite(float(d_loss)) and math.isfinite(float(g_loss))
    checkpoint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    assert len(checkpoint["positions"]) == 2 and len(checkpoint["rng"]) == 2  # every rank's state saved
    assert not torch.equal(checkpoint["rng"][0]["torch"], checkpoint["rng"][1]["torch"])  # own noise per rank


def _classifier_rank(rank: int, world: int, port: int, spec: str, reference: str, generated: str, run: str,
                     out: str) -> None:
    """One torchrun-like process training the DCTR classifier of the toy through the same loop."""
    os.environ |= {"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank),
                   "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    torch.set_num_threads(1)
    from physgen.train import train_classifier

    result = train_classifier(spec, reference, generated, run, epochs=2, device="cpu", progress=False)
    weights = result.recipe.networks.state_dict()
    digest = hashlib.sha256(b"".join(t.numpy().tobytes() for t in weights.values())).hexdigest()
    with open(os.path.join(out, f"classifier_rank{rank}.txt"), "w") as f:
        f.write(f"{digest} {result.step}")
    assert not dist.is_initialized()


@pytest.mark.slow  # the classifiers train through the one training loop that the GAN test above runs under DDP
def test_two_process_classifier_training_keeps_ranks_in_step(tmp_path):
    """DCTR classifiers train through the same DDP path: both ranks end with the same weights and steps."""
    reference = toy_store(tmp_path, "toy_bimodal_1d", 3000)
    generated = toy_store(tmp_path / "gen", "toy_bimodal_1d", 2000)
    spec = model_spec(tmp_path, "dctr_toy_1d", training={"batch_size": 128, "options": {"block_events": 500}})
    mp.spawn(_classifier_rank, args=(2, _free_port(), str(spec), reference, generated, str(tmp_path / "run"),
                                     str(tmp_path)), nprocs=2)
    reports = [(tmp_path / f"classifier_rank{r}.txt").read_text().split() for r in range(2)]
    assert reports[0] == reports[1], "the ranks' classifiers differ after training"
    assert int(reports[0][1]) > 0


def test_state_fitted_on_the_first_batch_is_the_same_on_every_rank(tmp_path):
    """The compact CaloGAN fits its discriminator's standardisation and starts its generator from the
    average shower of the first batch, which differs per rank: rank 0's state is broadcast, so both
    ranks still end with the same weights and buffers."""
    from typer.testing import CliRunner

    from physgen.cli import app

    store = tmp_path / "eplus.zarr"  # chunks of 16: the ranks read alternate chunks
    made = CliRunner().invoke(app, ["simulate", "calogan_eplus", "--events", "96", "--out", str(store),
                                    "--set", "chunk_events=16"])
    assert made.exit_code == 0, made.output
    spec = model_spec(tmp_path, "calogan_eplus_compact", training={"selection": None, "batch_size": 8,
                                                                   "checkpoint_every": 12},
                      hyperparameters={"latent_dim": 8, "generator_hidden": [16], "discriminator_hidden": [16],
                                       "cell_features": 4, "mbd_kernels": 3, "mbd_dims": 3, "group_mbd": [2, 2],
                                       "start_from_data": True})
    mp.spawn(_rank, args=(2, _free_port(), str(spec), str(store), str(tmp_path / "run"), str(tmp_path)), nprocs=2)
    reports = [(tmp_path / f"rank{r}.txt").read_text().split() for r in range(2)]
    assert reports[0][0] == reports[1][0], "the ranks' weights or fitted buffers differ after training"
