"""Stores: exact round trips, batch-size invariance, units, fsspec URLs, atomic appends and resume."""

from __future__ import annotations

import logging
import subprocess
import sys

import numpy as np
import pytest
import zarr
from hypothesis import given
from hypothesis import strategies as st

from physgen.geometry import detector_schema
from physgen.errors import SchemaError, StoreError, StoreExistsError
from physgen.schema import StoreSchema
from physgen.sim import simulate
from physgen.specs import SpecRegistry
from physgen.store import create_store, open_store, resolve_dataset, validate_store
from physgen.testing import assert_store_equal
from physgen.testing.strategies import events, store_schemas
from _reliability import kill_after_commits
from physgen.units import ureg

PROVENANCE = {"specs": {}, "producer": {"kind": "test", "name": "hypothesis"}}


def _concat(batches: list[dict[str, np.ndarray]], schema: StoreSchema) -> dict[str, np.ndarray]:
    return {v.name: np.concatenate([b[v.name] for b in batches]) for v in schema.variables}


@given(st.data())
def test_write_read_round_trip_is_exact(tmp_path_factory, data):
    schema = data.draw(store_schemas())
    batches = data.draw(st.lists(events(schema), min_size=1, max_size=3))
    url = str(tmp_path_factory.mktemp("s") / "s.zarr")
    writer = create_store(url, schema, chunk_events=data.draw(st.integers(1, 16)), provenance=PROVENANCE)
    for batch in batches:
        writer.append(batch)
    ds = open_store(url)
    expected = _concat(batches, schema)
    assert ds.sizes.get("event", 0) == sum(len(next(iter(b.values()))) for b in batches)
    for var in schema.variables:
        got = ds[var.name]
        assert got.dims == ("event", *var.dims)
        assert str(got.dtype) == var.dtype
        np.testing.assert_array_equal(got.values, expected[var.name])
        ureg.Unit(got.attrs["units"])  # every variable's units parse with pint
    for dim, (values, attrs) in schema.coords.items():
        np.testing.assert_array_equal(ds[dim].values, values)
        assert ds[dim].attrs["units"] == attrs["units"]
    ds.pint.quantify()


@given(st.data())
def test_batch_size_does_not_change_the_store(tmp_path_factory, data):
    schema = data.draw(store_schemas())
    n = data.draw(st.integers(1, 30))
    batch = data.draw(events(schema, n_events=n))
    chunk = data.draw(st.integers(1, 8))
    cuts = sorted(data.draw(st.lists(st.integers(0, n), max_size=4)))
    urls = []
    for split in ([], cuts):
        url = str(tmp_path_factory.mktemp("s") / "s.zarr")
        writer = create_store(url, schema, chunk_events=chunk, provenance=PROVENANCE)
        for lo, hi in zip([0, *split], [*split, n]):
            writer.append({k: v[lo:hi] for k, v in batch.items()})
        urls.append(url)
    assert_store_equal(*urls)


@pytest.fixture
def toy(tmp_path) -> str:
    return simulate("toy_circle_8", tmp_path / "toy.zarr", events=25_000, progress=False)


def test_store_is_lazy_validated_and_carries_provenance(toy):
    ds = open_store(toy)
    assert ds["x"].chunks == ((10_000, 10_000, 5_000),)  # dask, chunked along event only
    meta = ds.physgen.provenance
    assert meta["committed_events"] == 25_000 and meta["seed"] == 1
    assert meta["specs"]["dataset"]["hash"].startswith("sha256:")
    assert "simulator: {name: mixture" in meta["specs"]["dataset"]["text"]
    assert meta["producer"]["name"] == "mixture" and meta["physgen_version"]
    assert ds.physgen.spec.name == "toy_circle_8" and ds.physgen.features.name == "toy_2d"
    codecs = zarr.open_array(f"{toy}/x").metadata.codecs
    assert any("zstd" in type(c).__name__.lower() for c in codecs)
    assert validate_store(toy) == []


def test_detector_geometry_comes_back_from_the_store(tmp_path):
    det = SpecRegistry.default().get("detector", "calogan_lar3")
    schema = detector_schema(det.spec)
    url = str(tmp_path / "c.zarr")
    provenance = {"specs": {"detector": {"name": det.spec.name, "text": det.text, "hash": det.hash}},
                  "producer": {"name": "test"}}
    create_store(url, schema, chunk_events=4, provenance=provenance).append(
        {v.name: np.ones((5, *v.shape), v.dtype) for v in schema.variables})
    ds = open_store(url)
    assert ds.physgen.detector.name == "calogan_lar3"
    assert ds.physgen.geometry.coords["layer_2_x"][1]["edges"][-1] == pytest.approx(240)
    assert ds["layer_0"].dims == ("event", "layer_0_y", "layer_0_x") and ds["layer_0"].attrs["units"] == "MeV"


def test_memory_url_works_like_a_path():
    url = simulate("toy_bimodal_1d", "memory://physgen-test/toy.zarr", events=3000, progress=False)
    ds = open_store(url)
    assert ds.sizes["event"] == 3000 and float(ds["x"].std()) > 0.5
    assert validate_store(url) == []


def test_file_url_works_like_a_path(tmp_path):
    url = simulate("toy_bimodal_1d", f"file://{tmp_path}/toy.zarr", events=3000, progress=False)
    assert_store_equal(url, simulate("toy_bimodal_1d", tmp_path / "plain.zarr", events=3000, progress=False))


def test_existing_store_needs_resume_or_overwrite(toy):
    before = open_store(toy).compute()
    with pytest.raises(StoreExistsError, match="--resume.*--overwrite"):
        simulate("toy_circle_8", toy, events=10, progress=False)
    assert open_store(toy).compute().identical(before)


def test_overwrite_refuses_a_folder_that_is_not_a_store(tmp_path):
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("...")
    with pytest.raises(StoreExistsError, match="not a physgen store"):
        simulate("toy_circle_8", precious, events=10, progress=False, mode="overwrite")
    assert (precious / "chapter1.tex").exists()


def test_append_that_does_not_fit_the_schema_leaves_store_untouched(toy):
    ds = open_store(toy)
    writer = create_store(toy, resolve_dataset("toy_circle_8").schema, chunk_events=10_000,
                          provenance={"specs": ds.physgen.provenance["specs"]}, mode="resume")
    with pytest.raises(SchemaError, match=r"variable 'x': expected shape \(n_events\)"):
        writer.append({"x": np.zeros((3, 2), np.float32), "y": np.zeros(3, np.float32)})
    with pytest.raises(SchemaError, match="missing \\['y'\\]"):
        writer.append({"x": np.zeros(3, np.float32)})
    with pytest.raises(SchemaError, match="expected dtype float32, got complex128"):
        writer.append({"x": np.zeros(3, complex), "y": np.zeros(3, np.float32)})
    assert open_store(toy).sizes["event"] == 25_000 and validate_store(toy) == []


def test_resume_refuses_another_seed_or_spec(toy):
    with pytest.raises(StoreError, match=r"made with another seed \(1\)"):
        simulate("toy_circle_8", toy, events=30_000, seed=7, progress=False, mode="resume")
    with pytest.raises(StoreError, match="different dataset spec"):
        simulate("toy_grid_5x5", toy, events=30_000, progress=False, mode="resume")
    assert open_store(toy).sizes["event"] == 25_000


def test_interrupted_append_is_invisible_and_resumable(tmp_path, monkeypatch):
    """A crash after the arrays grew but before the commit: readers see the last commit, resume completes."""
    reference = simulate("toy_circle_8", tmp_path / "ref.zarr", events=40_000, progress=False)
    url = simulate("toy_circle_8", tmp_path / "crash.zarr", events=20_000, progress=False)
    from physgen.store import _writer

    commit = _writer.StoreWriter._commit

    def crash(self, **fields):
        if "committed_events" in fields:
            raise KeyboardInterrupt  # the process dies between data write and commit
        commit(self, **fields)

    monkeypatch.setattr(_writer.StoreWriter, "_commit", crash)
    with pytest.raises(KeyboardInterrupt):
        simulate("toy_circle_8", url, events=40_000, progress=False, mode="resume")
    monkeypatch.undo()
    assert zarr.open_array(f"{url}/x").shape[0] == 30_000  # data beyond the commit exists on disk...
    assert open_store(url).sizes["event"] == 20_000  # ...but readers never see it
    simulate("toy_circle_8", url, events=40_000, progress=False, mode="resume")
    assert_store_equal(url, reference)


def test_kill_9_during_appends_then_resume_equals_uninterrupted(tmp_path):
    spec = tmp_path / "toy_kill.yaml"
    spec.write_text("kind: dataset\nname: toy_kill\nsimulator: {name: mixture, options: {mixture: grid_5x5}}\n"
                    "features: toy_2d\nevents: 400000\nseed: 3\nchunk_events: 2000\n")
    url = tmp_path / "killed.zarr"
    cmd = [sys.executable, "-m", "physgen.cli", "simulate", str(spec), "--out", str(url)]
    committed = kill_after_commits(cmd, url, 20_000, timeout=60)
    assert 0 < committed < 400_000, "the kill should land mid-run"
    assert committed % 2000 == 0
    subprocess.run([*cmd, "--resume"], check=True, stdout=subprocess.DEVNULL)
    reference = simulate(str(spec), tmp_path / "reference.zarr", progress=False)
    assert_store_equal(url, reference)


def test_parallel_run_equals_serial_run(tmp_path, capfd):
    """A run on a local cluster equals the serial run and ends without a shutdown traceback (the
    cluster's closing races dask/distributed#7105 are not logged), and without a warning that the dashboard's
    default port 8787 is taken (by another run side by side, here by a socket)."""
    import socket
    import warnings

    serial = simulate("toy_grid_5x5", tmp_path / "serial.zarr", events=35_000, progress=False)
    with socket.socket() as taken, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            taken.bind(("", 8787))
        except OSError:  # in use already: the run must not warn either
            pass
        parallel = simulate("toy_grid_5x5", tmp_path / "parallel.zarr", events=35_000, workers=2, progress=False)
    assert not [w for w in caught if "8787" in str(w.message)]
    assert_store_equal(serial, parallel)
    assert "Traceback" not in capfd.readouterr().err
    assert logging.getLogger("distributed").level != logging.CRITICAL  # restored after the shutdown


def test_a_zipped_store_validates_and_names_a_chunk_left_out(toy, tmp_path):
    """Single-file zip stores (how samples/geant4 ships its Geant4 samples): every chunk is found
    (a zip file system lists members without the leading '/'), and one left out is reported."""
    import zipfile
    from pathlib import Path

    root = Path(toy)
    files = [p for p in sorted(root.rglob("*")) if p.is_file()]
    whole, holed = tmp_path / "whole.zarr.zip", tmp_path / "holed.zarr.zip"
    for target, skip in ((whole, None), (holed, root / "x" / "c" / "1")):
        with zipfile.ZipFile(target, "w") as z:
            for p in files:
                if p != skip:
                    z.write(p, p.relative_to(root).as_posix())
    assert validate_store(f"zip://::{whole}") == []
    problems = validate_store(f"zip://::{holed}")
    assert any("x/c/1" in p and "missing" in p for p in problems), problems
