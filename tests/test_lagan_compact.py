"""The compact LAGAN options (``generator: normalised``, ``discriminator: physics``, ``feature_mmd``): the
in-graph jet observables agree with physgen's observables (known answers and a store of jet images), the
p_T-normalised output carries its pixel sum exactly with exact zeros, and the spec trains, selects by the
EMD-minimax score and generates labelled jet images with the store's schema."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from _train_stores import jet_image_store, model_spec

from physgen.errors import SpecError
from physgen.generate import generate
from physgen.models.blocks import JetImageFeatures, thresholded_softmax
from physgen.models.nets import LaganNormalisedGenerator, LaganPhysicsDiscriminator
from physgen.observables import compute
from physgen.specs import SpecRegistry
from physgen.store import open_store, validate_store
from physgen.train import train

pytestmark = pytest.mark.usefixtures("torch_one_thread")

GRID = torch.arange(-1.2, 1.21, 0.1, dtype=torch.float64)  # the 25 × 25 pixel centres of jet_image_25x25
PHYSICS_SMALL = {"latent_dim": 8, "generator_hidden": [16], "discriminator_hidden": [16], "cell_features": 4,
                 "mbd_kernels": 3, "mbd_dims": 3}


@pytest.fixture(scope="module")
def jets(tmp_path_factory):
    return jet_image_store(tmp_path_factory.mktemp("jets"), events=64)


def test_jet_features_known_answers_of_two_and_three_pixels():
    """Two massless pixels: m² = 2 pT1 pT2 (cosh Δη − cos Δφ) (massless two-body mass), pT the vector sum;
    WTA kT axes: τ1's axis on the harder pixel, so τ1 = pT2 ΔR / (pT1 + pT2) (R0 = 1), τ2 = 0 (each pixel
    an axis). A third pixel: τ2 = pT3 · its distance to the nearer of the two harder ones / Σ pT."""
    image = torch.zeros(2, 25, 25, dtype=torch.float64)
    image[:, 12, 12], image[:, 12, 16] = 200.0, 60.0  # Δη = 0, Δφ = 0.4
    image[1, 9, 12] = 10.0  # Δη = −0.3 from the hardest pixel, 0.5 from the second
    f = JetImageFeatures(GRID, GRID)(image)
    mass = math.sqrt(2 * 200 * 60 * (1 - math.cos(0.4)))
    torch.testing.assert_close(f["jet_mass"][0], torch.tensor(mass, dtype=torch.float64))
    torch.testing.assert_close(f["jet_pt"][0], torch.tensor(math.hypot(200 + 60 * math.cos(0.4), 60 * math.sin(0.4)),
                                                            dtype=torch.float64))
    torch.testing.assert_close(f["tau_1"][0], torch.tensor(60 * 0.4 / 260, dtype=torch.float64))
    assert f["tau_2"][0] == 0 and f["tau_21"][0] == 0 and f["n_active"].tolist() == [2, 3]
    torch.testing.assert_close(f["tau_1"][1], torch.tensor((60 * 0.4 + 10 * 0.3) / 270, dtype=torch.float64))
    torch.testing.assert_close(f["tau_2"][1], torch.tensor(10 * 0.3 / 270, dtype=torch.float64))


def test_jet_features_are_the_observables_on_a_store_of_jet_images(jets):
    """Every figure of merit the physics discriminator reads equals physgen.observables' value on the same
    images (float64, so the two agree to rounding). On the 8000 Pythia jets of the lagan_compact quality run the
    largest differences were 2e-13 GeV (pT), 1e-12 GeV (mass), 3e-16 (τ21)."""
    ds = open_store(jets).compute()
    image = torch.tensor(ds["image"].values, dtype=torch.float64)
    f = JetImageFeatures(torch.tensor(ds["eta"].values), torch.tensor(ds["phi"].values))(image)
    observed = compute(ds, ["jet_pt", "jet_mass", "tau_1", "tau_2", "tau_21", "n_active_pixels"])
    for name in ("jet_pt", "jet_mass", "tau_1", "tau_2", "tau_21"):
        np.testing.assert_allclose(f[name].numpy(), observed[name].values, rtol=1e-9, atol=1e-9, err_msg=name)
    np.testing.assert_array_equal(f["n_active"].numpy(), observed["n_active_pixels"].values)
    assert (f["tau_21"] > 0).all() and (f["jet_mass"] > 1).all()  # not a comparison of zeros


def test_jet_features_pass_gradients_to_the_pixels(jets):
    image = torch.tensor(open_store(jets)["image"].values[:8], dtype=torch.float64, requires_grad=True)
    f = JetImageFeatures(GRID, GRID)(image)
    sum(f[k].sum() for k in ("jet_pt", "jet_mass", "tau_21", "soft_active")).backward()
    assert torch.isfinite(image.grad).all() and image.grad.abs().sum() > 0


def test_thresholded_softmax_has_exact_zeros_below_its_threshold():
    """t = e^{−softplus(cut)} · max w: a large cut keeps every cell; cut = 0 gives t = max/2."""
    logits = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    keep_all = thresholded_softmax(logits, torch.tensor([50.0]))
    torch.testing.assert_close(keep_all, torch.softmax(logits, dim=1))
    middle = thresholded_softmax(logits, torch.tensor([0.0]))  # t = max · e^{−ln 2} = max / 2
    w = torch.softmax(logits, dim=1)
    torch.testing.assert_close(middle, torch.relu(w - w.max() / 2))


def test_normalised_generator_sets_the_pixel_sum_from_its_head():
    torch.manual_seed(0)
    g = LaganNormalisedGenerator((25, 25), latent_dim=8, n_classes=2, hidden=(16,), pt_sum=(2.8, 0.13))
    images = g(torch.randn(6, 8), torch.tensor([0, 1, 0, 1, 0, 1]))
    total = images.flatten(1).sum(1)
    assert images.shape == (6, 25, 25) and (images >= 0).all()
    assert ((total > 2.8 * 0.87 - 1e-6) & (total < 2.8 * 1.13 + 1e-6)).all()  # c (1 ± r), the head's range
    g.threshold.bias.data.fill_(-3.0)  # a high threshold: most pixels exactly zero
    sparse = g(torch.randn(6, 8), torch.zeros(6, dtype=torch.long))
    assert ((sparse > 0).flatten(1).sum(1) < 625).all()
    torch.testing.assert_close(sparse.flatten(1).sum(1).clamp(2.8 * 0.87, 2.8 * 1.13), sparse.flatten(1).sum(1))


def test_physics_discriminator_standardises_with_the_real_batch(jets):
    image = torch.tensor(open_store(jets)["image"].values[:32]) / 100.0
    D = LaganPhysicsDiscriminator(GRID, GRID, n_classes=2, hidden=(8,), cells=4, mbd_kernels=3, mbd_dims=3)
    D.fit(image)
    x = D.standardised(image)
    torch.testing.assert_close(x[:, :5].mean(0), torch.zeros(5), atol=1e-5, rtol=0)
    adversarial, auxiliary = D(image)
    assert adversarial.shape == auxiliary.shape == (32,)


def test_physics_spec_sets_the_options_and_the_paper_spec_keeps_the_defaults():
    spec = SpecRegistry.default().get("model", "lagan_physics").spec
    hp = spec.hyperparameters
    assert (hp["generator"], hp["discriminator"]) == ("normalised", "physics") and hp["feature_mmd"] > 0
    assert spec.training.selection.metric == "emd_minimax"
    for paper in ("lagan", "lagan_compact"):
        hp = SpecRegistry.default().get("model", paper).spec.hyperparameters
        assert not {"generator", "discriminator", "feature_mmd"} & set(hp)


def test_feature_mmd_needs_the_physics_discriminator(jets, tmp_path):
    spec = model_spec(tmp_path, "lagan_compact", name="lagan_mmd_bad", hyperparameters={"feature_mmd": 1.0},
                      training={"batch_size": 16, "selection": None})
    with pytest.raises(SpecError, match="feature_mmd needs discriminator: physics"):
        train(spec, jets, tmp_path / "run", steps=1, device="cpu", progress=False)


def test_mmd_features_must_be_physics_features(jets, tmp_path):
    spec = model_spec(tmp_path, "lagan_physics", name="lagan_mmd_names", hyperparameters=PHYSICS_SMALL | {
        "mmd_features": ["jet_mass", "jet_eta"]}, training={"batch_size": 16, "selection": None})
    with pytest.raises(SpecError, match=r"mmd_features \['jet_eta'\] are not among the physics features"):
        train(spec, jets, tmp_path / "run", steps=1, device="cpu", progress=False)


def test_physics_lagan_trains_selects_and_generates_labelled_jet_images(jets, tmp_path):
    spec = model_spec(tmp_path, "lagan_physics", hyperparameters=PHYSICS_SMALL | {"mmd_features": ["jet_pt", "tau_21"]},
                      training={"batch_size": 16, "validation_fraction": 0.25, "checkpoint_every": 2,
                                "selection": {"metric": "emd_minimax", "every": 1, "n_events": 16, "keep": 1}})
    run = tmp_path / "run"
    result = train(spec, jets, run, steps=4, device="cpu", progress=False)
    assert result.step == 4 and np.isfinite(result.last["g_mmd"]) and result.last["g_mmd"] >= 0
    (best,) = json.loads((run / "selection.json").read_text())
    assert best["step"] in (2, 3, 4) and np.isfinite(best["score"])
    url = generate(run, 12, tmp_path / "generated.zarr", seed=1, batch_size=8, checkpoint="last",
                   conditions_from=jets, progress=False)
    assert validate_store(url) == []
    gen, ref = open_store(url).compute(), open_store(jets).isel(event=slice(0, 12)).compute()
    np.testing.assert_array_equal(gen["signal"].values, ref["signal"].values)
    assert gen["image"].attrs["units"] == ref["image"].attrs["units"]
    pixel_sum = gen["image"].values.sum(axis=(1, 2))  # GeV: the head's 2.8 (1 ± 0.13) × 100 GeV
    assert ((pixel_sum > 243.6 - 0.1) & (pixel_sum < 316.4 + 0.1)).all()
