"""Generation into stores: the training store's schema, provenance, resume, conditions; the dense
Z→μμ GAN trained, killed (SIGKILL), resumed and sampled."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from physgen.errors import StoreError
from physgen.generate import generate
from physgen.store import open_store, read_provenance, validate_store
from physgen.provenance import file_sha256
from physgen.specs import SpecRegistry
from physgen.train import load_run, train
from _train_stores import model_spec, toy_store, zmumu_store


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def circle_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("circle")
    store = toy_store(tmp, "toy_circle_8", 12_000)
    spec = model_spec(tmp, "toy_gan_circle_8", training={"selection": None, "checkpoint_every": 50})
    train(spec, store, tmp / "run", steps=50, device="cpu", progress=False)
    return store, tmp / "run"


def _layout(url):
    ds = open_store(url)
    return {k: (v.dims, v.dtype, v.attrs["units"]) for k, v in ds.data_vars.items()}


def test_generated_store_has_the_training_schema(circle_run, tmp_path):
    store, run = circle_run
    url = generate(run, 2500, tmp_path / "gen.zarr", seed=7, batch_size=1000, progress=False)
    assert validate_store(url) == []
    assert _layout(url) == _layout(store)
    assert open_store(url).sizes["event"] == 2500
    meta = read_provenance(url)
    assert meta["producer"]["checkpoint_sha256"] == file_sha256(run / "checkpoint.pt")
    assert meta["producer"]["run_dir"] == str(run.resolve()) and meta["seed"] == 7
    assert meta["specs"]["features"]["hash"] == read_provenance(store)["specs"]["features"]["hash"]
    assert open_store(url).physgen.features.names == ["x", "y"]


def test_generation_resumes_to_the_same_store(circle_run, tmp_path):
    _, run = circle_run
    whole = generate(run, 2500, tmp_path / "whole.zarr", seed=3, batch_size=1000, progress=False)
    part = generate(run, 1000, tmp_path / "part.zarr", seed=3, batch_size=1000, progress=False)
    part = generate(run, 2500, part, seed=3, batch_size=1000, mode="resume", progress=False)
    a, b = open_store(whole).compute(), open_store(part).compute()
    assert np.array_equal(a.x.values, b.x.values) and np.array_equal(a.y.values, b.y.values)
    with pytest.raises(StoreError, match="another seed"):
        generate(run, 3000, part, seed=4, batch_size=1000, mode="resume", progress=False)
    with pytest.raises(StoreError, match="already exists"):
        generate(run, 10, part, progress=False)
    assert open_store(part).sizes["event"] == 2500  # untouched by the refused calls


def test_bf16_generation_is_close_to_float32(circle_run, tmp_path):
    _, run = circle_run
    exact = generate(run, 2000, tmp_path / "fp32.zarr", seed=5, progress=False)
    fast = generate(run, 2000, tmp_path / "bf16.zarr", seed=5, bf16=True, progress=False)
    assert read_provenance(fast)["precision"] == "bf16" and validate_store(fast) == []
    a, b = open_store(exact).x.values, open_store(fast).x.values
    assert not np.array_equal(a, b)  # bf16 really ran
    assert np.sqrt(np.mean((a - b) ** 2)) < 0.02 * a.std()  # bfloat16 has an 8-bit mantissa: ~0.4 % per value
    with pytest.raises(StoreError, match="precision"):
        generate(run, 4000, fast, seed=5, mode="resume", progress=False)


def _wait_for(path, proc, timeout=120):
    start = time.monotonic()
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"training ended early: {proc.stderr.read().decode()[-2000:]}")
        if time.monotonic() - start > timeout:
            raise AssertionError("no checkpoint written in time")
        time.sleep(0.2)


def test_dense_zmumu_gan_survives_a_kill_and_generates(tmp_path):
    store = zmumu_store(tmp_path, events=4096)
    spec = model_spec(tmp_path, "zmumu_gan17", training={
        "checkpoint_every": 10, "selection": {"metric": "ks_sum", "every": 1, "n_events": 400, "keep": 2}})  # paper 002's KS sum
    run = tmp_path / "run"
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", "from physgen.cli import main; main()", "train", str(spec), "--data", store,
           "--out", str(run), "--steps", "200", "--device", "cpu"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(run / "checkpoint.pt", proc)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    killed_at = torch.load(run / "checkpoint.pt", weights_only=False)["step"]
    assert proc.returncode == -signal.SIGKILL and 10 <= killed_at < 200
    result = train(spec, store, run, steps=60 if killed_at < 60 else killed_at + 10, resume=True, device="cpu",
                   progress=False)
    assert result.step > killed_at and np.isfinite(result.last["g_loss"])
    targets = torch.load(run / "checkpoint.pt", weights_only=False)["recipe"]["extra"]["mass_targets"]
    assert 88 < targets[0] < 94 and 5 < targets[1] < 10  # M_ll mean and RMS of the reference store
    assert json.loads((run / "selection.json").read_text())
    url = generate(run, 1500, tmp_path / "gen.zarr", progress=False)
    assert validate_store(url) == []
    assert _layout(url) == _layout(store)
    nvtx = open_store(url).nvtx_smeared.values
    assert np.array_equal(nvtx, np.floor(nvtx))  # inverse of the smearing
    assert (open_store(url).mu1_iso.values >= 0).all()


def test_on_shell_muons_take_their_energies_from_the_generated_momenta(tmp_path):
    """With ``on_shell_muons`` the generated muon energies are sqrt(|p|² + m_μ²) of the generated momenta
    (m_μ = 0.1056583755 GeV, PDG), as in the reference, also right after initialisation; without it the
    untrained generator's E and p disagree."""
    store = zmumu_store(tmp_path, events=1024)
    relative = {}
    for on_shell in (True, False):
        spec = model_spec(tmp_path, "zmumu_gan17_compact", name=f"on_shell_{on_shell}", training={"selection": None},
                          hyperparameters={"on_shell_muons": on_shell})
        train(spec, store, tmp_path / f"run{on_shell}", steps=2, device="cpu", progress=False)
        ds = open_store(generate(tmp_path / f"run{on_shell}", 300, tmp_path / f"gen{on_shell}.zarr", progress=False))
        m2 = 0.1056583755**2
        e1 = np.sqrt(ds.mu1_px.values.astype(float) ** 2 + ds.mu1_pz.values.astype(float) ** 2 + m2)
        e2 = np.sqrt(ds.mu2_px.values.astype(float) ** 2 + ds.mu2_py.values.astype(float) ** 2
                     + ds.mu2_pz.values.astype(float) ** 2 + m2)
        relative[on_shell] = max(np.abs(ds.mu1_e.values / e1 - 1).max(), np.abs(ds.mu2_e.values / e2 - 1).max())
    assert relative[True] < 1e-5 and relative[False] > 1e-2


def test_mass_penalty_is_off_before_its_start_and_ramps_up_linearly(tmp_path):
    """``mass_constraint: {start, ramp}``: no M_ll penalty in the generator loss before step ``start``, then
    c1, c2 scaled by (step - start + 1) / ramp up to full weight (the schedule, and the logged losses of a run)."""
    from physgen.models.dense_gan import MassConstraint

    schedule = MassConstraint(c1=0.3, c2=0.01, start=4, ramp=4)
    assert [schedule.weight(s) for s in range(10)] == [0, 0, 0, 0, 0.25, 0.5, 0.75, 1, 1, 1]
    assert MassConstraint().weight(0) == 1.0  # default: on from the first step, as paper 002
    store = zmumu_store(tmp_path, events=1024)
    spec = model_spec(tmp_path, "zmumu_gan17_compact", name="ramped", hyperparameters={
        "mass_constraint": {"c1": 0.3, "c2": 0.01, "window": [60, 120], "start": 4, "ramp": 2}},
        training={"selection": None, "batch_size": 64, "options": {"threads": 1, "log_every": 1}})
    train(spec, store, tmp_path / "run", steps=8, device="cpu", progress=False)
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    logged = {line["step"]: line for line in lines if "g_loss" in line}
    assert all("mass_penalty" not in logged[s] for s in (1, 2, 3, 4))  # steps 0-3 (logged after the step)
    assert all("mass_penalty" in logged[s] for s in (5, 6, 7, 8))
    assert logged[8]["g_loss"] == pytest.approx(logged[8]["g_bce"] + logged[8]["mass_penalty"], rel=1e-5)


def test_mass_mmd_is_zero_for_one_sample_and_matches_the_gaussian_closed_form():
    """MMD² of M_ll with Gaussian kernels (Butter et al., arXiv:1907.03764): 0 between a sample and itself; for
    N(91, a²) against N(91, b²) and one kernel of width w the population value is
    w/√(w²+2a²) + w/√(w²+2b²) − 2w/√(w²+a²+b²) (Gaussian integrals; Gretton et al. 2012, eq. 3)."""
    from physgen.models.dense_gan import mass_mmd2

    rng = torch.Generator().manual_seed(3)
    a, b, w, n = 2.0, 4.0, 2.0, 4000
    narrow, broad = 91 + a * torch.randn(n, generator=rng, dtype=torch.float64), \
        91 + b * torch.randn(n, generator=rng, dtype=torch.float64)
    assert float(mass_mmd2(narrow, narrow, [w])) == pytest.approx(0, abs=1e-12)
    expected = w / np.sqrt(w**2 + 2 * a**2) + w / np.sqrt(w**2 + 2 * b**2) - 2 * w / np.sqrt(w**2 + a**2 + b**2)
    assert float(mass_mmd2(narrow, broad, [w])) == pytest.approx(expected, abs=0.01)  # ≈ 0.094; the estimator is biased by O(1/n)


def test_packed_discriminator_judges_events_in_packs_of_pack(tmp_path):
    """``pack: 3`` (PacGAN): the discriminator takes 3 events' 17 features side by side and gives one logit per
    pack; 64 events make 21 packs (the remainder left out), and the packs are the events in order."""
    store = zmumu_store(tmp_path, events=1024)
    spec = model_spec(tmp_path, "zmumu_gan17_compact", name="packed", hyperparameters={"pack": 3},
                      training={"selection": None, "batch_size": 64})
    train(spec, store, tmp_path / "run", steps=2, device="cpu", progress=False)
    recipe = load_run(tmp_path / "run").recipe
    assert recipe.networks["discriminator"].body[0].in_features == 3 * 17
    events = torch.randn(64, 17)
    logits = recipe._judge(events, [])
    assert logits.shape == (21, 1)
    with torch.no_grad():
        assert torch.equal(logits, recipe.networks["discriminator"](events[:63].reshape(21, 51)))
        torch.testing.assert_close(logits[1], recipe.networks["discriminator"](events[3:6].reshape(1, 51))[0])


def test_snapshot_selection_scores_the_events_generate_would_write(tmp_path, monkeypatch):
    """Snapshot selection scores generated values clipped to each variable's valid range, as ``physgen generate``
    writes them: an untrained generator puts about half its isolations below 0, which alone would let the
    classifier of ``c2st_auc`` separate every snapshot from the reference (AUC ≈ 1 for all)."""
    import physgen.train._loop as loop

    scored = []
    monkeypatch.setattr(loop, "score", lambda sel, held, generated: scored.append(generated) or 0.0)
    store = zmumu_store(tmp_path, events=1024)
    shipped = SpecRegistry.default().get("model", "zmumu_gan17_compact").spec.data.transforms
    transforms = {k: [t.model_dump() for t in chain] for k, chain in shipped.items()}
    transforms["mu1_iso"] = [{"name": "scale", "options": {"mean": -10.0, "std": 1.0}}]  # raw output near -10
    spec = model_spec(tmp_path, "zmumu_gan17_compact", data={"transforms": transforms}, training={
        "selection": {"metric": "ks_sum", "every": 1, "n_events": 100, "keep": 1}, "batch_size": 64})
    train(spec, store, tmp_path / "run", steps=20, device="cpu", progress=False)  # 14 steps an epoch
    assert scored
    assert open_store(store)["mu1_iso"].attrs["valid_range"][0] == 0  # the zmumu17 schema: isolation >= 0
    for generated in scored:
        assert generated["mu1_iso"].min() == 0


def test_seven_feature_variant_generates_the_muons_only(tmp_path):
    store = zmumu_store(tmp_path, events=2048)
    spec = model_spec(tmp_path, "zmumu_gan7", training={"selection": None})
    train(spec, store, tmp_path / "run", steps=5, device="cpu", progress=False)
    url = generate(tmp_path / "run", 600, tmp_path / "gen.zarr", progress=False)
    assert validate_store(url) == []
    layout = _layout(store)
    assert _layout(url) == {k: layout[k] for k in ("mu1_px", "mu1_pz", "mu1_e", "mu2_px", "mu2_py", "mu2_pz", "mu2_e")}
