"""Plug-in registries (entry points as xarray discovers its backends) and the xarray backend."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import numpy as np
import pytest
import xarray as xr

from physgen import plugins
from physgen.errors import PhysgenWarning, SpecError
from physgen.geometry import detector_schema
from physgen.plugins import DETECTOR_KINDS, REGISTRIES, SIMULATORS, Registry
from physgen.specs import DetectorSpec, EtaPhiGrid, parse_spec
from physgen.store import open_store
from _train_stores import toy_store


class _Found:
    """Stands in for a third-party plug-in object."""


@pytest.fixture
def fake_entry_points(monkeypatch):
    """Installed entry points replaced by the given ones, for one group; the registries read them afresh."""
    groups: dict[str, list[EntryPoint]] = {}
    real = plugins.entry_points
    monkeypatch.setattr(plugins, "entry_points", lambda group: groups.get(group) or real(group=group))
    plugins.refresh()
    yield groups
    monkeypatch.undo()
    plugins.refresh()


def test_every_kind_has_a_registry_with_its_builtins():
    assert set(REGISTRIES) == {"detector kind", "simulator", "import format", "observable", "architecture", "metric",
                               "transform"}
    assert {"eta_phi_grid", "layered", "voxel", "cylindrical"} <= set(DETECTOR_KINDS.names())
    assert {"mixture", "showers", "jets", "zmumu"} <= set(SIMULATORS.names())
    assert {"calogan", "lagan", "calochallenge", "ild"} <= set(plugins.IMPORTERS.names())
    assert {"dense_gan", "dctr_mlp", "calochallenge_dnn"} <= set(plugins.ARCHITECTURES.names())
    assert {"log", "log1p", "scale", "smear"} <= set(plugins.TRANSFORMS.names())
    assert {"c2st_auc", "classifier_auc_challenge_lowlevel", "classifier_jsd_challenge_highlevel", "ks_sum"} <= set(
        plugins.METRICS.names())
    assert "n_hits" in plugins.OBSERVABLES


def test_entry_point_plugins_are_found_and_a_broken_one_is_a_warning(fake_entry_points):
    fake_entry_points["physgen.simulators"] = [
        EntryPoint("third_party", f"{__name__}:_Found", "physgen.simulators"),
        EntryPoint("broken", "physgen_no_such_package.sim:Simulator", "physgen.simulators"),
    ]
    with pytest.warns(PhysgenWarning, match=r"simulator plug-in 'broken' .* failed to load .*ModuleNotFoundError"):
        names = SIMULATORS.names()
    assert "third_party" in names and "broken" not in names
    assert SIMULATORS.get("third_party") is _Found
    assert "mixture" in names  # the built-ins are still there
    with pytest.raises(SpecError, match="unknown simulator 'brokn'"):
        SIMULATORS.get("brokn")


def test_entry_points_are_read_once(fake_entry_points, monkeypatch):
    calls = []
    real = plugins.entry_points
    monkeypatch.setattr(plugins, "entry_points", lambda group: calls.append(group) or real(group=group))
    plugins.refresh()
    for _ in range(3):
        SIMULATORS.names()
        plugins.METRICS.names()
    assert calls.count("physgen.simulators") == 1 and calls.count("physgen.metrics") == 1


def test_a_plugin_may_not_take_a_builtin_name(fake_entry_points):
    fake_entry_points["physgen.metrics"] = [EntryPoint("ks_sum", f"{__name__}:_Found", "physgen.metrics")]
    with pytest.warns(PhysgenWarning, match="'ks_sum' .* is skipped: the name is taken"):
        assert plugins.METRICS.get("ks_sum") is not _Found


def test_registering_two_objects_under_one_name_is_a_bug():
    registry: Registry[object] = Registry("widget", "physgen.widgets", ())
    registry.register("a", _Found)
    registry.register("a", _Found)  # the same object again is fine (module reloaded through another name)
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("a", object)


def test_unknown_detector_kind_is_an_error_not_a_fall_through():
    grid = EtaPhiGrid(n_eta=3, n_phi=3, cell_eta=0.1, cell_phi=0.1)
    detector = DetectorSpec(name="d", geometry=grid)
    assert detector_schema(detector).variables[0].shape == (3, 3)
    with pytest.raises(SpecError, match="unknown detector kind 'hexagonal'"):
        parse_spec({"kind": "detector", "name": "d", "geometry": {"type": "hexagonal", "cells": 7}})
    sneaky = detector.model_copy(update={"geometry": grid.model_copy(update={"type": "hexagonal"})})
    with pytest.raises(SpecError, match="unknown detector kind 'hexagonal'"):
        detector_schema(sneaky)


def test_xarray_backend_opens_a_store_like_open_store(tmp_path):
    url = toy_store(tmp_path, "toy_circle_8", 3000)
    ours = open_store(url)
    theirs = xr.open_dataset(url, engine="physgen", chunks={})
    assert set(theirs.data_vars) == set(ours.data_vars) == {"x", "y"}
    assert all(theirs[v].chunks == ours[v].chunks for v in theirs.data_vars)  # lazy, chunked as on disk
    xr.testing.assert_identical(theirs.load(), ours.load())
    xr.testing.assert_identical(xr.open_dataset(url, engine="physgen").load(), ours.load())
    assert theirs.attrs["physgen"]["committed_events"] == 3000
    np.testing.assert_array_equal(xr.open_dataset(url, engine="physgen", drop_variables="y").x.values, ours.x.values)
    assert "y" not in xr.open_dataset(url, engine="physgen", drop_variables=["y"])
