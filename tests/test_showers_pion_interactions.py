"""Known answers for the pion track's δ-rays and the quasi-elastic interactions of the π± shower model
(physgen/sim/showers/_hadronic.py): each against the formula it encodes, with its source."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.sim import build_simulator
from physgen.sim.showers._hadronic import (
    ELECTRON_MASS_MEV,
    PION_MASS_MEV,
    _interaction_chain,
    delta_ray_t_max,
    delta_rays,
    mip_track,
)
from physgen.sim.showers._gflash import asymmetric_laplace
from physgen.sim.showers._stack import landau_xi
from physgen.specs import Material
from physgen.store import resolve_dataset


def _pion_simulator():
    return build_simulator(resolve_dataset("specs/datasets/calogan_piplus.yaml"))


def test_t_max_is_the_head_on_elastic_collision():
    """PDG Eq. 34.4 against the kinematics it comes from: a pion scattering backwards off a free electron at rest in
    their centre-of-mass frame gives the electron its largest kinetic energy (boost of the reversed CM momentum)."""
    for p in (200.0, 1e3, 1e4, 1e5):
        e = np.hypot(p, PION_MASS_MEV)
        s = PION_MASS_MEV**2 + ELECTRON_MASS_MEV**2 + 2 * ELECTRON_MASS_MEV * e
        p_cm = p * ELECTRON_MASS_MEV / np.sqrt(s)  # the electron's CM momentum (it moves against the pion)
        gamma, beta_gamma = (e + ELECTRON_MASS_MEV) / np.sqrt(s), p / np.sqrt(s)
        e_lab = gamma * np.hypot(p_cm, ELECTRON_MASS_MEV) + beta_gamma * p_cm  # reversed: along the boost
        assert delta_ray_t_max(np.array([p]), PION_MASS_MEV)[0] == pytest.approx(e_lab - ELECTRON_MASS_MEV, rel=1e-9)


def test_landau_xi_of_lead():
    """ξ/x = (K/2)(Z/A)ρ = 0.1535 (Z/A) ρ MeV cm²/g (PDG RPP 2024 §34.2.9, K = 0.307075 MeV cm²/mol): 0.0690 MeV/mm
    in lead (Z/A = 82/207.2, ρ = 11.35 g/cm³)."""
    lead = Material(name="Pb", Z=82, A=207.2, density="11.35 g/cm^3", X0="0.5612 cm", moliere_radius="1.602 cm",
                    critical_energy="7.43 MeV", lambda_int="17.59 cm")
    assert landau_xi(lead) == pytest.approx(0.1535 * 82 / 207.2 * 11.35 / 10, rel=1e-3)


def test_delta_rays_follow_the_bethe_spectrum():
    """dN/dT = ξx/T² between T_cut and T_max: mean count ξx (1/T_cut − 1/T_max), mean energy ξx ln(T_max/T_cut),
    share above T: (1/T − 1/T_max)/(1/T_cut − 1/T_max) (PDG RPP 2024, Eq. 34.11 at β = 1)."""
    rng = np.random.default_rng(3)
    xi, t_cut, t_max, steps = 0.5, 1.0, 2000.0, 200_000
    step_of, energy = delta_rays(rng, np.full(steps, xi), t_cut, np.full(steps, t_max))
    expected = xi * (1 / t_cut - 1 / t_max) * steps
    assert len(energy) == pytest.approx(expected, abs=5 * np.sqrt(expected))
    assert energy.min() >= t_cut and energy.max() <= t_max and np.all(np.diff(step_of) >= 0)
    for t in (3.0, 30.0, 300.0):
        share = (1 / t - 1 / t_max) / (1 / t_cut - 1 / t_max)
        assert np.mean(energy > t) == pytest.approx(share, abs=5 * np.sqrt(share / len(energy)))
    # the mean energy per step (the spectrum stops at T_max, so its mean converges)
    assert energy.sum() / steps == pytest.approx(xi * np.log(t_max / t_cut), rel=0.05)


def test_mip_track_with_delta_rays_keeps_its_steady_loss_and_adds_the_spectrum():
    """With ``delta_cut``: per track the steady loss has mean loss_scale × ⟨dE/dx⟩_min × L and the variance of the
    collisions below the cut, ξ L T_cut (Bohr); the δ-rays add ξ L ln(T_max/T_cut) on average; energy is conserved
    between the track, the δ-rays and their radiated photons."""
    sim = _pion_simulator()
    stack, n, length = sim.stack, 3000, 80.0  # 80 mm of CaloGAN's Pb/LAr, in layer 0
    rng = np.random.default_rng(5)
    spots = mip_track(rng, stack, np.arange(n), np.full(n, length), np.ones(n), np.full(n, 1e4), 0.8, 0.1, 0.0,
                      delta_cut=1.0, delta_photon_path=25.0)
    steady = np.bincount(spots.parts[0].event, spots.parts[0].energy, minlength=n)
    xi_l = float(stack.xi[0]) * length
    assert steady.mean() == pytest.approx(float(stack.mip_loss[0]) * length, rel=0.01)
    assert steady.var() == pytest.approx(xi_l * 1.0, rel=0.1)
    total = np.bincount(spots.event, spots.energy, minlength=n)
    t_max = delta_ray_t_max(np.array([1e4]), PION_MASS_MEV)[0]
    # median rather than mean (the 1/T² tail): the δ-ray sum's median lies below its mean ξ L ln(T_max/T_cut)
    assert np.median(total - steady) < xi_l * np.log(t_max) < np.mean(total - steady) * 1.5
    assert np.percentile(total, 99) > steady.mean() + 10 * np.sqrt(xi_l)  # the Landau tail the gamma lacked


def test_asymmetric_laplace_puts_its_share_behind():
    """Density exp(−x/f) ahead and exp(x/b) behind over f + b (the hadronic depth spread, and the EM halo's): a share
    b/(f + b) behind, means f and −b."""
    rng = np.random.default_rng(2)
    x = asymmetric_laplace(rng, 0.05, 0.2, 200_000)
    assert np.mean(x < 0) == pytest.approx(0.05 / 0.25, abs=0.005)
    assert x[x > 0].mean() == pytest.approx(0.2, rel=0.02) and x[x < 0].mean() == pytest.approx(-0.05, rel=0.02)


def test_quasi_elastic_interactions_leave_a_local_deposit_and_the_pion_goes_on():
    """With the track quiet: a share q of the pions' first interactions is quasi-elastic; it deposits ε (exponential,
    mean quasi_elastic_energy) within mm of the interaction, the pion goes on with E − e/h · ε to a deeper
    interaction that takes the rest; energy is conserved."""
    sim = _pion_simulator()
    n, energy, q, eps = 6000, 5e4, 0.4, 300.0
    quiet = {"track_loss_scale": 1e-12, "track_photon_share": 0.0, "leading_share": 0.0, "track_delta_cut": 0.0,
             "delta_ray_share": 0.0,
             "quasi_elastic_share": q, "quasi_elastic_energy": eps, "soft_photon_share": 0.0}
    pion = sim.tune.pion.model_copy(update=quiet)
    spots, event, start, cascade = _interaction_chain(np.random.default_rng(4), sim.stack, np.full(n, energy),
                                                      np.ones(n), pion)
    local = (spots.radius > 0) & (spots.energy > 0)  # the track: on the axis, or its (switched off) δ-rays
    assert spots.radius[local].mean() == pytest.approx(pion.quasi_elastic_radius, rel=0.05)
    deposit = np.bincount(spots.event[local], spots.energy[local], minlength=n)
    quasi = deposit > 0
    interacted = np.isin(np.arange(n), event) | quasi
    assert np.mean(quasi[interacted]) == pytest.approx(q, abs=0.03)
    assert deposit[quasi].mean() == pytest.approx(eps, rel=0.05)
    taken = np.bincount(event, cascade, minlength=n)
    went_on = quasi & (taken > 0)
    assert taken[went_on] + pion.e_over_h * deposit[went_on] == pytest.approx(np.full(went_on.sum(), energy), rel=1e-9)
    assert np.all(np.bincount(event, minlength=n) <= 1)  # no leading hadron: one cascade per pion at most
