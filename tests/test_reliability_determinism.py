"""Same seed, same bytes: every simulator writes bitwise-identical stores whether it runs serially,
on two dask workers or resumed after a stop, and generation on CPU is bitwise reproducible across
processes. (Chunk ``i`` is seeded ``SeedSequence(seed, spawn_key=(i,))`` and Zstd is deterministic,
so even the compressed chunk files agree; only the creation time in the root metadata differs.)
"""

from __future__ import annotations

import pytest
import yaml

from physgen.generate import generate
from physgen.sim import simulate
from physgen.specs import SpecRegistry
from physgen.train import train
from _reliability import assert_same_bytes, run_cli
from _train_stores import model_spec

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def scheduler():
    """One two-worker local cluster shared by the parallel runs (``--scheduler``, as on a cluster)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


def _small_chunks(tmp_path, name: str, chunk_events: int):
    """The shipped dataset spec ``name`` with small chunks, in a folder of its own."""
    spec = yaml.safe_load(SpecRegistry.default().get("dataset", name).text)
    spec["name"], spec["chunk_events"] = f"{name}_det", chunk_events
    path = tmp_path / "work" / "specs" / f"{name}_det.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return str(path)


SIMULATORS = [  # (dataset, chunk events, events): at least three chunks, the last one partial
    ("toy_grid_5x5", 400, 1000),
    pytest.param("calogan_eplus", 20, 50, marks=pytest.mark.slow),  # the EM path: conditional e+ and ILD γ below
    ("calogan_piplus", 10, 25),
    ("calogan_conditional_eplus", 20, 50),
    ("ild_photons_50gev", 4, 10),
    pytest.param("jets_wprime_qcd", 2, 5, marks=pytest.mark.slow),
    pytest.param("zmumu", 2, 5, marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("dataset", "chunk", "events"), SIMULATORS)
def test_serial_parallel_and_resumed_runs_are_bitwise_identical(tmp_path, scheduler, dataset, chunk, events):
    spec = _small_chunks(tmp_path, dataset, chunk)
    serial = simulate(spec, tmp_path / "serial.zarr", events=events, seed=7, workers=1, progress=False)
    again = simulate(spec, tmp_path / "again.zarr", events=events, seed=7, workers=1, progress=False)
    parallel = simulate(spec, tmp_path / "parallel.zarr", events=events, seed=7, scheduler=scheduler, progress=False)
    resumed = simulate(spec, tmp_path / "resumed.zarr", events=2 * chunk, seed=7, workers=1, progress=False)
    resumed = simulate(spec, resumed, events=events, seed=7, workers=1, mode="resume", progress=False)
    for other in (again, parallel, resumed):
        assert_same_bytes(other, serial)
    other_seed = simulate(spec, tmp_path / "other.zarr", events=events, seed=8, workers=1, progress=False)
    with pytest.raises(AssertionError, match="other bytes"):  # the comparison can fail
        assert_same_bytes(other_seed, serial)


def test_generation_on_cpu_is_bitwise_reproducible_across_processes(tmp_path):
    store = simulate("toy_circle_8", tmp_path / "circle.zarr", events=1000, progress=False)
    spec = model_spec(tmp_path, "toy_gan_circle_8", training={"selection": None, "batch_size": 64})
    train(spec, store, tmp_path / "run", steps=3, device="cpu", progress=False)
    here = generate(tmp_path / "run", 12_000, tmp_path / "here.zarr", seed=11, device="cpu", progress=False)
    there = run_cli("generate", tmp_path / "run", "--events", 12_000, "--out", tmp_path / "there.zarr", "--seed", 11,
                    "--device", "cpu")
    assert there.returncode == 0, there.stderr
    assert_same_bytes(tmp_path / "there.zarr", here)
