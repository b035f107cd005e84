"""Shared fixtures and hypothesis profiles (HYPOTHESIS_PROFILE=ci|dev)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import pytest
import typer.testing
from hypothesis import HealthCheck, settings

from physgen.plugins import SIMULATORS
from physgen.sim import Simulator, register_simulator

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=30,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

REPO = Path(__file__).resolve().parents[1]


class RandomFill(Simulator):
    """A test simulator: every schema variable uniform in [0, 1). Dataset specs of stores that tests fill
    by hand name it, so that they validate like any spec (an unknown simulator name is an error)."""

    name = "random_fill"

    def simulate(self, n_events, seed):
        rng = np.random.default_rng(seed)
        return {v.name: rng.random((n_events, *v.shape)).astype(v.dtype) for v in self.dataset.schema.variables}


if RandomFill.name not in SIMULATORS:  # this file is imported as conftest and as tests.conftest
    register_simulator(RandomFill)

SPECS = REPO / "specs"


@pytest.fixture(autouse=True, scope="session")
def _cli_command_built_once():
    """typer's test runner rebuilds the click command from the app on every invoke (≈ 30 ms, half of a ``specs
    validate`` call, which the typo sweep makes hundreds of times); the app does not change while the tests run, so
    it is built once."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.testing, "_get_command", functools.cache(typer.testing._get_command))
        yield


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    """An empty user spec folder with the usual sub-folders."""
    for kind in ("detectors", "features", "datasets", "models"):
        (tmp_path / "specs" / kind).mkdir(parents=True)
    return tmp_path / "specs"


@pytest.fixture
def wide_console(monkeypatch):
    """The CLI's console 250 columns wide, so that its tables print whole: a rich Console reads COLUMNS once, when it
    is made, and pytest-xdist's workers have set it to 80 before physgen.cli is imported."""
    from rich.console import Console

    import physgen.cli

    monkeypatch.setattr(physgen.cli, "console", Console(width=250))


@pytest.fixture
def torch_one_thread():
    """Tiny networks train faster (and reproducibly) on one intra-op thread on a shared 2-core machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
