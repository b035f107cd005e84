"""Adding per-event variables to existing stores: atomic, hidden until committed, resumable by rerunning."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import zarr

import physgen.store._variables as variables
from physgen.errors import SchemaError, StoreError
from physgen.store import add_variable, create_store, open_store, read_provenance, resolve_dataset, validate_store


def _store(url, x: np.ndarray, chunk_events: int = 1000) -> str:
    resolved = resolve_dataset("toy_bimodal_1d")
    writer = create_store(str(url), resolved.schema, chunk_events=chunk_events,
                          provenance={"specs": resolved.spec_texts(), "producer": {"kind": "test"}})
    writer.append({"x": x.astype(np.float32)})
    return str(url)


@pytest.fixture
def store(tmp_path):
    return _store(tmp_path / "gen.zarr", np.random.default_rng(0).normal(size=2500))


def _add(url, name="w", values=None, **kwargs):
    values = np.arange(2500, dtype=np.float64) if values is None else values
    add_variable(url, name, values, attrs={"units": "dimensionless"}, provenance={"by": "test"}, **kwargs)


def test_added_variable_is_visible_with_units_and_provenance(store):
    before = open_store(store).x.values
    _add(store)
    ds = open_store(store)
    assert list(ds.data_vars) == ["x", "w"]
    np.testing.assert_array_equal(ds.w.values, np.arange(2500))
    np.testing.assert_array_equal(ds.x.values, before)
    assert ds.w.attrs["units"] == "dimensionless"
    assert read_provenance(store)["extra_variables"]["w"]["provenance"] == {"by": "test"}
    assert validate_store(store) == []


def test_second_variable_and_existing_name(store):
    _add(store, "w1")
    _add(store, "w2", np.ones(2500))
    assert set(open_store(store).data_vars) == {"x", "w1", "w2"}
    with pytest.raises(StoreError, match="already has the added variable 'w1'"):
        _add(store, "w1")
    _add(store, "w1", np.full(2500, 2.0), overwrite=True)
    assert float(open_store(store).w1.mean()) == 2.0


@pytest.mark.parametrize(("name", "values", "error", "match"), [
    ("x", None, StoreError, "variable of the store's schema"),
    ("bad name", None, StoreError, "identifier"),
    ("w", np.ones(10), SchemaError, r"one value per committed event, shape \(2500,\)"),
])
def test_bad_additions_leave_store_intact(store, name, values, error, match):
    with pytest.raises(error, match=match):
        _add(store, name, values)
    assert list(open_store(store).data_vars) == ["x"]
    assert validate_store(store) == []


def test_interrupted_add_is_hidden_and_rerun_completes(store, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("killed before the commit")

    monkeypatch.setattr(variables, "_commit_variable", crash)
    with pytest.raises(RuntimeError):
        _add(store)
    assert "w" in zarr.open_group(store, mode="r").array_keys()  # written, not committed
    assert list(open_store(store).data_vars) == ["x"]
    assert validate_store(store) == []
    monkeypatch.undo()
    _add(store)  # no overwrite needed: the interrupted add never happened for readers
    np.testing.assert_array_equal(open_store(store).w.values, np.arange(2500))


def test_process_killed_while_adding_leaves_store_consistent(store):
    script = textwrap.dedent(f"""
        import os, numpy as np
        import physgen.store._variables as v
        v._commit_variable = lambda *a, **k: os._exit(9)
        v.add_variable({store!r}, "w", np.ones(2500), attrs={{"units": "dimensionless"}}, provenance={{}})
    """)
    assert subprocess.run([sys.executable, "-c", script], check=False).returncode == 9
    assert list(open_store(store).data_vars) == ["x"]
    assert validate_store(store) == []


def test_appending_events_to_a_store_with_added_variables_is_refused(store):
    _add(store)
    resolved = resolve_dataset("toy_bimodal_1d")
    with pytest.raises(StoreError, match="added variables"):
        create_store(store, resolved.schema, chunk_events=1000, provenance={"specs": resolved.spec_texts()},
                     mode="resume")
