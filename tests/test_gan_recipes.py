"""The image and shower GAN recipes (LAGAN, its DCGAN baseline, CaloGAN per particle, conditional
CaloGAN, ILD 3D WGAN-GP) trained for a few steps from tiny stores of their datasets' schemas and
sampled into stores with the training store's schema; one generated CaloGAN store evaluated.

Sizes (latent size, filters) are overridden small; the layer structure is the papers'."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from _train_stores import jet_image_store, model_spec
from typer.testing import CliRunner

from physgen.cli import app
from physgen.errors import SpecError
from physgen.generate import generate
from physgen.sim import simulate
from physgen.specs import SpecRegistry
from physgen.store import open_store, read_provenance, validate_store
from physgen.train import load_run, train

CALOGAN_SMALL = {"latent_dim": 16, "dense_channels": 4, "conv_channels": 4, "lc_channels": 2,
                 "discriminator_channels": [4, 4, 4, 4], "mbd_kernels": 3, "mbd_dims": 3}
LAGAN_SMALL = {"latent_dim": 8, "mbd_kernels": 3, "mbd_dims": 3}
SMALL_BATCH = {"batch_size": 16, "selection": None}
ILD_SMALL = {"latent_dim": 8, "generator_channels": [4, 4, 2], "critic_channels": [2, 2, 4], "critic_hidden": 8,
             "critic_steps": 2}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _layout(url, names=None):
    ds = open_store(url)
    return {k: (v.dims, v.shape[1:], str(v.dtype), v.attrs["units"]) for k, v in ds.data_vars.items()
            if names is None or k in names}


@pytest.fixture(scope="module")
def jets(tmp_path_factory):
    return jet_image_store(tmp_path_factory.mktemp("jets"), events=96)


@pytest.fixture(scope="module")
def showers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("showers")
    return {name: simulate(name, tmp / f"{name}.zarr", events=events, progress=False)
            for name, events in (("calogan_eplus", 64), ("calogan_conditional_eplus", 64),
                                 ("ild_photons_50gev", 24))}


def _train_and_generate(tmp, spec, store, steps=3, events=20, **generate_options):
    run = tmp / "run"
    result = train(spec, store, run, steps=steps, device="cpu", progress=False)
    assert result.step == steps and all(np.isfinite(v) for v in result.last.values())
    url = generate(run, events, tmp / "generated.zarr", seed=1, batch_size=8, checkpoint="last",
                   progress=False, **generate_options)
    assert validate_store(url) == []
    assert open_store(url).sizes["event"] == events
    return run, url


@pytest.mark.parametrize("base", ["lagan", "lagan_dcgan"])
def test_lagan_trains_and_generates_labelled_jet_images(jets, tmp_path, base):
    spec = model_spec(tmp_path, base, hyperparameters=LAGAN_SMALL,
                      training={"batch_size": 16, "selection": None, "validation_fraction": 0.2})
    run, url = _train_and_generate(tmp_path, spec, jets, conditions_from=jets)
    derived = ["jet_pt", "jet_mass", "tau_1", "tau_2", "tau_21"]  # recomputed from the generated images
    assert _layout(url) == _layout(jets, ["image", "signal", *derived])
    gen, ref = open_store(url).compute(), open_store(jets).isel(event=slice(0, 20)).compute()
    assert np.array_equal(gen.signal.values, ref.signal.values)  # classes copied from --conditions-from
    assert (gen.image.values >= 0).all() and gen.image.values.sum() > 0  # ReLU output in GeV
    recipe = load_run(run).recipe
    local = any("Locally" in type(m).__name__ for m in recipe.networks["generator"].modules())
    assert local == (base == "lagan")


def test_lagan_selection_uses_the_emd_minimax_score(jets, tmp_path):
    spec = model_spec(tmp_path, "lagan", hyperparameters=LAGAN_SMALL,
                      training={"batch_size": 16, "validation_fraction": 0.3,
                                "selection": {"metric": "emd_minimax", "every": 1, "n_events": 28, "keep": 1}})
    train(spec, jets, tmp_path / "run", epochs=1, device="cpu", progress=False)
    (best,) = json.loads((tmp_path / "run" / "selection.json").read_text())
    assert best["score"] > 0 and np.isfinite(best["score"])


@pytest.mark.parametrize("base", ["calogan_eplus", "calogan_gamma", "calogan_piplus"])
def test_calogan_specs_share_the_recipe_and_name_their_particle(base):
    spec = SpecRegistry.default().get("model", base).spec
    assert spec.architecture == "calogan" and spec.dataset == base
    assert spec.hyperparameters["latent_dim"] == 1024 and spec.training.batch_size == 256
    assert (spec.training.optimizers["generator"].lr, spec.training.optimizers["discriminator"].lr) == (2e-4, 2e-5)
    assert spec.training.selection.metric == "s2_mean"


def test_calogan_generates_showers_with_the_store_schema_and_units(showers, tmp_path):
    store = showers["calogan_eplus"]
    spec = model_spec(tmp_path, "calogan_eplus", hyperparameters=CALOGAN_SMALL,
                      training={"batch_size": 16, "selection": {"metric": "s2_mean", "every": 1, "n_events": 6,
                                                                "keep": 1}})
    run, url = _train_and_generate(tmp_path, spec, store)
    (best,) = json.loads((run / "selection.json").read_text())  # 58 training events: one epoch = 3 steps
    assert best["step"] == 3 and 0 <= best["score"] <= 1  # ⟨S²⟩ of the shower observables
    assert _layout(url) == _layout(store)  # cells, overflow, energy and the fixed impact point
    gen = open_store(url).compute()
    assert (gen.overflow.values == 0).all()  # not generated (documented)
    assert ((gen.energy >= 1) & (gen.energy <= 100)).all() and (gen.x0 == 0).all()
    # The nets work in GeV: the inverse transform multiplies by 1000, so MeV cells are ≫ the GeV output.
    recipe = load_run(run).recipe
    torch.manual_seed(0)
    with torch.no_grad():
        gev = recipe.sample(8, {"energy": torch.full((8,), 50.0)}, None)["layer_1"].sum().item()
    assert gev > 0
    result = CliRunner().invoke(app, ["evaluate", store, url, "--out", str(tmp_path / "eval"), "--metrics", "s2_mean"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics  # the report compares the calorimeter observables of the two stores
    assert read_provenance(url)["producer"]["architecture"] == "calogan"


def test_conditional_calogan_follows_the_requested_attributes(showers, tmp_path):
    store = showers["calogan_conditional_eplus"]
    spec = model_spec(tmp_path, "calogan_conditional_eplus", hyperparameters=CALOGAN_SMALL,
                      training={"batch_size": 16, "selection": None})
    run, url = _train_and_generate(tmp_path, spec, store, conditions_from=store)
    assert _layout(url) == _layout(store)
    gen, ref = open_store(url).compute(), open_store(store).isel(event=slice(0, 20)).compute()
    for c in ("energy", "x0", "y0", "theta", "phi"):
        np.testing.assert_array_equal(gen[c].values, ref[c].values)
    params = json.loads((run / "run.json").read_text())["transform_params"]
    assert abs(params["x0"][0]["mean"]) < 20 and 15 < params["x0"][0]["std"] < 45  # flat in ±50 mm → σ ≈ 29
    recipe = load_run(run).recipe
    assert recipe.networks["discriminator"].regression.out_features == 4


def test_ild_wgan_applies_the_readout_threshold(showers, tmp_path):
    store = showers["ild_photons_50gev"]
    spec = model_spec(tmp_path, "ild_gan_3d", hyperparameters=ILD_SMALL,
                      training={"batch_size": 8, "selection": None, "validation_fraction": 0.2})
    run, url = _train_and_generate(tmp_path, spec, store, events=10)
    assert _layout(url) == _layout(store)
    cells = open_store(url).energy.values
    assert ((cells == 0) | (cells >= 0.1)).all()  # 0.1 MeV MIP cut of the ILD detector spec
    assert load_run(run).recipe.networks["generator"].threshold == pytest.approx(0.1)


def test_recipes_reject_unknown_hyperparameters_and_wrong_inputs(jets, showers, tmp_path):
    spec = model_spec(tmp_path, "calogan_eplus", hyperparameters={"latent_size": 3}, training=SMALL_BATCH)
    with pytest.raises(SpecError, match="unknown key 'hyperparameters.latent_size'; did you mean 'latent_dim'"):
        train(spec, showers["calogan_eplus"], tmp_path / "a", steps=1, device="cpu", progress=False)
    spec = model_spec(tmp_path, "lagan", name="lagan_bad", hyperparameters={"variant": "fancy"}, training=SMALL_BATCH)
    with pytest.raises(SpecError, match="hyperparameters.variant: Input should be 'location_aware' or 'dcgan'"):
        train(spec, jets, tmp_path / "b", steps=1, device="cpu", progress=False)
    spec = model_spec(tmp_path, "calogan_eplus", name="calogan_noenergy", data={"conditions": []},
                      training=SMALL_BATCH)
    with pytest.raises(SpecError, match="the condition 'energy'"):
        train(spec, showers["calogan_eplus"], tmp_path / "c", steps=1, device="cpu", progress=False)


def test_mass_constraint_targets_are_the_reference_moments_in_its_window(tmp_path):
    """Paper 002's M_ll penalty matches the reference's M_ll mean and RMS; with ``window`` those of the
    events inside it (numpy on the observable, independently)."""
    from physgen.models.dense_gan import DenseGAN
    from physgen.observables import compute
    from physgen.store import open_store
    from physgen.testing._observable_strategies import make_store

    ds = open_store(make_store(tmp_path / "z.zarr", features="zmumu17", n_events=3000, seed=4, chunk_events=700))
    m = compute(ds, ["m_ll"])["m_ll"].values
    inside = m[(m >= 85) & (m <= 95)]
    assert 0.1 * m.size < inside.size < 0.9 * m.size  # the window cuts: a real test of the selection
    assert DenseGAN._reference_mass(ds, (85.0, 95.0)) == pytest.approx((inside.mean(), inside.std()), rel=1e-9)
    assert DenseGAN._reference_mass(ds, None) == pytest.approx((m.mean(), m.std()), rel=1e-9)
