"""The flow-matching recipe on calorimeter showers (``shower_coordinates: energy_fractions``): CaloFlow's
coordinates (Krause, Shih, arXiv:2106.05285) and back keep the cells, their exact zeros and the layer energies;
generated coordinates give showers whose layers hold exactly the learnt energies; the shipped spec trains,
exports and generates a store with the reference's schema and units; bad options are one SpecError."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _train_stores import calibrated_flow, cli_train_and_export, model_spec
from typer.testing import CliRunner

from physgen.cli import app
from physgen.errors import SpecError
from physgen.models.shower_fractions import (
    from_energy_fractions, join_cells, n_fraction_coordinates, ranked_groups, shift_grid, split_cells,
    to_energy_fractions,
)
from physgen.sim import simulate
from physgen.store import open_store, validate_store
from physgen.train import load_run, train

pytestmark = pytest.mark.usefixtures("torch_one_thread")

GROUPS = ("layer_0", "layer_1", "layer_2", "overflow")
SMALL = {"hidden_layers": [16, 16], "time_embedding": 4, "ode_steps": 2, "occupancy_calibration": False,
         "occupancy_energy_bins": 1, "core_cells": None}
"""The shipped spec cut down; without training.selection, so without occupancy_calibration (fitted at selection;
in one energy bin unless a test says otherwise); every cell learnt one by one (the halo of ``core_cells``:
tests/test_shower_halo.py)."""
NOISE = 1e-3  # MeV: CaloFlow's 1 keV


def _showers() -> tuple[list[torch.Tensor], torch.Tensor]:
    """Three hand-made showers (MeV) with four groups of 3, 2, 2 and 1 cells: exact zeros, an empty group
    (second shower, third group) and cells from 10⁻³ to 10⁴ MeV; incident energies in MeV."""
    groups = [torch.tensor([[2.0, 0.0, 2.0], [5000.0, 1e-3, 0.0], [0.0, 0.0, 7.5]], dtype=torch.float64),
              torch.tensor([[1.0, 1.0], [0.0, 2.0e4], [3.0, 0.0]], dtype=torch.float64),
              torch.tensor([[0.5, 0.5], [0.0, 0.0], [1e-3, 2.0]], dtype=torch.float64),
              torch.tensor([[2.0], [30.0], [0.0]], dtype=torch.float64)]
    return groups, torch.tensor([8.5, 25_500.0, 15.0], dtype=torch.float64)


def test_energy_fractions_by_hand_and_round_trip_keep_cells_zeros_and_layer_sums():
    groups, incident = _showers()
    coords = to_energy_fractions(groups, incident, NOISE)
    assert coords.shape == (3, n_fraction_coordinates([3, 2, 2, 1])) == (3, 12)
    # first shower by hand, each cell + NOISE/2: layers 4 + 3h, 2 + 2h, 1 + 2h, 2 + h (h = NOISE/2); E_tot 9 + 8h
    h = NOISE / 2
    e = [4 + 3 * h, 2 + 2 * h, 1 + 2 * h, 2 + h]
    assert coords[0, 0].item() == pytest.approx(math.log((9 + 8 * h) / 8.5), rel=1e-12)
    u = [e[0] / sum(e), e[1] / sum(e[1:]), e[2] / sum(e[2:])]
    np.testing.assert_allclose(coords[0, 1:4].numpy(), [math.log(v / (1 - v)) for v in u], rtol=1e-12)
    f = h / e[0]  # the zero cell of layer 0
    assert coords[0, 5].item() == pytest.approx(math.log(f / (1 - f)), rel=1e-12)
    back = from_energy_fractions(coords, incident, [3, 2, 2, 1], NOISE)
    for cells, again in zip(groups, back, strict=True):
        assert torch.equal(cells == 0, again == 0)  # exact zeros stay exact zeros, no others appear
        np.testing.assert_allclose(again.numpy(), cells.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(again.sum(dim=1).numpy(), cells.sum(dim=1).numpy(), rtol=1e-9, atol=1e-12)


def test_log_shares_by_hand_and_round_trip_and_generated_layers_hold_the_softmax_of_their_shares():
    """``group_energies: log_shares``: after log(E_tot / E_inc) come the n logarithms log(E_i / E_tot) (first shower by
    hand), the cells come back as they were, and any coordinates give groups holding E_tot · softmax(shares)_i less
    their noise, whatever a common offset of the shares (the normalisation absorbs a bias common to all groups)."""
    groups, incident = _showers()
    coords = to_energy_fractions(groups, incident, NOISE, group_energies="log_shares")
    assert coords.shape == (3, n_fraction_coordinates([3, 2, 2, 1], "log_shares")) == (3, 13)
    h = NOISE / 2
    e = np.array([4 + 3 * h, 2 + 2 * h, 1 + 2 * h, 2 + h])
    np.testing.assert_allclose(coords[0, 1:5].numpy(), np.log(e / e.sum()), rtol=1e-12)
    back = from_energy_fractions(coords, incident, [3, 2, 2, 1], NOISE, group_energies="log_shares")
    for cells, again in zip(groups, back, strict=True):
        assert torch.equal(cells == 0, again == 0)
        np.testing.assert_allclose(again.numpy(), cells.numpy(), rtol=1e-9, atol=1e-12)
    torch.manual_seed(4)
    sizes = [5, 4, 1]
    generated = torch.randn(100, n_fraction_coordinates(sizes, "log_shares"), dtype=torch.float64) * 2
    total = torch.full((100,), 1000.0, dtype=torch.float64) * torch.exp(generated[:, 0])
    shifted = generated.clone()
    shifted[:, 1:4] += 3.0
    for coords in (generated, shifted):
        layers = from_energy_fractions(coords, torch.full((100,), 1000.0, dtype=torch.float64), sizes, NOISE,
                                       group_energies="log_shares")
        shares = torch.softmax(generated[:, 1:4], dim=1)
        for i, (size, cells) in enumerate(zip(sizes, layers, strict=True)):
            np.testing.assert_allclose(cells.sum(dim=1).numpy(), (shares[:, i] * total - size * NOISE / 2).numpy(),
                                       rtol=1e-9)


def test_dequantising_noise_spreads_zeros_below_the_real_cells():
    """With training noise each zero cell's fraction lies in (0, NOISE / E_layer): below every real cell of at
    least NOISE, the cut that makes them zeros again."""
    groups, incident = _showers()
    coords = to_energy_fractions(groups, incident, NOISE, dequantise=True, generator=torch.Generator().manual_seed(1))
    fractions = torch.sigmoid(coords[0, 4:7])  # first shower, layer 0: cells 2, 0, 2 MeV
    assert 0 < fractions[1] < NOISE / 4.0 < fractions[0]
    again = from_energy_fractions(coords, incident, [3, 2, 2, 1], NOISE)
    assert torch.equal(again[0] == 0, groups[0] < NOISE)  # the 1e-3 MeV cell sits at the cut: kept
    # the noise drawn, not its mean, is what is taken off again: two cells' layer sum moves by at most 2 · NOISE/2
    np.testing.assert_allclose(again[1].sum(dim=1).numpy(), groups[1].sum(dim=1).numpy(), rtol=0, atol=NOISE)


def test_generated_coordinates_give_layers_with_their_learnt_energies():
    """Any coordinates (a generator's output): each group's cells sum to E_i − size · NOISE/2 where E_i follows
    from E_tot = E_inc · exp(c_0) and the stick-breaking ratios sigmoid(c_i), and are non-negative."""
    torch.manual_seed(3)
    sizes = [5, 4, 1]
    coords = torch.randn(200, n_fraction_coordinates(sizes), dtype=torch.float64) * 3
    coords[:, 0] = torch.randn(200, dtype=torch.float64) * 0.01
    incident = torch.full((200,), 1000.0, dtype=torch.float64)
    groups = from_energy_fractions(coords, incident, sizes, NOISE)
    total = incident * torch.exp(coords[:, 0])
    u0, u1 = torch.sigmoid(coords[:, 1]), torch.sigmoid(coords[:, 2])
    energies = [u0 * total, (1 - u0) * u1 * total, (1 - u0) * (1 - u1) * total]
    for size, cells, energy in zip(sizes, groups, energies, strict=True):
        assert (cells >= 0).all()
        np.testing.assert_allclose(cells.sum(dim=1).numpy(), (energy - size * NOISE / 2).numpy(), rtol=1e-9)


def test_a_threshold_above_the_noise_zeroes_the_cells_below_it_and_keeps_the_layer_energy():
    """cell_threshold 10 · NOISE: the 10⁻³ MeV cell of the second shower's first layer and the 10⁻³ MeV cell of the
    third shower's third layer are zeros now, and their energy stays in their layer's other cells (×(1 + 10⁻³/2)
    for the 2 MeV cell beside it); nothing else changes."""
    groups, incident = _showers()
    back = from_energy_fractions(to_energy_fractions(groups, incident, NOISE), incident, [3, 2, 2, 1], NOISE,
                                 threshold=10 * NOISE)
    assert back[0][1, 1] == 0 and back[2][2, 0] == 0
    assert back[2][2, 1].item() == pytest.approx(2.0 + 1e-3, rel=1e-9)
    for cells, again in zip(groups, back, strict=True):
        assert torch.equal(again == 0, cells < 10 * NOISE)
        np.testing.assert_allclose(again.sum(dim=1).numpy(), cells.sum(dim=1).numpy(), rtol=1e-9)


def test_fraction_noise_puts_the_noise_cells_at_one_place_and_round_trips():
    """Relative noise: a zero cell's fraction is cell_noise/2/E_i + fraction_noise/2, which with a tiny cell_noise
    is fraction_noise/2 whatever the layer energy (here 2 MeV and 20 GeV layers), and the fractions below
    fraction_threshold come back as exact zeros with the cells and layer sums as they were."""
    groups, incident = _showers()
    tiny, relative = 1e-12, 1e-9
    coords = to_energy_fractions(groups, incident, tiny, fraction_noise=relative)
    zero_in_small, zero_in_large = coords[0, 5], coords[1, 7]  # layer 0 of shower 1 (4 MeV), layer 1 of shower 2
    for value in (zero_in_small, zero_in_large):
        assert value.item() == pytest.approx(math.log(relative / 2), abs=1e-3)
    back = from_energy_fractions(coords, incident, [3, 2, 2, 1], tiny, fraction_noise=relative,
                                 fraction_threshold=100 * relative)
    for cells, again in zip(groups, back, strict=True):
        assert torch.equal(cells == 0, again == 0)
        np.testing.assert_allclose(again.numpy(), cells.numpy(), rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(again.sum(dim=1).numpy(), cells.sum(dim=1).numpy(), rtol=1e-9)


def test_ranked_groups_are_the_fewest_cells_holding_each_share_and_split_and_join_invert():
    """Mean energies 1, 5, 0, 3, 1 (sum 10): 50 % is held by cell 1 alone, 80 % by cells 1 and 3, 99 % needs four
    cells; every group keeps a cell (a layer of n cells gives at most n groups, one cell gives one)."""
    mean = np.array([1.0, 5.0, 0.0, 3.0, 1.0])
    assert ranked_groups(mean, []) == [[0, 1, 2, 3, 4]]
    assert ranked_groups(mean, [0.5]) == [[1], [0, 2, 3, 4]]
    assert ranked_groups(mean, [0.5, 0.8]) == [[1], [3], [0, 2, 4]]
    assert ranked_groups(mean, [0.8, 0.99]) == [[1, 3], [0, 4], [2]]
    assert ranked_groups(mean, [0.1, 0.2, 0.3, 0.4, 0.5]) == [[1], [3], [0], [4], [2]]
    assert ranked_groups(np.ones(3), [0.999]) == [[0, 1], [2]]
    assert ranked_groups(np.array([2.0]), [0.5, 0.9]) == [[0]]
    cells = torch.arange(10.0).reshape(2, 5)
    groups = [[1, 3], [0, 4], [2]]
    parts = split_cells(cells, groups)
    assert [p.tolist() for p in parts] == [[[1.0, 3.0], [6.0, 8.0]], [[0.0, 4.0], [5.0, 9.0]], [[2.0], [7.0]]]
    assert torch.equal(join_cells(parts, groups), cells)


def test_shift_grid_moves_each_event_by_its_own_cells_cyclically_and_back():
    """A 3 × 4 grid per event (two layers for the second event's shape): event 0 moved by (1, −1) puts cell (1, 0) at
    (0, 1) and wraps cell (0, 3) to (2, 0); event 1 by (0, 2) moves its columns only; moving back restores both."""
    cells = torch.arange(2 * 2 * 12, dtype=torch.float64).reshape(2, 2, 3, 4)
    rows, columns = torch.tensor([1, 0]), torch.tensor([-1, 2])
    moved = shift_grid(cells, rows, columns)
    assert moved[0, 0, 0, 1] == cells[0, 0, 1, 0] and moved[0, 1, 2, 0] == cells[0, 1, 0, 3]
    assert torch.equal(moved[1], torch.roll(cells[1], shifts=-2, dims=2))
    assert torch.equal(shift_grid(moved, -rows, -columns), cells)


@pytest.fixture(scope="module")
def showers(tmp_path_factory):
    return simulate("calogan_eplus", tmp_path_factory.mktemp("showers") / "eplus.zarr", events=64, progress=False)


@pytest.mark.parametrize("core_shares", [[], [0.8, 0.97]])
def test_fm_showers_train_export_and_generate_the_reference_schema(showers, tmp_path, core_shares):
    """The shipped spec (network cut down; CaloFlow's absolute 1 keV noise and cut, so that which cells are zeros
    is known) trains from the CLI, exports, and generates from the CLI a store that validates with the
    reference's units; cells are non-negative with exact zeros; the run's recipe maps the reference showers to its
    flow space and back (float32 there) with their zeros and layer energies; clamped, a coordinate beyond the
    training range acts as its edge. With ``core_shares`` each layer's core (the fewest cells holding 80 % of its
    mean energy in the training showers), the next ones up to 97 % and the rest are groups of their own, two more
    coordinates per layer of three or more cells."""
    absolute = {"cell_noise": "1 keV", "cell_threshold": None, "fraction_noise": 0.0, "fraction_threshold": 0.0,
                "core_shares": core_shares, "layers_along_first_axis": False}  # layer 0's rows: test_shower_halo
    spec = model_spec(tmp_path, "calogan_eplus_fm_compact", hyperparameters=SMALL | absolute,
                      training={"batch_size": 16, "selection": None, "checkpoint_every": 10})
    run, checkpoint = cli_train_and_export(spec, showers, tmp_path, steps=10)
    out = tmp_path / "gen.zarr"
    result = CliRunner().invoke(app, ["generate", str(checkpoint), "--events", "40", "--out", str(out),
                                 "--seed", "4", "--conditions-from", showers])
    assert result.exit_code == 0, result.output
    assert validate_store(str(out)) == []
    generated, reference = open_store(str(out)).compute(), open_store(showers).compute()
    for name in (*GROUPS, "energy"):
        assert generated[name].attrs["units"] == reference[name].attrs["units"]
        assert generated[name].shape[1:] == reference[name].shape[1:]
    cells = np.concatenate([generated[n].values.reshape(40, -1) for n in GROUPS], axis=1)
    assert (cells >= 0).all() and (cells == 0).any()

    recipe = load_run(run, checkpoint="last").recipe
    assert recipe.hp.clamp_to_training_range
    sizes = [reference[n].values[0].size for n in GROUPS]
    extra = sum(min(len(core_shares) + 1, size) - 1 for size in sizes)
    assert recipe.to_flow(recipe.data.encode({n: torch.as_tensor(reference[n].values) for n in (*GROUPS, "energy")})
                          ).shape[1] == n_fraction_coordinates(sizes) + extra
    for name, groups in zip(GROUPS, recipe.cell_groups, strict=True):
        mean = reference[name].values[:58].reshape(58, -1).sum(axis=0)  # the training showers: 64 - round(6.4)
        assert sorted(i for g in groups for i in g) == list(range(mean.size))
        if core_shares and mean.size > 3:  # the readout layers; the overflow (3 cells) is one cell per group
            assert mean[groups[0]].sum() >= 0.8 * mean.sum() and mean[groups[0] + groups[1]].sum() >= 0.97 * mean.sum()
            assert mean[groups[0]].min() >= mean[groups[1]].max() >= mean[groups[2]].max()
    recipe.hp = recipe.hp.model_copy(update={"clamp_to_training_range": False})  # the validation showers lie outside
    batch = {n: torch.as_tensor(reference[n].values) for n in (*GROUPS, "energy")}
    batch = recipe.data.encode(batch)  # the loader's space: log-scaled energy, cells as stored
    back = recipe.from_flow(recipe.to_flow(batch), {"energy": batch["energy"]})
    for name in GROUPS:
        kept = reference[name].values >= NOISE / 2  # cells below half the noise level are zeros in its coordinates
        again = back[name].numpy()
        assert np.array_equal(again != 0, kept)
        np.testing.assert_allclose(again.reshape(64, -1).sum(axis=1), reference[name].values.reshape(64, -1).sum(axis=1),
                                   rtol=2e-4, atol=1e-3)
    recipe.hp = recipe.hp.model_copy(update={"clamp_to_training_range": True})
    low, high = (torch.tensor(r) for r in recipe.coordinate_range)
    assert len(high) == recipe.to_flow(batch).shape[1] and (low <= high).all()
    far = torch.full((64, len(high)), 50.0)
    edge = high.expand(64, -1).clone()
    condition = {"energy": batch["energy"]}
    for name in GROUPS:
        assert torch.equal(recipe.from_flow(far, condition)[name], recipe.from_flow(edge, condition)[name])


def test_impact_point_frame_centres_the_cores_and_round_trips_the_showers(tmp_path):
    """``impact_point: [x0, y0]`` on conditional CaloGAN showers (x0, y0 flat in ±50 mm): the recipe reads the cells'
    pitch and centre (y, x) from the store (calogan_lar3: layer 0 160 × 5 mm, layer 1 40 × 40, layer 2 40 × 80);
    in the frame the core strips of layer 0's middle row, the fewest holding half its mean energy, are at most 4
    (the shower's core within half a strip of the centre), where the detector frame needs more than twice as
    many for the same share (the core spread over ±10 strips); the velocity field also gets where in its cell the
    impact point lies, per layer; reference showers go to the flow space and back to the detector frame with their
    cells, zeros and layer energies."""
    showers = simulate("calogan_conditional_eplus", tmp_path / "cond.zarr", events=64, progress=False)
    conditions = ["energy", "x0", "y0", "theta", "phi"]
    cores = {}
    for frame in (["x0", "y0"], []):
        spec = model_spec(tmp_path / str(len(frame)), "calogan_conditional_eplus_fm_compact",
                          hyperparameters=SMALL | {"impact_point": frame},
                          training={"batch_size": 16, "selection": None, "checkpoint_every": 10})
        train(spec, showers, tmp_path / f"run{len(frame)}", steps=2, device="cpu", progress=False)
        recipe = load_run(tmp_path / f"run{len(frame)}", checkpoint="last").recipe
        middle_row = [group for group in recipe.cell_groups[0] if all(96 <= i < 192 for i in group)]
        cores[len(frame)] = len(middle_row[0])
    assert recipe.cell_grid is None
    recipe = load_run(tmp_path / "run2", checkpoint="last").recipe
    assert recipe.cell_grid == [[160.0, 5.0, 0.0, 0.0], [40.0, 40.0, 0.0, 0.0], [40.0, 80.0, 0.0, 0.0], None]
    assert cores[2] <= 4 and cores[0] > 2 * cores[2]
    recipe.hp = recipe.hp.model_copy(update={"clamp_to_training_range": False})
    reference = open_store(showers).compute()
    batch = recipe.data.encode({n: torch.as_tensor(reference[n].values) for n in (*GROUPS, *conditions)})
    back = recipe.from_flow(recipe.to_flow(batch), {k: batch[k] for k in conditions})
    within = recipe._conditioning({k: batch[k] for k in conditions})[:, 5:]  # the field's conditions after the five
    x0 = reference["x0"].values
    assert within.shape == (64, 6) and within.abs().max() <= 1  # (y, x) in layers 0, 1, 2, twice the cell fraction
    np.testing.assert_allclose(within[:, 3].numpy(), 2 * (x0 / 40 - np.round(x0 / 40)), atol=1e-5)  # layer 1, x
    for name in GROUPS:
        cells = reference[name].values
        assert np.array_equal(back[name].numpy() > 0, cells >= recipe.cell_threshold)
        np.testing.assert_allclose(back[name].numpy(), np.where(cells >= recipe.cell_threshold, cells, 0),
                                   rtol=2e-3, atol=2e-3)


def test_occupancy_calibration_lights_as_many_cells_as_the_training_showers(showers, tmp_path):
    """With ``occupancy_calibration`` the training loop fits one cell threshold per input before each snapshot
    is scored (here after every epoch); the snapshot carries them, and showers generated as the calibration
    generates them (the first training showers' energies, seed 0) light exactly as many cells of each input as
    those showers do; without it the same flow lights a different number."""
    loaded = calibrated_flow(tmp_path, "calogan_eplus_fm_compact", showers, SMALL | {"occupancy_calibration": True},
                             "total_over_incident", steps=8)
    recipe = loaded.recipe
    assert recipe.cell_thresholds is not None and len(recipe.cell_thresholds) == len(GROUPS)
    assert all(len(t) == 1 and t[0] >= recipe.cell_noise for t in recipe.cell_thresholds)
    assert recipe.threshold_energies is None
    reference = open_store(showers).isel(event=slice(0, 58)).compute()  # the training showers: 64 - round(6.4)
    conditions = {k: torch.from_numpy(v) for k, v in loaded.transforms.forward({"energy": reference["energy"].values},
                                                                               None).items()}

    def lit(thresholds):
        recipe.cell_thresholds = thresholds
        cells = recipe.data.inverse(recipe.sample(58, conditions, torch.Generator().manual_seed(0)))
        return [int((cells[name] > 0).sum()) for name in GROUPS]

    fitted = list(recipe.cell_thresholds)
    assert lit(fitted) == [int((reference[name].values > 0).sum()) for name in GROUPS]
    assert lit(None) != lit(fitted)


def test_occupancy_calibration_in_energy_bins_matches_each_bin_and_interpolates_in_log_energy(showers, tmp_path):
    """With ``occupancy_energy_bins: 2`` each input gets a threshold per half of the training showers sorted by
    incident energy, held at each half's median energy: showers generated as the calibration generates them, all cut
    at one half's threshold, light as many cells in that half's showers as the reference does there. Between the
    medians a shower's cut is interpolated in log E (at their geometric mean the geometric mean of the two cuts),
    outside them it is the nearer one's."""
    loaded = calibrated_flow(tmp_path, "calogan_eplus_fm_compact", showers,
                             SMALL | {"occupancy_calibration": True, "occupancy_energy_bins": 2}, "total_over_incident",
                             steps=8)
    recipe = loaded.recipe
    reference = open_store(showers).isel(event=slice(0, 58)).compute()
    energy = reference["energy"].values.astype(np.float64)
    halves = np.array_split(np.argsort(energy, kind="stable"), 2)
    mev = recipe.incident_factor  # the incident energy's units to the cells' (GeV to MeV)
    assert recipe.threshold_energies == pytest.approx([np.median(energy[h]) * mev for h in halves])
    fitted = [list(t) for t in recipe.cell_thresholds]
    assert all(len(t) == 2 and min(t) >= recipe.cell_noise for t in fitted)
    conditions = {k: torch.from_numpy(v) for k, v in loaded.transforms.forward({"energy": energy}, None).items()}
    recipe.threshold_energies = None
    matched = 0
    for b, half in enumerate(halves):
        recipe.cell_thresholds = [[t[b]] for t in fitted]
        cells = recipe.data.inverse(recipe.sample(58, conditions, torch.Generator().manual_seed(0)))
        for name, cut in zip(GROUPS, fitted, strict=True):
            generated, target = int((cells[name][half] > 0).sum()), int((reference[name].values[half] > 0).sum())
            if cut[b] > recipe.cell_noise:
                assert generated == target
                matched += 1
            else:  # no cut matches: even every cell above the noise lights fewer than the reference
                assert generated < target
    assert matched >= 6
    low, high = (np.median(energy[h]) * mev for h in halves)
    recipe.cell_thresholds, recipe.threshold_energies = fitted, [low, high]
    cuts = recipe._cuts(torch.tensor([low / 2, low, math.sqrt(low * high), high, 2 * high], dtype=torch.float64))
    for cut, (below, above) in zip(cuts, fitted, strict=True):
        assert cut[:, 0].tolist() == pytest.approx([below, below, math.sqrt(below * above), above, above])


def test_snapshots_with_one_threshold_per_input_load_as_one_energy_bin(showers, tmp_path):
    """Snapshots written before the energy bins hold one float per input: they load as one bin each, and their
    showers are cut at those thresholds whatever the incident energy."""
    spec = model_spec(tmp_path, "calogan_eplus_fm_compact", hyperparameters=SMALL, training={"batch_size": 16})
    train(spec, showers, tmp_path / "run", steps=2, device="cpu", progress=False)
    recipe = load_run(tmp_path / "run").recipe
    recipe.load_extra_state(recipe.extra_state() | {"cell_thresholds": [1e-3, 2e-3, 3e-3, 4e-3]})
    assert recipe.cell_thresholds == [[1e-3], [2e-3], [3e-3], [4e-3]] and recipe.threshold_energies is None
    assert recipe._cuts(torch.tensor([1e3, 1e5], dtype=torch.float64)) == [1e-3, 2e-3, 3e-3, 4e-3]


@pytest.mark.parametrize(("changes", "message"), [
    ({"hyperparameters": {"incident_energy": "theta"}}, "needs the incident energy 'theta' among data.conditions"),
    ({"hyperparameters": {"cell_noise": "1 mm"}}, "cell_noise"),
    ({"hyperparameters": {"cell_noise": "0 keV"}}, "cell_noise must be positive"),
    ({"hyperparameters": {"cell_noise": "1 keV", "cell_threshold": "0.1 keV"}}, "cell_threshold '0.1 keV' is below cell_noise"),
    ({"hyperparameters": {"fraction_noise": 1e-8, "fraction_threshold": 1e-9}}, "fraction_threshold 1e-09 is below"),
    ({"hyperparameters": {"shower_coordinates": "voxels"}}, "hyperparameters.shower_coordinates"),
    ({"hyperparameters": {"on_shell_muons": True}}, "on_shell_muons needs the muon features"),
    ({"data": {"inputs": ["layer_0", "x0"]}}, "needs inputs of one energy unit"),
    ({"hyperparameters": {"shower_coordinates": "cells"}}, "clamp_to_training_range needs shower_coordinates"),
    ({"hyperparameters": {"shower_coordinates": "cells", "clamp_to_training_range": False, "core_shares": [0.8]}},
     "core_shares needs shower_coordinates"),
    ({"hyperparameters": {"core_shares": [0.9, 0.8]}}, "core_shares must ascend within"),
    ({"hyperparameters": {"layers_along_first_axis": ["layer_0", "layer_9"]}}, r"names \['layer_9'\], not among"),
    ({"hyperparameters": {"shower_coordinates": "cells", "clamp_to_training_range": False, "core_shares": [],
                          "layers_along_first_axis": False, "core_cells": 8}}, "core_cells needs shower_coordinates"),
    ({"hyperparameters": {"occupancy_calibration": True}}, "occupancy_calibration is fitted before each snapshot"),
    ({"hyperparameters": {"impact_point": ["x0"]}}, r"impact_point names the two conditions"),
    ({"hyperparameters": {"shower_coordinates": "cells", "clamp_to_training_range": False, "core_shares": [],
                          "occupancy_calibration": True}}, "occupancy_calibration needs shower_coordinates"),
])
def test_bad_shower_options_are_one_spec_error(showers, tmp_path, changes, message):
    spec = model_spec(tmp_path, "calogan_eplus_fm_compact", hyperparameters=SMALL | changes.get("hyperparameters", {}),
                      training={"selection": None, "batch_size": 16}, data=changes.get("data"))
    with pytest.raises(SpecError, match=message):
        train(spec, showers, tmp_path / "run", steps=1, device="cpu", progress=False)
    result = CliRunner().invoke(app, ["train", str(spec), "--data", showers, "--out", str(tmp_path / "cli.run"),
                                      "--steps", "1"])
    assert result.exit_code == 2 and "Traceback" not in result.output
