"""The flow-matching generator (physgen.models.flow_matching): its loss and ODE integrator against analytic
flows, the ``spread_zeros`` dequantisation, and train → export → ``physgen generate`` of the Z→μμ spec from
the CLI on a small synthetic store; bad options are one clear error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _train_stores import cli_train_and_export, model_spec, zmumu_store
from typer.testing import CliRunner

from physgen.cli import app
from physgen.errors import SpecError
from physgen.models.dimuon import MOMENTUM_FEATURES, MUON_COORDINATES, leading_muon_first
from physgen.models.flow_matching import cfm_loss, integrate, ot_pairing, straight_path
from physgen.sim.zmumu import MUON_MASS
from physgen.store import open_store, validate_store
from physgen.train import load_run, train
from physgen.specs import Transform
from physgen.train._transforms import TransformSet

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SMALL = {"hidden_layers": [32, 32], "time_embedding": 8, "ode_steps": 4}


def _gaussian_flow(m: float, s: float):
    """Marginal velocity of the straight path from N(0, 1) to N(m, s²) with independent end points: x_t is
    Gaussian with mean t m and variance σ_t² = (1 − t)² + t² s², and E[x₁ − x₀ | x_t] is linear in x_t,
    v(x, t) = m + (t s² − (1 − t)) / σ_t² · (x − t m) (Gaussian conditioning of the jointly Gaussian
    x₁ − x₀ and x_t). Its flow maps x₀ to t m + σ_t x₀ (d/dt of it is v), so x(1) = m + s x₀ exactly."""

    def velocity(x, t):
        var = (1 - t) ** 2 + t**2 * s**2
        return m + (t * s**2 - (1 - t)) / var * (x - t * m)

    return velocity


@pytest.mark.parametrize("sigma_min", [0.0, 0.1])
def test_cfm_loss_is_zero_for_the_exact_field_of_a_point_target(sigma_min):
    """For data at one point μ every path ends there, and Lipman et al.'s conditional field (Eq. 21),
    u(x, t) = (μ − (1 − σ_min) x) / (1 − (1 − σ_min) t), is the exact velocity: the loss vanishes. A field
    with the wrong sign of the x term does not."""
    gen = torch.Generator().manual_seed(1)
    mu = torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
    x0 = torch.randn(500, 3, generator=gen, dtype=torch.float64)
    t = torch.rand(500, generator=gen, dtype=torch.float64) * 0.99
    x1 = mu.expand(500, 3)

    def exact(x, t, c=None):
        return (mu - (1 - sigma_min) * x) / (1 - (1 - sigma_min) * t[:, None])

    def wrong(x, t, c=None):
        return (mu + (1 - sigma_min) * x) / (1 - (1 - sigma_min) * t[:, None])

    assert cfm_loss(exact, x1, x0, t, sigma_min=sigma_min).item() < 1e-20
    assert cfm_loss(wrong, x1, x0, t, sigma_min=sigma_min).item() > 1.0
    xt, _ = straight_path(x0, x1, torch.ones(500, dtype=torch.float64), sigma_min)
    assert torch.allclose(xt, x1 + sigma_min * x0)  # the path ends in N(x1, σ_min²) (Lipman et al., Eq. 20)


def test_the_gaussian_marginal_field_beats_a_perturbed_one_in_the_loss():
    """The CFM loss is minimised by the marginal field (Lipman et al., Theorem 2): for N(0,1) → N(3, 0.5²) the
    analytic field scores below the same field with its slope or offset changed by 10 %."""
    gen = torch.Generator().manual_seed(2)
    n, m, s = 200_000, 3.0, 0.5
    x0 = torch.randn(n, 1, generator=gen, dtype=torch.float64)
    x1 = m + s * torch.randn(n, 1, generator=gen, dtype=torch.float64)
    t = torch.rand(n, generator=gen, dtype=torch.float64)
    field = _gaussian_flow(m, s)
    best = cfm_loss(lambda x, t, c=None: field(x, t[:, None]), x1, x0, t).item()
    for slope, offset in ((1.1, 0.0), (0.9, 0.0), (1.0, 0.3)):
        def changed(x, t, c=None, slope=slope, offset=offset):
            tt = t[:, None]
            return offset + m + slope * (field(x, tt) - m)
        assert cfm_loss(changed, x1, x0, t).item() > best


@pytest.mark.parametrize(("solver", "steps", "tolerance"),
                         [("euler", 200, 2e-2), ("midpoint", 20, 2e-3), ("heun", 20, 2e-3), ("rk4", 10, 1e-5)])
def test_integrators_transport_a_gaussian_to_the_analytic_end_point(solver, steps, tolerance):
    """Each fixed-step solver carries x₀ to m + s x₀ under the Gaussian marginal field (its exact flow map,
    see _gaussian_flow), within the accuracy of its order (Euler 1, midpoint and Heun 2, RK4 4)."""
    m, s = 3.0, 0.5
    x0 = torch.linspace(-3, 3, 61, dtype=torch.float64)[:, None]
    x1 = integrate(_gaussian_flow(m, s), x0, steps, solver)
    assert (x1 - (m + s * x0)).abs().max().item() < tolerance
    if solver != "euler":  # second order or better: twice the steps, at least 4x smaller error
        finer = integrate(_gaussian_flow(m, s), x0, 2 * steps, solver)
        assert (finer - (m + s * x0)).abs().max() < (x1 - (m + s * x0)).abs().max() / 3.5


def test_spread_zeros_dequantises_for_training_and_restores_exact_zeros():
    """Zeros go to [−width, 0), values above the gap are shifted down by it; the inverse restores both
    exactly (jet pT: 0 or ≥ 20 GeV, the zmumu17 jet threshold)."""
    transforms = TransformSet({"jet1_pt": [Transform(name="spread_zeros", options={"width": 10, "gap": 20})]})
    x = np.array([0, 0, 0, 20.5, 35.0, 0, 120.0], dtype=np.float32)
    y = transforms.forward({"jet1_pt": x}, np.random.default_rng(3))["jet1_pt"]
    zero = x == 0
    assert np.all((y[zero] < 0) & (y[zero] >= -10)) and len(np.unique(y[zero])) == zero.sum()
    np.testing.assert_allclose(y[~zero], x[~zero] - 20)
    back = transforms.inverse({"jet1_pt": torch.from_numpy(y)})["jet1_pt"].numpy()
    np.testing.assert_array_equal(back[zero], 0.0)
    np.testing.assert_allclose(back[~zero], x[~zero], rtol=1e-6)
    fixed = transforms.forward({"jet1_pt": x}, None)["jet1_pt"]  # no training noise: the noise's mean
    np.testing.assert_allclose(fixed[zero], -5.0)


def test_spread_zeros_margin_leaves_an_empty_interval_and_splits_it_in_the_middle():
    """With ``margin`` the spread zeros lie in [−margin − width, −margin); the inverse sends the lower half of
    the empty interval to 0 and the upper half to the threshold, the values above stay exact."""
    transforms = TransformSet({"jet1_pt": [Transform(name="spread_zeros",
                                                     options={"width": 10, "gap": 20, "margin": 4})]})
    x = np.array([0, 0, 0, 0, 25.0, 40.0], dtype=np.float32)
    y = transforms.forward({"jet1_pt": x}, np.random.default_rng(4))["jet1_pt"]
    assert np.all((y[:4] >= -14) & (y[:4] < -4))
    np.testing.assert_allclose(y[4:], [5.0, 20.0])
    generated = torch.tensor([-13.0, -2.5, -1.5, 0.0, 5.0])  # slab, lower and upper half of the gap, above
    back = transforms.inverse({"jet1_pt": generated})["jet1_pt"].numpy()
    np.testing.assert_allclose(back, [0.0, 0.0, 20.0, 20.0, 25.0])


@pytest.fixture(scope="module")
def zmumu(tmp_path_factory):
    return zmumu_store(tmp_path_factory.mktemp("zmumu_fm"), events=2048)


@pytest.mark.parametrize("coordinates", ["cartesian", "mass", "rest_frame"])
def test_train_export_generate_from_the_cli_gives_the_reference_schema(zmumu, tmp_path, coordinates):
    """The shipped spec (network sizes cut down) trains for a few steps from the CLI, exports, and generates
    from the CLI: a valid store with the reference's units, exact-zero or ≥ 20 GeV jets, non-negative
    isolations with exact zeros, on-shell muon energies; the same seed gives the same events."""
    ordered = coordinates != "cartesian"
    spec = model_spec(tmp_path, "zmumu_fm17_compact",
                      hyperparameters=SMALL | {"muon_coordinates": coordinates, "leading_muon_first": ordered},
                      training={"batch_size": 128, "selection": None, "checkpoint_every": 20})
    run, checkpoint = cli_train_and_export(spec, zmumu, tmp_path, steps=40)
    assert set(load_run(run, checkpoint="last").recipe.networks) == {"velocity", "generator"}
    stores = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.zarr"
        result = CliRunner().invoke(app, ["generate", str(checkpoint), "--events", "300", "--out", str(out),
                                     "--seed", "4"])
        assert result.exit_code == 0, result.output
        assert validate_store(str(out)) == []
        stores.append(open_store(str(out)).compute())
    generated, reference = stores[0], open_store(zmumu)
    for var in reference.data_vars:
        if var in generated:
            assert generated[var].attrs["units"] == reference[var].attrs["units"]
    for k in range(1, 6):
        jet = generated[f"jet{k}_pt"].values
        assert np.all((jet == 0) | (jet >= 20))
    iso = generated["mu1_iso"].values
    assert iso.min() >= 0 and (iso == 0).any()
    p2 = generated["mu2_px"] ** 2 + generated["mu2_py"] ** 2 + generated["mu2_pz"] ** 2
    np.testing.assert_allclose(generated["mu2_e"], np.sqrt(p2 + MUON_MASS**2), rtol=1e-5)
    if ordered:  # the zmumu17 convention: the first muon has the larger p_T
        assert np.all(generated["mu1_px"] >= np.hypot(generated["mu2_px"], generated["mu2_py"]) * (1 - 1e-6))
    for var in generated.data_vars:
        np.testing.assert_array_equal(generated[var].values, stores[1][var].values)


@pytest.mark.parametrize("coordinates", ["mass", "rest_frame"])
def test_muon_coordinates_round_trip_and_give_the_dimuon_observables(zmumu, coordinates):
    """The muon coordinates and back reproduce the muon momenta; their M_ll (and for rest_frame p_T,ll) are the
    ``m_ll`` and ``pt_ll`` observables of physgen.observables (the synthetic muons are massless, E = |p|)."""
    from physgen.observables import compute

    ds = open_store(zmumu).isel(event=slice(0, 1000)).compute()
    momenta = {k: torch.as_tensor(ds[k].values, dtype=torch.float64) for k in MOMENTUM_FEATURES}
    forward, inverse = MUON_COORDINATES[coordinates]
    coords = forward(momenta)
    back = inverse(coords)
    for k in MOMENTUM_FEATURES:
        np.testing.assert_allclose(back[k], momenta[k], rtol=1e-9, atol=1e-8)
    observed = compute(ds, ["m_ll", "pt_ll"])
    mass = coords[:, 4] if coordinates == "mass" else coords[:, 0]
    # rtol: the observable is E² − p² of float32 stored values (cancellation)
    np.testing.assert_allclose(np.exp(mass.numpy()), observed["m_ll"].values, rtol=1e-3)
    if coordinates == "rest_frame":
        np.testing.assert_allclose(np.exp(coords[:, 1].numpy()), observed["pt_ll"].values, rtol=1e-4)
        assert np.all(np.abs(coords[:, 4].numpy()) <= np.pi)


def test_leading_muon_first_swaps_and_rotates_by_hand():
    """mu1 = (30, 0, 10) GeV, mu2 = (0, 40, 5) GeV: mu2 leads, so it becomes the first muon along +x, (40, 0, 5);
    the rotation by −90° takes mu1 to (0, −30, 10) and MET (5, 7) to (7, −5); the isolations swap."""
    def event(**values):
        return {k: torch.tensor([v], dtype=torch.float32) for k, v in values.items()}

    others = event(met_px=5.0, met_py=7.0, mu1_iso=0.0, mu2_iso=0.3)
    moved = {k: v.item() for k, v in leading_muon_first(
        event(mu1_px=30.0, mu1_pz=10.0, mu2_px=0.0, mu2_py=40.0, mu2_pz=5.0) | others).items()}
    expected = {"mu1_px": 40, "mu1_pz": 5, "mu2_px": 0, "mu2_py": -30, "mu2_pz": 10, "met_px": 7, "met_py": -5,
                "mu1_iso": 0.3, "mu2_iso": 0.0}
    assert moved == pytest.approx(expected, abs=1e-4)
    kept = {k: v.item() for k, v in leading_muon_first(
        event(mu1_px=50.0, mu1_pz=1.0, mu2_px=-30.0, mu2_py=10.0, mu2_pz=2.0) | others).items()}
    assert kept["mu1_px"] == 50 and kept["mu2_py"] == 10 and kept["met_px"] == pytest.approx(5, abs=1e-4)


def test_rest_frame_coordinates_of_a_decay_along_the_boost():
    """A Z of mass 91 GeV moving along x with β = 0.6 (γ = 1.25, p_T = γβM = 68.25 GeV, y = 0) whose leading muon
    goes along +x in its rest frame (θ* = 90°, φ* = 0): in the lab the muons are collinear with the boost,
    |p1| = γ (1 + β) M/2 = 91 GeV, p2_x = γ (β − 1) M/2 = −22.75 GeV (special relativity by hand)."""
    zero = torch.zeros(1, dtype=torch.float64)
    momenta = {"mu1_px": torch.tensor([91.0], dtype=torch.float64), "mu1_pz": zero,
               "mu2_px": torch.tensor([-22.75], dtype=torch.float64), "mu2_py": zero, "mu2_pz": zero}
    coords = MUON_COORDINATES["rest_frame"][0](momenta)[0]
    np.testing.assert_allclose(coords.numpy(), [np.log(91.0), np.log(68.25), 0.0, 0.0, 0.0], atol=1e-9)


@pytest.mark.parametrize(("options", "message"), [
    ({"time_embedding": 7}, "time_embedding must be even"),
    ({"ode_solver": "rk45"}, "hyperparameters.ode_solver: Input should be 'euler', 'midpoint', 'heun' or 'rk4'"),
    ({"ema_decay": 1.0}, "hyperparameters.ema_decay"),
    ({"ode_step": 4}, "unknown key 'hyperparameters.ode_step'; did you mean 'ode_steps'"),
])
def test_bad_hyperparameters_are_one_spec_error(zmumu, tmp_path, options, message):
    spec = model_spec(tmp_path, "zmumu_fm17_compact", hyperparameters=SMALL | options, training={"selection": None})
    with pytest.raises(SpecError, match=message):
        train(spec, zmumu, tmp_path / "run", steps=1, device="cpu", progress=False)
    result = CliRunner().invoke(app, ["train", str(spec), "--data", zmumu, "--out", str(tmp_path / "cli.run"),
                                      "--steps", "1"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_on_shell_muons_without_the_muons_and_a_bad_spread_are_spec_errors(zmumu, tmp_path):
    spec = model_spec(tmp_path, "zmumu_fm17_compact", name="fm_nomuons", hyperparameters=SMALL,
                      training={"selection": None}, data={"inputs": ["met_px", "met_py"],
                                                          "transforms": {"met_px": [{"name": "scale"}]}})
    with pytest.raises(SpecError, match="on_shell_muons needs the muon features"):
        train(spec, zmumu, tmp_path / "a", steps=1, device="cpu", progress=False)
    spec = model_spec(tmp_path, "zmumu_fm17_compact", name="fm_nomuons2",
                      hyperparameters=SMALL | {"on_shell_muons": False, "muon_coordinates": "mass"},
                      training={"selection": None}, data={"inputs": ["met_px", "met_py"],
                                                          "transforms": {"met_px": [{"name": "scale"}]}})
    with pytest.raises(SpecError, match="muon_coordinates: mass needs the muon features"):
        train(spec, zmumu, tmp_path / "a2", steps=1, device="cpu", progress=False)
    spec = model_spec(tmp_path, "zmumu_fm17_compact", name="fm_unordered",
                      hyperparameters=SMALL | {"on_shell_muons": False, "leading_muon_first": True,
                                               "muon_coordinates": "cartesian"},
                      training={"selection": None})
    with pytest.raises(SpecError, match="leading_muon_first swaps muon momenta"):
        train(spec, zmumu, tmp_path / "c", steps=1, device="cpu", progress=False)
    spec = model_spec(tmp_path, "zmumu_fm17_compact", name="fm_badspread", hyperparameters=SMALL,
                      training={"selection": None},
                      data={"transforms": {"jet1_pt": [{"name": "spread_zeros", "options": {"width": 0}}]}})
    with pytest.raises(SpecError, match="width"):
        train(spec, zmumu, tmp_path / "b", steps=1, device="cpu", progress=False)


def test_minibatch_ot_pairing_is_the_cheapest_permutation():
    """The pairing of minibatch OT-CFM (Tong et al., arXiv:2302.00482) is the permutation of least total squared
    distance: checked against all 720 permutations of 6 points."""
    import itertools

    gen = torch.Generator().manual_seed(5)
    x0, x1 = torch.randn(6, 3, generator=gen), torch.randn(6, 3, generator=gen) + 1
    perm = ot_pairing(x0, x1)
    cost = ((x0[perm] - x1) ** 2).sum().item()
    best = min(((x0[list(p)] - x1) ** 2).sum().item() for p in itertools.permutations(range(6)))
    assert sorted(perm.tolist()) == list(range(6))
    assert cost == pytest.approx(best, rel=1e-6)
    assert cost < ((x0 - x1) ** 2).sum().item()  # the identity pairing is not already optimal here


def test_cosine_schedule_sets_the_learning_rate_from_the_step(zmumu, tmp_path):
    """lr(step) = lr₀ · ½ (1 + cos(π step / steps)) (Loshchilov & Hutter, arXiv:1608.03983, without restarts)."""
    spec = model_spec(tmp_path, "zmumu_fm17_compact", hyperparameters=SMALL | {"lr_schedule": "cosine",
                                                                                "coupling": "minibatch_ot"},
                      training={"batch_size": 64, "selection": None, "steps": 8})
    result = train(spec, zmumu, tmp_path / "run", steps=3, device="cpu", progress=False)
    lr0 = result.recipe.spec.training.optimizer.lr
    (group,) = result.recipe.optimizers["velocity"].param_groups
    assert group["lr"] == pytest.approx(lr0 * 0.5 * (1 + np.cos(np.pi * 2 / 8)))  # set before the 3rd step (step 2)
    spec = model_spec(tmp_path, "zmumu_fm17_compact", name="fm_epochs",
                      hyperparameters=SMALL | {"lr_schedule": "cosine"},
                      training={"selection": None, "steps": None, "epochs": 2})
    with pytest.raises(SpecError, match="lr_schedule cosine decays over training.steps"):
        train(spec, zmumu, tmp_path / "epochs", device="cpu", progress=False)
