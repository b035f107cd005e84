"""The compact CaloGAN options (``generator: normalised``, ``discriminator: physics``): the in-graph
shower features agree with physgen's observables on simulated showers, the energy-normalised
output carries the requested response exactly, and the compact spec trains, selects by the
high-level classifier AUC and generates showers with the store's schema and units."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _train_stores import model_spec

from physgen.generate import generate
from physgen.models.blocks import ShowerFeatures, energy_normalised_cells
from physgen.models.nets import CaloGanNormalisedGenerator, CaloGanPhysicsDiscriminator
from physgen.observables import compute
from physgen.sim import simulate
from physgen.specs import SpecRegistry
from physgen.store import open_store, validate_store
from physgen.train import load_run, train

pytestmark = pytest.mark.usefixtures("torch_one_thread")

LAYERS = ("layer_0", "layer_1", "layer_2")
COMPACT_SMALL = {"latent_dim": 8, "generator_hidden": [16], "discriminator_hidden": [16], "cell_features": 4,
                 "mbd_kernels": 3, "mbd_dims": 3, "group_mbd": [2, 2]}


@pytest.fixture(scope="module")
def showers(tmp_path_factory):
    return simulate("calogan_eplus", tmp_path_factory.mktemp("showers") / "eplus.zarr", events=64, progress=False)


def test_shower_features_are_the_observables_on_simulated_showers(showers):
    """Every feature the physics discriminator reads equals physgen.observables' value on the same
    showers (cells in MeV here, as in the store; float64 so that the two agree to rounding)."""
    ds = open_store(showers).compute()
    layers = [torch.tensor(ds[n].values, dtype=torch.float64) for n in LAYERS]
    centres = [(torch.tensor(ds[n][ds[n].dims[1]].values), torch.tensor(ds[n][ds[n].dims[2]].values)) for n in LAYERS]
    incident_mev = torch.tensor(ds["energy"].values, dtype=torch.float64) * 1000.0  # store: GeV
    features = ShowerFeatures(centres).double()(layers, incident_mev)
    names = ["layer_energy", "energy_fraction", "centroid_x", "centroid_y", "width_x", "width_y",
             "sparsity_calogan", "e_ratio", "total_energy", "total_over_incident", "shower_depth",
             "shower_depth_width"]
    observed = compute(ds, names)
    for name in names:
        np.testing.assert_allclose(features[name].numpy(), observed[name].values, rtol=1e-9, atol=1e-9,
                                   err_msg=name)
    assert (features["sparsity_calogan"][:, :2] > 0.02).all()  # real showers: the comparison is not of zeros
    # the soft sparsity tends to the hard one: simulated cells are ≥ 1e-4 MeV ≫ its 1e-7 scale here
    np.testing.assert_allclose(features["soft_sparsity"].numpy(), features["sparsity_calogan"].numpy(), atol=2e-3)


def test_shower_features_pass_gradients_to_the_cells(showers):
    ds = open_store(showers).isel(event=slice(0, 8)).compute()
    layers = [torch.tensor(ds[n].values / 1000.0, requires_grad=True) for n in LAYERS]
    centres = [(torch.tensor(ds[n][ds[n].dims[1]].values), torch.tensor(ds[n][ds[n].dims[2]].values)) for n in LAYERS]
    f = ShowerFeatures(centres).double()(layers, torch.tensor(ds["energy"].values, dtype=torch.float64))
    loss = sum(v.sum() for k, v in f.items() if k != "sparsity_calogan")
    loss.backward()
    assert all(torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0 for x in layers)


@pytest.mark.parametrize("layer_gev", [1e-39, 1e-13, 1e-11])
def test_shower_features_keep_finite_gradients_for_a_nearly_empty_layer(layer_gev):
    """A generated layer can hold a subnormal energy (a softmax fraction that underflowed): its centroid
    and width must not send ±inf gradients, whose sum is NaN (a compact γ CaloGAN stopped so)."""
    features = ShowerFeatures([(torch.arange(3.0) * 5, torch.arange(96.0) * 5),
                               (torch.arange(12.0) * 40, torch.arange(12.0) * 40),
                               (torch.arange(12.0) * 40, torch.arange(6.0) * 80)])
    torch.manual_seed(0)
    layers = [torch.rand(4, 3, 96) * layer_gev, torch.rand(4, 12, 12), torch.rand(4, 12, 6)]
    layers = [x.requires_grad_() for x in layers]
    out = features(layers, torch.full((4,), 10.0))
    sum(v.sum() for v in out.values()).backward()
    assert all(torch.isfinite(x.grad).all() for x in layers)
    assert torch.isfinite(out["centroid_x"]).all() and (out["layer_energy"][:, 1:] > 1).all()


def test_energy_normalised_cells_carry_the_requested_response_exactly():
    """Known answer: 40 GeV at response 0.98 split 0.2 / 0.7 / 0.1 deposits 39.2 GeV, 7.84 / 27.44 / 3.92
    per layer, whatever the patterns (an all-zero pattern becomes uniform, not lost)."""
    energy, response = torch.tensor([40.0, 40.0]), torch.tensor([0.98, 0.98])
    fractions = torch.tensor([[0.2, 0.7, 0.1]] * 2)
    patterns = [torch.rand(2, 3, 96), torch.rand(2, 12, 12), torch.zeros(2, 12, 6)]
    patterns[0][:, :, :40] = 0.0
    cells = energy_normalised_cells(energy, response, fractions, patterns)
    per_layer = torch.stack([c.flatten(1).sum(1) for c in cells], dim=1)
    torch.testing.assert_close(per_layer, torch.tensor([[7.84, 27.44, 3.92]] * 2))
    assert (cells[0][:, :, :40] == 0).all()  # zeros stay exact zeros (the sparsity)
    torch.testing.assert_close(cells[2], torch.full((2, 12, 6), 3.92 / 72))


@pytest.mark.parametrize("dense_conditioning", [False, True])
def test_normalised_generator_sets_the_total_from_its_response_head(dense_conditioning):
    torch.manual_seed(0)
    g = CaloGanNormalisedGenerator([(3, 96), (12, 12), (12, 6)], latent_dim=8, hidden=(16, 16),
                                   dense_conditioning=dense_conditioning)
    energy = torch.tensor([1.0, 10.0, 55.0, 100.0])
    response, fractions, cells = g.split(torch.randn(4, 8), energy)
    total = sum(c.flatten(1).sum(1) for c in cells)
    torch.testing.assert_close(total, energy * response)
    assert ((response > 0.95) & (response < 1.05)).all()
    torch.testing.assert_close(fractions.sum(1), torch.ones(4))
    assert all((c >= 0).all() and c.shape[1:] == s for c, s in zip(cells, [(3, 96), (12, 12), (12, 6)]))


def test_compact_spec_uses_the_options_and_selects_by_the_classifier():
    spec = SpecRegistry.default().get("model", "calogan_eplus_compact").spec
    assert spec.architecture == "calogan" and spec.dataset == "calogan_eplus"
    assert (spec.hyperparameters["generator"], spec.hyperparameters["discriminator"]) == ("normalised", "physics")
    assert spec.training.selection.metric == "c2st_auc"
    paper = SpecRegistry.default().get("model", "calogan_eplus").spec  # the paper spec keeps the defaults
    assert "generator" not in paper.hyperparameters and "discriminator" not in paper.hyperparameters


@pytest.mark.parametrize("particle", ["eplus", "gamma", "piplus"])
def test_compact_response_range_holds_every_geant4_shower(particle):
    """The normalised generator's E_tot/E_inc, centre · (1 ± range), covers every shower of the shipped
    Geant4 sample of its particle: e+ and γ are contained (0.969–1.0002), a pion leaves 0.3–99 % of its
    energy in the CaloGAN calorimeter (a 1 ± 0.05 head would force it to deposit everything)."""
    from physgen.sim.geant4 import validation_sample

    spec = SpecRegistry.default().get("model", f"calogan_{particle}_compact").spec
    centre, spread = spec.hyperparameters.get("response", (1.0, 0.05))
    ds = open_store(validation_sample(f"geant4_calogan_{particle}"))
    total_gev = sum(ds[n].values.reshape(ds.sizes["event"], -1).sum(1) for n in LAYERS) / 1000.0
    response = total_gev / ds["energy"].values
    assert centre * (1 - spread) < response.min() and response.max() < centre * (1 + spread)


def test_compact_calogan_trains_selects_and_generates_showers_in_mev(showers, tmp_path):
    spec = model_spec(tmp_path, "calogan_eplus_compact", hyperparameters=COMPACT_SMALL,
                      training={"batch_size": 16, "validation_fraction": 0.4, "selection": {
                          "metric": "c2st_auc", "every": 1, "n_events": 25, "keep": 1,
                          "options": {"names": ["energy", "layer_energy", "total_over_incident"]}}})
    run = tmp_path / "run"
    result = train(spec, showers, run, steps=4, device="cpu", progress=False)
    assert result.step == 4 and all(np.isfinite(v) for v in result.last.values())
    (best,) = json.loads((run / "selection.json").read_text())  # 39 training events: one epoch = 2 steps
    assert best["step"] in (2, 4) and 0 <= best["score"] <= 0.5  # |AUC − ½|
    url = generate(run, 20, tmp_path / "generated.zarr", seed=1, batch_size=8, checkpoint="last",
                   conditions_from=showers, progress=False)
    assert validate_store(url) == []
    gen, ref = open_store(url).compute(), open_store(showers).isel(event=slice(0, 20)).compute()
    assert all(gen[n].attrs["units"] == ref[n].attrs["units"] == "MeV" for n in LAYERS)
    total_gev = sum(gen[n].values.sum(axis=(1, 2)) for n in LAYERS) / 1000.0  # MeV cells, GeV incident energy
    ratio = total_gev / gen["energy"].values
    assert ((ratio > 0.95 - 1e-4) & (ratio < 1.05 + 1e-4)).all()  # the response head's range, in store units
    assert (gen.overflow.values == 0).all()
    recipe = load_run(run).recipe  # rebuilt without the store: the cell centres come from the checkpoint
    centres = recipe.networks["discriminator"].features.x1
    np.testing.assert_allclose(centres.numpy(), ref["layer_1"]["layer_1_x"].values)


def test_cell_threshold_zeroes_the_cells_below_it():
    """Known answer: one 1 × 4 layer with softmax weights ∝ (1, 0.8, 0.4, 0.1) and a threshold output c:
    t = e^{−softplus(c)} × the hottest weight. c = 2: t = 0.1192, cells ∝ (0.8808, 0.6808, 0.2808, 0) of
    the layer's energy (normalised: 0.4781, 0.3695, 0.1524, 0); c = −8: t = 0.99966, only the hottest."""
    for bias, expected in ((2.0, [0.4781, 0.3695, 0.1524, 0.0]), (-8.0, [1.0, 0.0, 0.0, 0.0])):
        g = CaloGanNormalisedGenerator([(1, 4)], latent_dim=2, hidden=(4,))
        with torch.no_grad():
            g.patterns[0].weight.zero_()
            g.patterns[0].bias.copy_(torch.log(torch.tensor([1.0, 0.8, 0.4, 0.1])))
            g.thresholds.weight.zero_()
            g.thresholds.bias.fill_(bias)
        response, _, (cells,) = g.split(torch.randn(3, 2), torch.full((3,), 20.0))
        torch.testing.assert_close(cells.reshape(3, 4) / (20.0 * response[:, None]),
                                   torch.tensor([expected] * 3), atol=2e-4, rtol=0)
        assert (cells.reshape(3, 4)[:, 3] == 0).all()


@pytest.fixture(scope="module")
def ild_showers(tmp_path_factory):
    return simulate("ild_photons_50gev", tmp_path_factory.mktemp("ild") / "ild.zarr", events=48, progress=False)


def test_shower_features_of_voxel_layers_are_the_dctr_observables(ild_showers):
    """The 30 equal ILD layers, computed in one batched pass, give paper 004's DCTR features as
    physgen.observables computes them: layer energies, visible energy, longitudinal centroid
    and the number of hits (Σ sparsity × 900 cells; every stored cell is 0 or above the 0.1 MeV cut)."""
    ds = open_store(ild_showers).compute()
    cells = torch.tensor(ds["energy"].values, dtype=torch.float64)
    centre = (torch.tensor(ds["y"].values), torch.tensor(ds["x"].values))
    features = ShowerFeatures([centre] * 30).double()(list(cells.unbind(1)), torch.full((48,), 50e3, dtype=torch.float64))
    observed = compute(ds, ["layer_energy", "visible_energy", "longitudinal_centroid", "n_hits"])
    np.testing.assert_allclose(features["layer_energy"].numpy(), observed["layer_energy"].values, rtol=1e-9)
    np.testing.assert_allclose(features["total_energy"].numpy(), observed["visible_energy"].values, rtol=1e-9)
    np.testing.assert_allclose(features["shower_depth"].numpy(), observed["longitudinal_centroid"].values, rtol=1e-9)
    np.testing.assert_allclose(features["sparsity_calogan"].sum(1).numpy() * 900, observed["n_hits"].values, rtol=1e-9)
    # not a comparison of zeros: 50 GeV photons light ≈ 520 cells (the shipped Geant4 sample: median 529, min 229 of 1000)
    assert (observed["n_hits"].values > 200).all()


def test_compact_calogan_on_a_voxel_calorimeter_applies_the_readout_cut(ild_showers, tmp_path):
    """The ILD spec of the family trains on the 3-D store, generates stores of its schema in MeV whose
    cells are 0 or at least the detector's 0.1 MeV threshold, with E_vis/E_inc at most the response
    head's maximum 0.0284 · 1.3 (the cut only removes energy); the threshold (1e-4 in the spec's GeV
    training space) is carried by the checkpoint."""
    spec = model_spec(tmp_path, "ild_calogan_compact", hyperparameters=COMPACT_SMALL,
                      training={"batch_size": 16, "selection": None})
    run = tmp_path / "run"
    result = train(spec, ild_showers, run, steps=3, device="cpu", progress=False)
    assert result.step == 3 and all(np.isfinite(v) for v in result.last.values())
    url = generate(run, 12, tmp_path / "generated.zarr", seed=1, batch_size=6, checkpoint="last",
                   conditions_from=ild_showers, progress=False)
    assert validate_store(url) == []
    gen = open_store(url).compute()
    assert gen["energy"].attrs["units"] == "MeV" and gen["energy"].shape == (12, 30, 30, 30)
    cells = gen["energy"].values
    assert ((cells == 0) | (cells >= 0.1 - 1e-6)).all() and (cells > 0).any()
    ratio = cells.sum(axis=(1, 2, 3)) / 1000.0 / gen["incident_energy"].values
    assert ((ratio > 0) & (ratio <= 0.0284 * 1.3 + 1e-6)).all()
    assert load_run(run).recipe.threshold == pytest.approx(1e-4)


def test_normalised_generator_starts_from_the_average_shower(showers):
    """Known answer: after ``start_from`` real showers, with the hidden state switched off (head weights
    zero), the generator emits the average shower — the mean E_tot/E_inc, the mean layer fractions and
    each layer's mean normalised cell pattern (to the 1e-6 floor of never-hit cells)."""
    ds = open_store(showers).compute()
    layers = [torch.tensor(ds[n].values / 1000.0, dtype=torch.float32) for n in LAYERS]  # GeV, as in training
    energy = torch.tensor(ds["energy"].values, dtype=torch.float32)
    g = CaloGanNormalisedGenerator([x.shape[1:] for x in layers], latent_dim=8, hidden=(16,))
    g.start_from(layers, energy)
    with torch.no_grad():
        for head in (g.response, g.fractions, *g.patterns, g.thresholds):
            head.weight.zero_()
    response, fractions, cells = g.split(torch.randn(5, 8), torch.full((5,), 30.0))
    totals = torch.stack([x.flatten(1).sum(1) for x in layers], dim=1)
    torch.testing.assert_close(response, (totals.sum(1) / energy).mean().expand(5), rtol=1e-5, atol=0)
    torch.testing.assert_close(fractions, (totals / totals.sum(1, keepdim=True)).mean(0).expand(5, 3), rtol=0, atol=1e-5)
    mean_pattern = (layers[1].flatten(1) / totals[:, 1:2]).mean(0)
    torch.testing.assert_close(cells[1].flatten(1) / cells[1].flatten(1).sum(1, keepdim=True),
                               mean_pattern.expand(5, -1), rtol=0, atol=1e-5)


def test_moment_matching_leaves_the_discriminator_untouched(showers, tmp_path):
    """adversarial_weight 0: the generator learns from the feature MMD alone; the discriminator's
    weights stay as initialised (only its feature standardisation is fitted) and no d_loss is logged."""
    spec = model_spec(tmp_path, "calogan_eplus_compact", hyperparameters=COMPACT_SMALL | {
        "adversarial_weight": 0.0, "mmd_bandwidths": [8.0, 32.0]}, training={"batch_size": 16, "selection": None})
    run = tmp_path / "run"
    train(spec, showers, tmp_path / "one_step", steps=1, device="cpu", progress=False)
    result = train(spec, showers, run, steps=3, device="cpu", progress=False)
    assert "d_loss" not in result.last and result.last["g_mmd"] > 0
    before = load_run(tmp_path / "one_step").recipe.networks
    after = load_run(run).recipe.networks
    d0, d1 = before["discriminator"].state_dict(), after["discriminator"].state_dict()
    assert all(torch.equal(d0[k], d1[k]) for k in d0 if k not in ("mean", "std", "fitted"))
    g0, g1 = before["generator"].state_dict(), after["generator"].state_dict()
    assert any(not torch.equal(g0[k], g1[k]) for k in g0)


def test_calogan_reads_layers_or_one_voxel_grid_and_says_so_otherwise():
    from physgen.errors import SpecError
    from physgen.models import DataDescription, VariableInfo, get_architecture

    spec = SpecRegistry.default().get("model", "calogan_eplus_compact").spec
    variables = {"overflow": VariableInfo((3,), ("layer",), "MeV", "float32"),
                 "layer_1": VariableInfo((12, 12), ("y", "x"), "MeV", "float32"),
                 "cells": VariableInfo((4, 6, 6), ("z", "y", "x"), "MeV", "float32"),
                 "energy": VariableInfo((), (), "GeV", "float32")}
    for inputs in (["overflow"], ["layer_1", "cells"]):  # neither kind, both kinds
        with pytest.raises(SpecError, match="2-D layer inputs or one 3-D voxel input"):
            get_architecture("calogan")(spec, DataDescription(variables, inputs=inputs, conditions=["energy"]))


def test_mmd_features_select_feature_groups(showers, tmp_path):
    """``mmd_features`` names groups of the physics discriminator's features; their columns (one per
    shower or one per layer, in CaloGanPhysicsDiscriminator.GROUPS order) are the ones the MMD compares,
    and a name that is no group is a SpecError."""
    from physgen.errors import SpecError

    spec = model_spec(tmp_path, "calogan_eplus_compact", hyperparameters=COMPACT_SMALL | {
        "mmd_features": ["shower_depth", "layer_energy"]}, training={"batch_size": 16, "selection": None})
    result = train(spec, showers, tmp_path / "run", steps=2, device="cpu", progress=False)
    # groups: energy (column 0), layer_energy (1–3), energy_fraction (4–6), total_over_incident (7), shower_depth (8)
    assert load_run(tmp_path / "run").recipe.mmd_columns == [8, 1, 2, 3] and result.last["g_mmd"] > 0
    bad = model_spec(tmp_path, "calogan_eplus_compact", name="calogan_mmd_bad", hyperparameters=COMPACT_SMALL | {
        "mmd_features": ["depth"]}, training={"batch_size": 16, "selection": None})
    with pytest.raises(SpecError, match=r"mmd_features \['depth'\] are not among the physics features"):
        train(bad, showers, tmp_path / "bad", steps=1, device="cpu", progress=False)


def test_conditional_compact_calogan_follows_its_attributes(tmp_path):
    """Paper 003's conditions on the compact options: the generator reads (x0, y0, θ, φ) beside the
    energy (the same z and energy at another impact point give another shower), the physics
    discriminator regresses them (L_ξ in both losses), the MMD compares features with the attributes
    beside them, and generated stores carry the requested conditions."""
    store = simulate("calogan_conditional_eplus", tmp_path / "conditional.zarr", events=48, progress=False)
    spec = model_spec(tmp_path, "calogan_conditional_eplus_compact", hyperparameters=COMPACT_SMALL,
                      training={"batch_size": 16, "selection": None})
    shipped = SpecRegistry.default().get("model", "calogan_conditional_eplus_compact").spec
    assert (shipped.hyperparameters["generator"], shipped.hyperparameters["discriminator"]) == ("normalised", "physics")
    result = train(spec, store, tmp_path / "run", steps=2, device="cpu", progress=False)
    assert all(np.isfinite(result.last[k]) and result.last[k] > 0 for k in ("d_attributes", "g_attributes", "g_mmd"))
    recipe = load_run(tmp_path / "run").recipe
    assert recipe.networks["discriminator"].regression.out_features == 4
    G = recipe.networks["generator"]
    z, energy = torch.randn(2, G.latent_dim), torch.full((2,), 50.0)
    here, there = torch.zeros(2, 4), torch.tensor([[2.0, -2.0, 1.0, 0.5]] * 2)
    with torch.no_grad():
        moved = [(a - b).abs().max().item() for a, b in zip(G(z, energy, here), G(z, energy, there), strict=True)]
    assert min(moved) > 0
    batch = [torch.rand(5, *s) for s in G.layer_sizes]
    features = recipe._mmd_features(recipe.networks["discriminator"], batch, torch.full((5,), 10.0), here[:1].expand(5, 4))
    assert features.shape == (5, sum(CaloGanPhysicsDiscriminator.group_widths(3)) + 4)  # all groups (the spec's)
    torch.testing.assert_close(features[:, -4:], here[:1].expand(5, 4))
    url = generate(tmp_path / "run", 12, tmp_path / "generated.zarr", seed=1, batch_size=8, checkpoint="last",
                   conditions_from=store, progress=False)
    gen, ref = open_store(url).compute(), open_store(store).isel(event=slice(0, 12)).compute()
    for c in ("energy", "x0", "y0", "theta", "phi"):
        np.testing.assert_array_equal(gen[c].values, ref[c].values)
