"""Store compression: every named codec chain round-trips exactly (through xarray and through the training
loader's reader), catches a damaged chunk, is recorded in provenance and kept by a resume; an unknown name
fails at spec validation with one message that suggests the right one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr
from typer.testing import CliRunner

from physgen.cli import app
from physgen.errors import SchemaError, StoreError
from physgen.schema import StoreSchema, VariableSchema
from physgen.sim import simulate
from physgen.specs import DatasetSpec, load_with_overrides
from physgen.store import (COMPRESSIONS, DEFAULT_COMPRESSION, add_variable, create_store, open_store,
                           read_provenance)
from physgen.train._data import _Reader
from tests.conftest import SPECS

PROVENANCE = {"specs": {}, "producer": {"kind": "test", "name": "compression"}}
SCHEMA = StoreSchema((VariableSchema("energy", (), (), "float32", "GeV"),
                      VariableSchema("image", ("y", "x"), (3, 4), "float64", "MeV"),
                      VariableSchema("hits", (), (), "int32", "dimensionless")))
CODEC_NAMES = {"zstd": {"zstd"}, "zstd-1": {"zstd"}, "lz4": {"blosc", "crc32c"}, "none": {"crc32c"}}
"""Zarr v3 codec names each compression must put in the arrays' metadata (after the ``bytes`` serialiser)."""


def _events(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    image = rng.exponential(5.0, (n, 3, 4))
    image[rng.random((n, 3, 4)) < 0.6] = 0.0  # mostly empty cells, as in calorimeter images
    return {"energy": rng.normal(50, 20, n).astype(np.float32), "image": image,
            "hits": rng.integers(-(2**31), 2**31 - 1, n, dtype=np.int32)}


def _write(url: str, compression: str, batches: list[dict[str, np.ndarray]], mode: str = "create") -> None:
    writer = create_store(url, SCHEMA, chunk_events=7, provenance=PROVENANCE, mode=mode, compression=compression)
    for batch in batches:
        writer.append(batch)


def _codec_names(url: str, variable: str) -> set[str]:
    return {codec.to_dict()["name"] for codec in zarr.open_array(f"{url}/{variable}").metadata.codecs} - {"bytes"}


def test_the_names_are_the_ones_tested_and_the_spec_default_is_the_store_default():
    assert set(COMPRESSIONS) == set(CODEC_NAMES)
    assert DatasetSpec.model_fields["compression"].default == DEFAULT_COMPRESSION == "zstd"


@pytest.mark.parametrize("compression", sorted(CODEC_NAMES))
def test_every_compression_reads_back_bit_identical(tmp_path, compression):
    url = str(tmp_path / "s.zarr")
    batches = [_events(10, 0), _events(13, 1)]
    _write(url, compression, batches)
    expected = {k: np.concatenate([b[k] for b in batches]) for k in batches[0]}
    ds = open_store(url)
    reader = _Reader(url, tuple(expected))
    try:
        loaded = reader.read(0, 23)  # the training loader's own (synchronous codec) path
    finally:
        reader.close()
    for name, values in expected.items():
        assert _codec_names(url, name) == CODEC_NAMES[compression]
        assert ds[name].dtype == values.dtype
        assert ds[name].values.tobytes() == values.tobytes()
        assert loaded[name].tobytes() == values.tobytes()
    assert read_provenance(url)["compression"] == compression


@pytest.mark.parametrize("compression", sorted(CODEC_NAMES))
def test_every_compression_turns_a_damaged_chunk_into_a_read_error(tmp_path, compression):
    url = str(tmp_path / "s.zarr")
    _write(url, compression, [_events(14, 2)])
    chunk = Path(url) / "energy" / "c" / "1"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the middle of the chunk
    chunk.write_bytes(bytes(data))
    reader = _Reader(url, ("energy",))
    try:
        with pytest.raises(StoreError, match=r"'energy'.*events 7:14.*cannot be read"):
            reader.read(0, 14)
    finally:
        reader.close()


def test_resume_keeps_the_codec_and_refuses_another(tmp_path):
    url = str(tmp_path / "s.zarr")
    first, second = _events(7, 3), _events(7, 4)
    _write(url, "lz4", [first])
    with pytest.raises(StoreError, match=r"created with 'lz4'.*resume with compression 'lz4', or use --overwrite"):
        _write(url, "zstd", [second], mode="resume")
    assert read_provenance(url)["committed_events"] == 7 and len(read_provenance(url)["history"]) == 1
    _write(url, "lz4", [second], mode="resume")
    assert _codec_names(url, "energy") == CODEC_NAMES["lz4"]
    ds = open_store(url)
    assert ds["energy"].values.tobytes() == np.concatenate([first["energy"], second["energy"]]).tobytes()
    assert [run["compression"] for run in read_provenance(url)["history"]] == ["lz4", "lz4"]


def test_an_added_variable_takes_the_store_compression(tmp_path):
    url = str(tmp_path / "s.zarr")
    _write(url, "none", [_events(9, 7)])
    weights = np.random.default_rng(8).uniform(0, 2, 9)
    add_variable(url, "weight", weights, attrs={"units": "dimensionless"}, provenance={"producer": "test"})
    assert _codec_names(url, "weight") == CODEC_NAMES["none"]
    assert open_store(url)["weight"].values.tobytes() == weights.tobytes()


def test_a_store_from_before_the_setting_resumes_with_the_default(tmp_path):
    """Stores written before compression was recorded are Zstandard level 3, the default."""
    url = str(tmp_path / "s.zarr")
    _write(url, "zstd", [_events(7, 5)])
    group = zarr.open_group(url, mode="r+")
    meta = dict(group.attrs["physgen"])
    del meta["compression"]
    group.attrs["physgen"] = meta
    _write(url, "zstd", [_events(7, 6)], mode="resume")
    assert read_provenance(url)["committed_events"] == 14
    with pytest.raises(StoreError, match="created with 'zstd'"):
        _write(url, "none", [], mode="resume")


def test_simulate_writes_the_spec_compression_and_resume_keeps_it(tmp_path):
    spec = load_with_overrides("toy_circle_8", "dataset", ["compression=lz4", "chunk_events=100"])
    url = simulate(spec, tmp_path / "toy.zarr", events=200, progress=False)
    url = simulate(spec, url, events=400, mode="resume", progress=False)
    assert _codec_names(url, "x") == CODEC_NAMES["lz4"]
    meta = read_provenance(url)
    assert meta["committed_events"] == 400 and meta["compression"] == "lz4"
    whole = simulate(spec, tmp_path / "whole.zarr", events=400, progress=False)
    assert open_store(url)["x"].values.tobytes() == open_store(whole)["x"].values.tobytes()


def test_an_unknown_compression_fails_spec_validation_with_one_suggestion(tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text((SPECS / "datasets/toy_circle_8.yaml").read_text() + "compression: lz5\n")
    result = CliRunner().invoke(app, ["specs", "validate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "compression" in result.output and "unknown compression 'lz5'; did you mean 'lz4'?" in result.output
    with pytest.raises(SchemaError, match="unknown compression 'gzip'; known: lz4, none, zstd, zstd-1"):
        create_store(str(tmp_path / "s.zarr"), SCHEMA, chunk_events=7, provenance=PROVENANCE, compression="gzip")
    assert not (tmp_path / "s.zarr").exists()
