"""``observables --out``: checked before the work (format, protocol, existing output), written under a
temporary name and renamed when complete, so a killed or failing run leaves nothing under the
requested name; URLs through fsspec; default names for every store kind, raw variables by name."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

from physgen.cli import app
from physgen.sim import simulate
from physgen.testing._observable_strategies import make_store

runner = CliRunner()


def _listing(folder) -> list[str]:
    """What a folder holds, without the writer-lock files (``.NAME.lock``) that stay beside written outputs."""
    return sorted(name for name in os.listdir(folder) if not (name.startswith(".") and name.endswith(".lock")))


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    return simulate("toy_circle_8", tmp_path_factory.mktemp("toy") / "toy.zarr", events=3000, progress=False)


def test_toy_store_defaults_to_its_coordinates_and_raw_variables_are_named(toy, tmp_path):
    result = runner.invoke(app, ["observables", toy])
    assert result.exit_code == 0 and "│ x " in result.stdout and "│ y " in result.stdout
    out = tmp_path / "xy.csv"
    assert runner.invoke(app, ["observables", toy, "--names", "y", "--out", str(out)]).exit_code == 0
    assert list(pd.read_csv(out).columns) == ["event", "y"] and len(pd.read_csv(out)) == 3000


@pytest.mark.parametrize(("detector", "features"), [
    ("jet_image_25x25", "jet_image_features"), ("calogan_lar3", "calo_conditions"), ("ild_ecal_30", "ild_conditions"),
    ("calochallenge_2", "calochallenge_conditions"), (None, "zmumu17"), (None, "toy_1d"),
])
def test_every_store_kind_has_default_observables(tmp_path, detector, features):
    from physgen.observables import compute_observables, default_names
    from physgen.store import open_store

    store = make_store(tmp_path / "s.zarr", detector=detector, features=features, n_events=12, chunk_events=12)
    ds = open_store(store)
    names = default_names(ds)
    assert names, "no default observables"
    computed = compute_observables(ds, progress=False)
    assert list(computed.data_vars) == names and all(computed[n].sizes["event"] == 12 for n in names
                                                     if "event" in computed[n].dims)


@pytest.mark.parametrize(("out", "needle"), [
    ("obs.txt", "does not write '.txt' files"),
    ("foo://obs.zarr", "Protocol not known: foo"),
    ("memory://obs.zarr", "vanishes when the command exits"),
])
def test_bad_outputs_are_refused_before_any_work(toy, tmp_path, out, needle):
    target = out if "://" in out else str(tmp_path / out)
    result = runner.invoke(app, ["observables", toy, "--out", target])
    assert result.exit_code == 2 and needle in result.stderr and "Traceback" not in result.output
    assert os.listdir(tmp_path) == []


def test_file_url_writes_where_it_says(toy, tmp_path):
    result = runner.invoke(app, ["observables", toy, "--out", (tmp_path / "o.zarr").as_uri()])
    assert result.exit_code == 0, result.output
    assert _listing(tmp_path) == ["o.zarr"]
    assert xr.open_zarr(tmp_path / "o.zarr", consolidated=False).sizes["event"] == 3000


@pytest.mark.parametrize("suffix", [".csv", ".zarr"])
def test_full_disk_leaves_no_output(toy, tmp_path, monkeypatch, suffix):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    monkeypatch.setattr(xr.Dataset, "to_zarr", full)
    result = runner.invoke(app, ["observables", toy, "--out", str(tmp_path / f"o{suffix}")])
    assert result.exit_code == 2 and "No space left on device" in result.stderr
    assert "nothing was written" in result.stderr
    assert _listing(tmp_path) == []


def test_killed_run_leaves_nothing_that_opens_and_the_rerun_cleans_up(tmp_path):
    store = simulate("calogan_eplus", tmp_path / "calo.zarr", events=6000, progress=False)
    out = tmp_path / "obs.zarr"
    cmd = [sys.executable, "-c", "from physgen.cli import main; main()", "observables", store, "--out", str(out)]
    for delay in (0.5, 3.0, None):  # before the computation, during it, and once the temporary store exists
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env=os.environ | {"OMP_NUM_THREADS": "1"})
        start = time.monotonic()
        while proc.poll() is None and time.monotonic() - start < 120:
            if delay is None and any(p.name.startswith("obs.zarr.partial-") for p in tmp_path.iterdir()):
                break
            if delay is not None and time.monotonic() - start > delay:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.returncode == 0 or out.exists():  # committed before the kill (on a loaded machine the kill can land
            # between the atomic rename and the exit): a complete output, never a partial one; then start again
            assert xr.open_zarr(out, consolidated=False).sizes["event"] == 6000
            subprocess.run(["rm", "-r", str(out)], check=True)
            continue
        assert not out.exists()
        with pytest.raises(Exception):  # noqa: B017 (zarr/xarray raise several types for a missing store)
            xr.open_zarr(out, consolidated=False)
    result = runner.invoke(app, ["observables", store, "--names", "total_energy", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert _listing(tmp_path) == ["calo.zarr", "obs.zarr"]
