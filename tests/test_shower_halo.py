"""A shower's sparse far cells generated as hits (``core_cells``, :mod:`physgen.models.shower_halo`) and readout
layers along an input's first axis (``layers_along_first_axis``): the grouping by hand, the halo's hits by hand and
by their defining properties (count, placement, energy), and the ILD flow's spec end to end on a small ILD sample:
its coordinates and back keep the core cells, every layer's energy and every layer's number of hits; it generates
a store with the reference's schema; its occupancy calibration lights as many cells as the training showers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _train_stores import calibrated_flow, cli_train_and_export, model_spec
from typer.testing import CliRunner

from physgen.cli import app
from physgen.models.shower_fractions import n_ranked_groups, ranked_groups
from physgen.models.shower_halo import QUANTILE_LEVELS, fit_halo, sample_halo
from physgen.sim import simulate
from physgen.store import open_store, validate_store
from physgen.train import load_run
from physgen.zoo import load_generator

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SMALL = {"hidden_layers": [16, 16], "time_embedding": 4, "ode_steps": 2, "core_cells": 9}
"""The shipped ILD flow cut down: 9 learnt cells per layer (of 900)."""


def test_groups_per_layer_with_a_core_and_a_halo_by_hand():
    """Two layers of five cells. Layer 0 (mean 1, 5, 0, 3, 1): its 3 hottest cells are 1, 3 and 0 (the first of the
    two 1s), 50 % of their 9 is held by cell 1 alone; its halo is cells 2 and 4. Layer 1 (0, 0, 2, 0, 8, flat
    indices 5-9): core 9, 7, 5; 50 % of 10 is cell 9 alone; halo 6 and 8."""
    mean = np.array([1.0, 5.0, 0.0, 3.0, 1.0, 0.0, 0.0, 2.0, 0.0, 8.0])
    assert ranked_groups(mean, [0.5], layers=2, core_cells=3) == [[1], [0, 3], [2, 4], [9], [5, 7], [6, 8]]
    assert n_ranked_groups(10, [0.5], layers=2, core_cells=3) == 6
    assert ranked_groups(mean, [0.5], layers=2) == [[1], [0, 2, 3, 4], [9], [5, 6, 7, 8]]
    assert n_ranked_groups(10, [0.5], layers=2) == 4
    assert ranked_groups(mean, [], layers=2, core_cells=5) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]  # no halo
    assert n_ranked_groups(10, [], layers=2, core_cells=5) == 2
    assert ranked_groups(mean, [0.5, 0.9], core_cells=2) == [[9], [1], [0, 2, 3, 4, 5, 6, 7, 8]]


def test_the_shipped_conditional_flow_ranks_each_row_of_layer_0_on_its_own():
    """``layers_along_first_axis: [layer_0]``: the CaloGAN layer 0 (3 rows of 96 cells) is three layers of as many
    groups as layer 1 (the ranked groups, and a halo with ``core_cells``), each group within one row, each row's
    hottest cells first."""
    recipe = load_generator("calogan_conditional_eplus_fm_compact").recipe
    layer_0, layer_1 = recipe.cell_groups[0], recipe.cell_groups[1]
    per_row = len(layer_1)
    assert len(layer_0) == 3 * per_row and per_row >= 7
    assert sorted(i for group in layer_0 for i in group) == list(range(288))
    assert all(len({i // 96 for i in group}) == 1 for group in layer_0)
    assert [layer_0[per_row * row][0] // 96 for row in range(3)] == [0, 1, 2]


def test_halo_spectrum_by_hand():
    """Four showers, three cells: cell 0 lit in 2 of 4, cell 1 in 1, cell 2 never; the lit energies 1, 2, 3 have
    the quantiles 1 … 3 (the median 2); above the lowest (1) cell 0 holds 0 and 1 (mean 0.5), cell 1 holds 2, all
    lit cells 1 on average: relative excess 0.5, 2 and 1 (never lit)."""
    halo = fit_halo(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [2.0, 3.0, 0.0], [0.0, 0.0, 0.0]]))
    assert halo["occupancy"] == [0.5, 0.25, 0.0]
    assert len(halo["quantiles"]) == QUANTILE_LEVELS
    assert halo["quantiles"][0] == 1.0 and halo["quantiles"][50] == 2.0 and halo["quantiles"][-1] == 3.0
    assert halo["excess"] == [0.5, 2.0, 1.0]


def test_halo_hits_have_their_count_their_energy_and_the_training_occupancy():
    """Hits: exactly the requested number per shower (capped at the cells ever lit), never on a cell never lit,
    each at least the spectrum's lowest energy, summing to the requested energy (all at that lowest energy when the
    energy is too small for them); one hit lands on each cell in proportion to its occupancy (4000 showers, 4σ)."""
    occupancy = np.array([0.4, 0.2, 0.0, 0.1, 0.3])
    halo = {"occupancy": occupancy.tolist(), "quantiles": np.linspace(0.1, 2.0, QUANTILE_LEVELS).tolist()}
    counts = torch.tensor([0, 1, 2, 3, 4, 7])
    energy = torch.tensor([0.0, 1.0, 3.0, 0.2, 5.0, 6.0], dtype=torch.float64)
    cells = sample_halo(counts, energy, halo, torch.Generator().manual_seed(1))
    assert cells.shape == (6, 5) and (cells[:, 2] == 0).all()
    assert (cells > 0).sum(dim=1).tolist() == [0, 1, 2, 3, 4, 4]
    assert ((cells == 0) | (cells >= 0.1 - 1e-12)).all()
    np.testing.assert_allclose(cells.sum(dim=1).numpy()[[0, 1, 2, 4, 5]], [0.0, 1.0, 3.0, 5.0, 6.0], rtol=1e-12)
    assert torch.allclose(cells[3][cells[3] > 0], torch.tensor(0.1, dtype=torch.float64))  # 3 hits, 0.2 for 0.3
    again = sample_halo(counts, energy, halo, torch.Generator().manual_seed(1))
    assert torch.equal(cells, again)

    one = sample_halo(torch.ones(4000, dtype=torch.long), torch.ones(4000, dtype=torch.float64), halo,
                      torch.Generator().manual_seed(2))
    share = (one > 0).double().mean(dim=0).numpy()
    sigma = np.sqrt(occupancy * (1 - occupancy) / 4000)
    assert (np.abs(share - occupancy) <= 4 * sigma + 1e-12).all()


def test_a_cell_of_larger_excess_takes_that_much_more_of_the_halo_energy():
    """Two cells lit in every shower, relative excess 1.5 and 0.5, a spectrum at 1.1 above its lowest value 0.1 (all
    levels but the first): each shower's two hits hold 0.1 plus 3 : 1 of the rest of its 4.2 (3.1 and 1.1), where
    the spectrum alone (no excess, a spectrum fitted before it existed) splits it evenly."""
    halo = {"occupancy": [1.0, 1.0], "quantiles": [0.1] + [1.1] * (QUANTILE_LEVELS - 1), "excess": [1.5, 0.5]}
    counts, energy = torch.full((200,), 2), torch.full((200,), 4.2, dtype=torch.float64)
    cells = sample_halo(counts, energy, halo, torch.Generator().manual_seed(3))
    np.testing.assert_allclose(np.median(cells.numpy(), axis=0), [3.1, 1.1], rtol=1e-12)
    even = sample_halo(counts, energy, {k: halo[k] for k in ("occupancy", "quantiles")}, torch.Generator().manual_seed(3))
    np.testing.assert_allclose(np.median(even.numpy(), axis=0), [2.1, 2.1], rtol=1e-12)


@pytest.fixture(scope="module")
def ild(tmp_path_factory):
    return simulate("ild_photons_50gev", tmp_path_factory.mktemp("ild") / "ild.zarr", events=64, progress=False)


def test_ild_flow_keeps_core_cells_layer_energies_and_hits_and_generates_the_schema(ild, tmp_path):
    """The shipped ILD spec cut down (9 learnt cells per layer) trains, exports and generates from the CLI a store
    that validates with the reference's units; its coordinates are E_tot, one per group, one per core cell and
    two per halo; the training showers mapped to them and back keep each core cell, each layer's energy and each layer's
    number of hits, and put their halo hits only where a training shower had one."""
    spec = model_spec(tmp_path, "ild_fm_compact", hyperparameters=SMALL | {"occupancy_calibration": False},
                      training={"batch_size": 16, "selection": None, "checkpoint_every": 10})
    run, checkpoint = cli_train_and_export(spec, ild, tmp_path, steps=4)
    out = tmp_path / "gen.zarr"
    result = CliRunner().invoke(app, ["generate", str(checkpoint), "--events", "20", "--out", str(out), "--seed", "4"])
    assert result.exit_code == 0, result.output
    assert validate_store(str(out)) == []
    generated, reference = open_store(str(out)).compute(), open_store(ild).compute()
    assert generated["energy"].attrs["units"] == reference["energy"].attrs["units"]
    assert generated["energy"].shape[1:] == reference["energy"].shape[1:] == (30, 30, 30)

    recipe = load_run(run, checkpoint="last").recipe
    groups = recipe.cell_groups[0]
    assert len(groups) == 30 * 6  # per layer: four shares' groups and the rest of its 9 core cells, and the halo
    batch = recipe.data.encode({k: torch.as_tensor(reference[k].values[:58]) for k in ("energy", "incident_energy")})
    coords = recipe.to_flow(batch)
    # E_tot, the groups' log shares, the core cells, the halos' fractions and hits
    assert coords.shape == (58, 1 + 30 * 6 + 30 * 9 + 30 + 30)
    recipe.hp = recipe.hp.model_copy(update={"clamp_to_training_range": False})
    back = recipe.data.inverse(recipe.from_flow(coords, {"incident_energy": batch["incident_energy"]},
                                                torch.Generator().manual_seed(0)))["energy"].numpy()
    cells = reference["energy"].values[:58]
    np.testing.assert_allclose(back.sum(axis=(2, 3)), cells.sum(axis=(2, 3)), rtol=1e-4, atol=1e-4)
    assert np.array_equal((back > 0).sum(axis=(2, 3)), (cells > 0).sum(axis=(2, 3)))
    core = np.zeros(27000, dtype=bool)
    core[[i for k, g in enumerate(groups) if k % 6 != 5 for i in g]] = True
    flat_back, flat_cells = back.reshape(58, -1), cells.reshape(58, -1)
    np.testing.assert_allclose(flat_back[:, core], flat_cells[:, core], rtol=1e-4, atol=1e-6)
    ever_lit = (flat_cells > 0).any(axis=0)
    assert not (flat_back[:, ~core & ~ever_lit] > 0).any()


def test_ild_flow_occupancy_calibration_counts_the_halo_hits(ild, tmp_path):
    """Calibrated before the snapshot is scored, the core cells' threshold makes showers generated as the
    calibration generates them light as many cells as the training showers, halo hits included (to 0.1 %: the cut
    acts on a cell before its layer is rescaled to the layer's energy, the count on it after)."""
    loaded = calibrated_flow(tmp_path, "ild_fm_compact", ild, SMALL, "n_hits", steps=4)
    recipe = loaded.recipe
    assert recipe.cell_thresholds is not None and recipe.cell_thresholds[0][0] >= recipe.cell_noise
    reference = open_store(ild).isel(event=slice(0, 58)).compute()
    conditions = {k: torch.from_numpy(v) for k, v in
                  loaded.transforms.forward({"incident_energy": reference["incident_energy"].values}, None).items()}

    def lit(thresholds):
        recipe.cell_thresholds = thresholds
        cells = recipe.data.inverse(recipe.sample(58, conditions, torch.Generator().manual_seed(0)))["energy"]
        return int((cells > 0).sum())

    target, fitted = int((reference["energy"].values > 0).sum()), lit(list(recipe.cell_thresholds))
    assert abs(fitted - target) <= 1e-3 * target  # the cut acts before each layer is rescaled to its energy
    assert abs(lit(None) - target) > 10 * abs(fitted - target)  # the readout's 0.1 MeV cut instead
