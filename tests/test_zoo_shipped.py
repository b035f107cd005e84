"""Every generator shipped in the package: it loads by name (sha256 checked), generates a store that
validates with the schema and units of the reference it was trained on, and a small sample's observables
stay within a loose tolerance of those recorded when it was shipped (a regression guard for the
weights, the architectures and the generation code; the quality itself is the quality run's business)."""

from __future__ import annotations

import numpy as np
import pytest

from _train_stores import jet_image_store
from physgen.generate import generate, run_schema
from physgen.metrics import event_columns
from physgen.store import open_store, validate_store
from physgen.zoo import load_generator, shipped_models

SHIPPED = sorted(shipped_models())
SAMPLE = 2000


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.usefixtures("torch_one_thread")
def test_shipped_generator_loads_generates_and_reproduces_its_recorded_observables(name, tmp_path):
    entry = shipped_models()[name]
    run = load_generator(name)
    conditions_from = None
    dataset, schema = run_schema(run.info)
    lacking = [c for c in run.spec.data.conditions + run.spec.data.labels if c not in dataset.spec.conditions]
    if lacking == ["signal"]:  # LAGAN's class label: balanced classes from a synthetic jet store
        conditions_from = jet_image_store(tmp_path, SAMPLE)
    url = generate(name, SAMPLE, tmp_path / "g.zarr", conditions_from=conditions_from, seed=7, progress=False)
    assert validate_store(url) == []
    ds = open_store(url)
    for variable in schema.variables:  # the reference's schema: dims, shape, dtype, units (parseable by pint)
        stored = ds[variable.name]
        assert (stored.dims, stored.shape[1:], str(stored.dtype), stored.attrs["units"]) == \
            (("event", *variable.dims), variable.shape, variable.dtype, variable.units)
    ds.pint.quantify()
    assert ds.physgen.provenance["producer"]["shipped"]["sha256"] == entry["sha256"]
    if conditions_from is not None:  # each event generated in the class it was asked for
        assert (ds["signal"].values == open_store(conditions_from)["signal"].values[:SAMPLE]).all()

    recorded = entry["observables"]["generated"]
    label = recorded["label"]
    grouped = event_columns(ds, recorded["names"] + ([label] if label else []))
    columns = {k: v for cols in grouped.values() for k, v in cols.items()}
    groups = {"all": np.ones(SAMPLE, bool)} if label is None else \
        {f"{v:g}": columns[label] == v for v in np.unique(columns[label])}
    for group, mask in groups.items():
        for column, stats in recorded["groups"][group].items():
            x = columns[column][mask]
            sigma = stats["std"] or 1.0
            # loose: 5 standard errors of the mean plus 5 % of the spread; the width within 25 %
            assert abs(x.mean() - stats["mean"]) < 5 * sigma / np.sqrt(len(x)) + 0.05 * sigma, (group, column)
            assert x.std() == pytest.approx(stats["std"], rel=0.25, abs=1e-6), (group, column)
