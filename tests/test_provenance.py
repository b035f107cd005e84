"""Provenance tells the truth after every resume: seed, requested and committed events, and the history of
every run and producer that touched the store, in order; a resume that would mix seeds, shrink a request
or extend a partial chunk is refused and leaves the store's provenance unchanged."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from physgen.cli import app
from physgen.errors import StoreError
from physgen.sim import simulate
from physgen.store import add_variable, create_store, open_store, read_provenance, resolve_dataset

runner = CliRunner()
CHUNK = 10_000  # toy_bimodal_1d's chunk_events


def _history(url):
    return [(h["action"], h["seed"], h["requested_events"], h["committed_events"]) for h in read_provenance(url)["history"]]


def test_simulate_resume_records_every_run(tmp_path):
    url = simulate("toy_bimodal_1d", tmp_path / "t.zarr", events=2 * CHUNK, progress=False)
    meta = read_provenance(url)
    assert (meta["seed"], meta["requested_events"], meta["committed_events"]) == (1, 2 * CHUNK, 2 * CHUNK)
    assert _history(url) == [("create", 1, 2 * CHUNK, 0)]
    simulate("toy_bimodal_1d", url, events=4 * CHUNK, mode="resume", progress=False)
    meta = read_provenance(url)
    assert (meta["seed"], meta["requested_events"], meta["committed_events"]) == (1, 4 * CHUNK, 4 * CHUNK)
    assert _history(url) == [("create", 1, 2 * CHUNK, 0), ("resume", 1, 4 * CHUNK, 2 * CHUNK)]
    assert [h["producer"]["name"] for h in meta["history"]] == ["mixture", "mixture"]
    assert open_store(url).sizes["event"] == 4 * CHUNK


@pytest.mark.parametrize(("args", "needle"), [
    (["--events", str(CHUNK)], "never shrinks it (ask for at least 20000"),
    (["--events", str(3 * CHUNK), "--seed", "6"], "another seed (1)"),
])
def test_refused_resume_changes_nothing(tmp_path, args, needle):
    url = simulate("toy_bimodal_1d", tmp_path / "t.zarr", events=2 * CHUNK, progress=False)
    before = read_provenance(url)
    result = runner.invoke(app, ["simulate", "toy_bimodal_1d", "--out", url, "--resume", *args])
    assert result.exit_code == 2 and needle in result.stderr.replace("\n", " ")
    assert read_provenance(url) == before and open_store(url).sizes["event"] == 2 * CHUNK


def test_partial_chunk_refusal_records_nothing(tmp_path):
    url = simulate("toy_bimodal_1d", tmp_path / "t.zarr", events=CHUNK + 5, progress=False)
    before = read_provenance(url)
    with pytest.raises(StoreError, match="last chunk is partial"):
        simulate("toy_bimodal_1d", url, events=3 * CHUNK, mode="resume", progress=False)
    assert read_provenance(url) == before


def test_resume_of_an_empty_store_takes_the_new_seed(tmp_path):
    """Killed before its first commit: the store holds no events, so the resumed run's seed is the truth."""
    dataset = resolve_dataset("toy_bimodal_1d")
    url = str(tmp_path / "t.zarr")
    create_store(url, dataset.schema, chunk_events=CHUNK, mode="create",
                 provenance={"specs": dataset.spec_texts(), "producer": {"name": "mixture"}, "seed": 5,
                             "requested_events": CHUNK})
    simulate("toy_bimodal_1d", url, events=CHUNK, seed=6, mode="resume", progress=False)
    assert read_provenance(url)["seed"] == 6
    assert _history(url) == [("create", 5, CHUNK, 0), ("resume", 6, CHUNK, 0)]
    fresh = simulate("toy_bimodal_1d", tmp_path / "fresh.zarr", events=CHUNK, seed=6, progress=False)
    assert np.array_equal(open_store(url).x.values, open_store(fresh).x.values)  # the data are seed 6's


def test_added_variables_join_the_history(tmp_path):
    url = simulate("toy_bimodal_1d", tmp_path / "t.zarr", events=CHUNK, progress=False)
    add_variable(url, "w", np.ones(CHUNK), attrs={"units": "dimensionless"}, provenance={"method": "test"})
    history = read_provenance(url)["history"]
    assert [h["action"] for h in history] == ["create", "add_variable"]
    assert history[1]["variable"] == "w" and history[1]["method"] == "test" and history[1]["committed_events"] == CHUNK


def test_set_overrides_are_recorded_with_the_spec(tmp_path):
    out = tmp_path / "t.zarr"
    result = runner.invoke(app, ["simulate", "toy_bimodal_1d", "--events", "300", "--out", str(out),
                                 "--set", "seed=7", "--set", "chunk_events=100"])
    assert result.exit_code == 0, result.output
    meta = read_provenance(str(out))
    assert meta["seed"] == 7 and meta["chunk_events"] == 100
    assert meta["specs"]["dataset"]["overrides"] == ["seed=7", "chunk_events=100"]
    assert "# --set seed=7" in meta["specs"]["dataset"]["text"] and "seed: 7" in meta["specs"]["dataset"]["text"]
    bad = runner.invoke(app, ["simulate", "toy_bimodal_1d", "--out", str(tmp_path / "u.zarr"), "--set", "sed=7"])
    assert bad.exit_code == 2 and "did you mean 'seed'" in bad.stderr and not (tmp_path / "u.zarr").exists()


def test_generate_resume_records_requested_events_and_history(tmp_path, torch_one_thread):
    from _train_stores import model_spec, toy_store
    from physgen.generate import generate
    from physgen.train import train

    store = toy_store(tmp_path, "toy_circle_8", 2000)
    train(model_spec(tmp_path, "toy_gan_circle_8", training={"selection": None}), store, tmp_path / "run", steps=3,
          device="cpu", progress=False)
    url = generate(tmp_path / "run", 1000, tmp_path / "g.zarr", seed=3, batch_size=500, progress=False)
    generate(tmp_path / "run", 2000, url, seed=3, batch_size=500, mode="resume", progress=False)
    meta = read_provenance(url)
    assert (meta["seed"], meta["requested_events"], meta["committed_events"]) == (3, 2000, 2000)
    assert _history(url) == [("create", 3, 1000, 0), ("resume", 3, 2000, 1000)]
    assert all(h["producer"]["kind"] == "model" for h in meta["history"])
    for kwargs, needle in (({"seed": 4}, "another seed"), ({"batch_size": 250}, "another generation_batch")):
        with pytest.raises(StoreError, match=needle):
            generate(tmp_path / "run", 3000, url, **({"seed": 3, "batch_size": 500} | kwargs), mode="resume",
                     progress=False)
        assert read_provenance(url) == meta


def test_specs_show_and_validate_take_set():
    from tests.conftest import SPECS

    shown = runner.invoke(app, ["specs", "show", "zmumu_gan17", "--set", "training.batch_size=64"])
    assert shown.exit_code == 0 and "batch_size: 64" in shown.stdout
    bad = runner.invoke(app, ["specs", "validate", str(SPECS / "models/zmumu_gan17.yaml"),
                              "--set", "training.batch_size=-1"])
    assert bad.exit_code == 2 and "training.batch_size: Input should be greater than 0" in bad.stderr
    bad = runner.invoke(app, ["specs", "show", "zmumu_gan17", "--set", "training.batch_size"])
    assert bad.exit_code == 2 and "expected path.to.key=value" in bad.stderr
