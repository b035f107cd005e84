"""Consolidated metadata (xarray's ``to_zarr`` default) never hides data: a variable physgen adds
or events it appends are seen by xarray, zarr and physgen alike, and a store opens the same with or
without consolidated metadata."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import xarray as xr
import zarr

from physgen.reweight import reweight
from physgen.sim import simulate
from physgen.store import ATTR, open_store, validate_store

pytestmark = [pytest.mark.usefixtures("torch_one_thread"),
              pytest.mark.filterwarnings("ignore:Failed to open Zarr store with consolidated metadata"),
              pytest.mark.filterwarnings("ignore:Consolidated metadata is currently not part")]

DCTR = """kind: model
name: dctr_tiny
architecture: dctr_mlp
hyperparameters: {hidden: [8], activation: relu}
data: {inputs: [x]}
training: {batch_size: 256, epochs: 1, optimizer: {name: adam, lr: 1.0e-3}, validation_fraction: 0.2, seed: 0,
           options: {weight_name: dctr_weight}}
"""


def _variables(url) -> dict[str, list[str]]:
    return {"xarray": sorted(xr.open_zarr(url).data_vars), "zarr": sorted(zarr.open_group(url).array_keys()),
            "physgen": sorted(open_store(url).data_vars)}


def test_reweight_of_an_xarray_copy_is_seen_by_xarray_zarr_and_physgen(tmp_path):
    """The issue's case: simulate, copy with xarray (consolidated), reweight, list the variables."""
    a = simulate("toy_bimodal_1d", tmp_path / "a.zarr", events=2000, seed=1, progress=False)
    xr.open_zarr(a).load().to_zarr(tmp_path / "b.zarr")
    b = str(tmp_path / "b.zarr")
    assert zarr.open_group(b).metadata.consolidated_metadata is not None  # the copy carries a member list
    spec = tmp_path / "work" / "specs" / "dctr_tiny.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(DCTR)
    reweight(a, b, spec, out=tmp_path / "run", progress=False)
    assert _variables(b) == {k: ["dctr_weight", "x"] for k in ("xarray", "zarr", "physgen")}
    np.testing.assert_array_equal(xr.open_zarr(b)["dctr_weight"].values, open_store(b)["dctr_weight"].values)
    assert zarr.open_group(b).metadata.consolidated_metadata is not None  # refreshed, not dropped
    assert validate_store(b) == []


def test_events_appended_to_a_consolidated_store_are_seen_by_xarray(tmp_path):
    a = simulate("toy_bimodal_1d", tmp_path / "a.zarr", events=10_000, seed=1, progress=False)
    xr.open_zarr(a).load().to_zarr(tmp_path / "b.zarr")
    b = simulate("toy_bimodal_1d", tmp_path / "b.zarr", events=30_000, seed=1, mode="resume", progress=False)
    reference = simulate("toy_bimodal_1d", tmp_path / "c.zarr", events=30_000, seed=1, progress=False)
    expected = open_store(reference)["x"].values
    np.testing.assert_array_equal(open_store(b)["x"].values, expected)
    np.testing.assert_array_equal(xr.open_zarr(b)["x"].values, expected)  # a stale list would show 10 000


def _physgen_copy(source, target):
    shutil.copytree(source, target)
    return str(target)


def _xarray_consolidated(source, target):
    xr.open_zarr(source).load().to_zarr(target)
    return str(target)


def _xarray_plain(source, target):
    xr.open_zarr(source).load().to_zarr(target, consolidated=False)
    return str(target)


def _zarr_consolidated(source, target):
    shutil.copytree(source, target)
    zarr.consolidate_metadata(str(target))
    return str(target)


@pytest.mark.parametrize("write", [_physgen_copy, _xarray_consolidated, _xarray_plain, _zarr_consolidated])
def test_stores_open_the_same_with_or_without_consolidated_metadata(tmp_path, write):
    source = simulate("calogan_eplus", tmp_path / "source.zarr", events=300, progress=False)
    copy = write(source, tmp_path / "copy.zarr")
    ref, ds = open_store(source), open_store(copy)
    assert list(ds.data_vars) == list(ref.data_vars) and ds.sizes == ref.sizes
    assert ds.attrs[ATTR] == ref.attrs[ATTR]
    for name in ref.variables:
        np.testing.assert_array_equal(ds[name].values, ref[name].values)
        assert ds[name].attrs["units"] == ref[name].attrs["units"]
    assert validate_store(copy) == []
