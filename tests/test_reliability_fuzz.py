"""Fuzzing the command line with hypothesis: damaged store files, malformed HDF5 files to import and
random arguments. Every case ends in exit 0 or in exit 2 with a message naming the store or file —
never a traceback — and the inputs are left byte for byte as they were. A damaged chunk is always
caught (exit 2: Zstd checksums, missing-chunk checks); an import that succeeds holds only physical
values. A small derandomised sample runs by default; ``-m slow`` runs hundreds of cases, and with
``PHYSGEN_FUZZ_REPORT=FILE`` writes the tally of outcomes there (the README's figures).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from physgen.cli import app
from physgen.sim import simulate
from physgen.store import validate_store
from _reliability import tree_digest

runner = CliRunner()
OUTCOMES: Counter = Counter()
FEW = settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
MANY = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.reuse, Phase.generate])  # report failures unshrunk: shrinking is slow


@pytest.fixture(scope="module", autouse=True)
def report():
    yield
    path = os.environ.get("PHYSGEN_FUZZ_REPORT")
    if path and OUTCOMES:
        previous = json.loads(Path(path).read_text()) if Path(path).is_file() else {}
        Path(path).write_text(json.dumps(previous | dict(OUTCOMES), indent=1, sort_keys=True))


def invoke(*args: object):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code in (0, 2), (f"exit {result.exit_code} for physgen {' '.join(map(str, args))}:\n"
                                        f"{result.output}\n{result.exception!r}")
    assert isinstance(result.exception, (SystemExit, type(None))), repr(result.exception)
    assert "Traceback" not in result.output
    return result


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    spec = tmp / "work" / "specs" / "toy_fuzz.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text("kind: dataset\nname: toy_fuzz\nsimulator: {name: mixture, options: {mixture: circle_8}}\n"
                    "features: toy_2d\nevents: 900\nseed: 3\nchunk_events: 300\n")
    return {"toy": simulate(str(spec), tmp / "toy.zarr", progress=False),
            "showers": simulate("calogan_eplus", tmp / "showers.zarr", events=60, progress=False)}


# ------------------------------------------------------------------ damaged store files
JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=True),
                        st.text(max_size=6), st.lists(st.integers(-3, 3), max_size=3), st.just({}))
DAMAGE = st.fixed_dictionaries({
    "kind": st.sampled_from(["truncate", "flip", "random", "empty", "delete", "json"]),
    "file": st.integers(0, 10**6), "where": st.floats(0, 1), "count": st.integers(1, 32),
    "seed": st.integers(0, 2**32 - 1), "value": JSON_VALUES, "store": st.sampled_from(["toy", "showers"]),
})


def _leaf_paths(node, path=()):
    if isinstance(node, dict) and node:
        for key, child in node.items():
            yield from _leaf_paths(child, (*path, key))
    elif isinstance(node, list) and node:
        for i, child in enumerate(node):
            yield from _leaf_paths(child, (*path, i))
    else:
        yield path


def _damage(file: Path, d: dict) -> None:
    data = file.read_bytes()
    rng = random.Random(d["seed"])
    kind = d["kind"]
    if kind == "json" and file.name == "zarr.json":
        doc = json.loads(data)
        path = rng.choice(list(_leaf_paths(doc)))
        if not path:
            doc = d["value"]
        else:
            node = doc
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = d["value"]
        file.write_text(json.dumps(doc))
    elif kind == "truncate":
        file.write_bytes(data[: int(d["where"] * len(data))])
    elif kind in ("flip", "json"):
        buf = bytearray(data)
        for _ in range(d["count"]):
            if buf:
                buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        file.write_bytes(bytes(buf))
    elif kind == "random":
        file.write_bytes(rng.randbytes(max(1, len(data))))
    elif kind == "empty":
        file.write_bytes(b"")
    else:
        file.unlink()


def _check_damaged_store(stores, d) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "store.zarr"
        shutil.copytree(stores[d["store"]], copy)
        files = sorted(p for p in copy.rglob("*") if p.is_file())
        target = files[d["file"] % len(files)]
        original = target.read_bytes()
        _damage(target, d)
        changed = not target.exists() or target.read_bytes() != original
        before = tree_digest(copy)
        commands = [("store", "validate", copy), ("observables", copy)]
        for command in commands:
            result = invoke(*command)
            if result.exit_code == 2:
                assert str(copy) in result.stderr, result.stderr
        chunk = "/c/" in target.relative_to(copy).as_posix() and changed
        outcome = invoke("store", "validate", copy).exit_code
        if chunk:  # damaged data is never read as valid
            assert outcome == 2, f"{d['kind']} of {target.relative_to(copy)} passed validation"
        assert tree_digest(copy) == before
        OUTCOMES[f"store: exit {outcome}"] += 1
        OUTCOMES["store: cases"] += 1


@FEW
@given(d=DAMAGE)
def test_damaged_store_files_sample(stores, d):
    _check_damaged_store(stores, d)


@pytest.mark.slow
@MANY
@given(d=DAMAGE)
def test_damaged_store_files_many(stores, d):
    _check_damaged_store(stores, d)


# ------------------------------------------------------------------ HDF5 files to import
CALOGAN_KEYS = {"energy": (1,), "layer_0": (3, 96), "layer_1": (12, 12), "layer_2": (12, 6), "overflow": (3,)}
SPECIALS = [np.nan, np.inf, -np.inf, -1.0, 0.0, 1e30, -1e-30, 2.0]
HDF5 = st.fixed_dictionaries({
    "n": st.integers(0, 5),
    "drop": st.one_of(st.none(), st.sampled_from(list(CALOGAN_KEYS))),
    "dtype": st.sampled_from(["float32", "float64", "float16", "int32", "bool"]),
    "reshape": st.one_of(st.none(), st.sampled_from(list(CALOGAN_KEYS))),
    "specials": st.lists(st.tuples(st.sampled_from(list(CALOGAN_KEYS)), st.integers(0, 10**6),
                                   st.sampled_from(SPECIALS)), max_size=3),
    "compress": st.booleans(),
    "truncate": st.one_of(st.none(), st.floats(0, 1)),
    "seed": st.integers(0, 2**32 - 1),
})


def _write_calogan(path: Path, h: dict) -> None:
    rng = np.random.default_rng(h["seed"])
    data = {k: rng.exponential(1.0, (h["n"], *shape)) for k, shape in CALOGAN_KEYS.items()}
    for key, index, value in h["specials"]:
        if data[key].size:
            data[key].flat[index % data[key].size] = value
    with h5py.File(path, "w") as f:
        for key, values in data.items():
            if key == h["drop"]:
                continue
            if key == h["reshape"]:
                values = values[..., None]  # one axis too many
            with np.errstate(all="ignore"):
                values = values.astype(h["dtype"])
            options = {"compression": "gzip", "chunks": True} if h["compress"] and h["n"] else {}
            f.create_dataset(key, data=values, **options)
    if h["truncate"] is not None:
        path.write_bytes(path.read_bytes()[: int(h["truncate"] * path.stat().st_size)])


def _check_import(h) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path, out = Path(tmp) / "input.h5", Path(tmp) / "s.zarr"
        _write_calogan(path, h)
        before = tree_digest(path)
        result = invoke("import", "calogan", path, "--out", out)
        if result.exit_code == 2:
            assert "input.h5" in result.stderr, result.stderr
            assert not out.exists(), "a failed import left a store behind"
        else:
            assert validate_store(out) == [], "an accepted import holds unphysical values"
        assert tree_digest(path) == before
        OUTCOMES[f"hdf5: exit {result.exit_code}"] += 1
        OUTCOMES["hdf5: cases"] += 1


@FEW
@given(h=HDF5)
def test_malformed_hdf5_sample(h):
    _check_import(h)


@pytest.mark.slow
@MANY
@given(h=HDF5)
def test_malformed_hdf5_many(h):
    _check_import(h)


# ------------------------------------------------------------------ arguments
VALID_OUTS = st.sampled_from(["s.zarr", "with space.zarr", "ünïcødé.zarr", "deep/er/s.zarr", "memory://fuzz/s.zarr"])
BAD_OUTS = st.sampled_from(["", " ", "nosuch://b/s.zarr", "s3://bucket/s.zarr", "file:///nonexistent-root-dir/s.zarr"])
ARGS = st.fixed_dictionaries({  # about half of each argument valid, so that many runs get far
    "events": st.one_of(st.integers(1, 2500), st.integers(-10, 0), st.sampled_from(["1e3", "ten", ""])),
    "seed": st.one_of(st.integers(0, 2**32), st.integers(-2**70, 2**70), st.sampled_from(["-1", "x", ""])),
    "workers": st.one_of(st.just(1), st.integers(-5, 0)),
    "out": st.one_of(VALID_OUTS, BAD_OUTS),
    "flags": st.lists(st.sampled_from(["--resume", "--overwrite", "--no-lock"]), max_size=2, unique=True),
    "dataset": st.one_of(st.sampled_from(["toy_bimodal_1d", "toy_grid_5x5"]),
                         st.sampled_from(["toy_circle8", "calogan_lar3", "specs/nothing.yaml"])),
})


def _check_arguments(a) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / "a" / "b"  # spec lookup looks at the working folder and its parent: keep both ours
        work.mkdir(parents=True)
        cwd = os.getcwd()
        os.chdir(work)
        try:
            result = invoke("simulate", a["dataset"], "--events", a["events"], "--seed", a["seed"], "--workers",
                            a["workers"], "--out", a["out"], *a["flags"])
            invoke("store", "info", a["out"])
            invoke("store", "validate", a["out"])
        finally:
            os.chdir(cwd)
        OUTCOMES[f"arguments: exit {result.exit_code}"] += 1
        OUTCOMES["arguments: cases"] += 1


@FEW
@given(a=ARGS)
def test_random_arguments_sample(a):
    _check_arguments(a)


@pytest.mark.slow
@MANY
@given(a=ARGS)
def test_random_arguments_many(a):
    _check_arguments(a)
