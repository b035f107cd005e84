"""Progress bars count events (or steps) and end at their total: DCTR (training steps, then the events
read to calibrate and weigh), store validation and evaluate (events read), observables (events, not dask
tasks)."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
import yaml

from physgen.specs import LoadedSpec, SpecRegistry, parse_spec
from physgen.store import create_store, resolve_dataset


@pytest.fixture
def bars(monkeypatch):
    """Every event_progress bar shown, as {description, total, done, unit}, wherever it is used."""
    opened: list[dict] = []

    @contextmanager
    def recorder(description, total, completed=0, *, enabled=True, unit="ev"):
        bar = {"description": description, "total": total, "done": completed, "unit": unit}
        if enabled:  # a bar the caller switched off (the classifier test inside evaluate) is not shown
            opened.append(bar)
        yield lambda n: bar.__setitem__("done", bar["done"] + n)

    for module in ("physgen.train._loop", "physgen.reweight._run", "physgen.store._reader", "physgen.report._evaluate",
                   "physgen.observables._io"):
        monkeypatch.setattr(f"{module}.event_progress", recorder)
    return opened


def _toy(url, n, seed):
    resolved = resolve_dataset("toy_bimodal_1d")
    writer = create_store(str(url), resolved.schema, chunk_events=1000,
                          provenance={"specs": resolved.spec_texts(), "producer": {"kind": "test"}})
    writer.append({"x": np.random.default_rng(seed).normal(0, 1, n).astype(np.float32)})
    return str(url)


def test_dctr_bars_end_at_their_totals(tmp_path, bars, torch_one_thread):
    from physgen.reweight import reweight

    ref, gen = _toy(tmp_path / "ref.zarr", 3000, 1), _toy(tmp_path / "gen.zarr", 2500, 2)
    data = yaml.safe_load(SpecRegistry.default().get("model", "dctr_toy_1d").text)
    data["training"] |= {"epochs": 2, "batch_size": 256}
    reweight(ref, gen, LoadedSpec(parse_spec(data), yaml.safe_dump(data), "test"), out=tmp_path / "run")
    train, weigh = bars
    assert train["unit"] == "step" and train["done"] == train["total"] > 0
    # held-out calibration reads both stores, the weights the generated one again
    assert (weigh["unit"], weigh["done"], weigh["total"]) == ("ev", 3000 + 2500 + 2500, 3000 + 2500 + 2500)


def test_store_validate_and_observables_count_events(tmp_path, bars):
    from physgen.observables import write_observables
    from physgen.store import open_store, validate_store

    url = _toy(tmp_path / "t.zarr", 4500, 3)
    assert validate_store(url, progress=True) == []
    write_observables(open_store(url), None, None)
    assert [(b["total"], b["done"], b["unit"]) for b in bars] == [(4500, 4500, "ev")] * 2


def test_evaluate_counts_events_then_steps(tmp_path, bars):
    from physgen.report import evaluate

    ref, gen = _toy(tmp_path / "ref.zarr", 2500, 1), _toy(tmp_path / "gen.zarr", 1500, 2)
    evaluate(ref, gen, tmp_path / "r", classifier_epochs=1, html=False)
    read, metrics = bars
    assert (read["total"], read["done"], read["unit"]) == (4000, 4000, "ev")
    assert metrics["done"] == metrics["total"] and metrics["unit"] == "step"
