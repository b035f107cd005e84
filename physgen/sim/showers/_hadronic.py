"""A simple parametric model of charged-pion showers (docs/PHYSICS.md §5).

* The pion travels as a minimum-ionising particle to its first inelastic interaction, at a
  depth drawn from an exponential of mean λ_π = (tuned ratio) × λ_int along its track; in a
  calorimeter shallower than ~1.5 λ_int many pions punch through and leave only the track.
  The track deposits the mixture's MIP loss per sampling period, raised by the relativistic rise of a
  GeV pion's mean loss (tuned ``track_loss_scale``: Geant4's punch-through pions leave 1.24 × the minimum),
  with a gamma-distributed spread (a Landau stand-in), a share of it displaced by δ-rays (exponential
  radius), a share carried off by soft photons (the δ-rays' bremsstrahlung: they light the odd cell beside
  a punch-through track, as in Geant4), the rest on the track.
* The track's loss is Landau-like (tune ``track_delta_cut``): a steady loss from the collisions below the cut and
  the δ-rays above it drawn one by one from the Bethe 1/T² spectrum, which radiate a share T/(T + E_c) as soft
  photons flying a short path; Geant4's punch-through pions show the sharp lower edge and long upper tail.
* A pion's first interaction may be quasi-elastic (tune ``quasi_elastic_share``): the nuclear fragments deposit a
  little energy within mm of the interaction and the pion goes on.
* The interaction need not take all of the pion's energy: a leading hadron may carry a (beta-distributed,
  tuned) share on along the axis as a MIP to a second interaction, which takes the rest (hadron-nucleus
  inelasticity; the quasi-elastic collisions of Geant4's π+ leave a small deposit in layer 1 and a MIP behind).
  Each interaction starts a cascade of the energy it takes, as follows.
* At the interaction a fraction f_em of the available energy goes into π⁰ → γγ and
  showers electromagnetically (:mod:`._gflash`); ⟨f_em⟩ = 1 − (E/1 GeV)^(m−1) (Groom's power
  law), fluctuating shower to shower (a beta distribution). It is shared by a few EM showers
  that leave the interaction point at angles tan θ = p_T/E, so one of them often dominates a
  cell (Geant4's large E_ratio of hadronic showers), instead of one shower on the axis.
  Their spots are drawn a share 1/n at a time (tune ``pi0_spot_copies``), each deposited n times at azimuths
  k/n of a turn apart (:func:`._gflash.em_spots`): the cells see as many deposits from 1/n of the random draws,
  which are most of a π+ shower's time (Geant4's π+ are told apart from the model's no better with n = 4: pion21).
* The rest is the hadronic component: only 1/(e/h) of it is visible (nuclear binding,
  neutrons); its longitudinal profile is the λ-term of Bock et al. (1981),
  (x/λ)^(a−1) e^(−d x/λ) with a = 0.6165 + 0.3183 ln E, d = 0.9099 − 0.0237 ln E, smeared by a
  Laplace spread in depth (slow neutrons and photons of the nuclear break-up also go backwards:
  the backsplash into layers in front of the interaction), and its lateral profile is a broad
  halo, f(r) ∝ 2r R²/(r² + R²)².
* A share of the visible hadronic energy is carried by soft photons of the nuclear break-up
  (de-excitation photons of ~MeV): emitted isotropically from points along the hadronic cascade (its
  profile, with its own Laplace spread in depth: the photons of slow neutrons' reactions come from
  behind and in front of the cascade), each deposits its energy (exponential spectrum) after an
  exponential flight. They fill the cells around and in front of the cascade with many small deposits
  (Geant4's π+ hit a median 13 layer-0 strips; the parametric cascade's few heavy spots hit 3). A tuned
  share of them flies a longer mean path (the capture photons of neutrons that travel tens of cm before
  they are captured): Geant4's showering π+ light up to the whole 12 × 12 grid of layer 1 (90 % quantile
  of its sparsity 0.95), photons of one ~MeV attenuation length alone reach 0.88. They
  are thousands per shower: drawn in one compiled loop, their depths from tabulated gamma quantiles; at
  normal incidence in a ``total`` readout (CaloGAN) they are drawn cell by cell instead, a Poisson count
  and a gamma energy per cell from a table of the cells' probabilities (:mod:`._photon_cells`: the same
  distribution, a tenth of the draws).
Constants marked "tuned" are fitted to Geant4 (:mod:`._tune`).
"""

from __future__ import annotations

import functools

import numba
import numpy as np
from scipy.special import gammaincc, gammaincinv

from physgen.sim.showers._deposit import AZIMUTHS
from physgen.sim.showers._gflash import asymmetric_laplace, em_spots, spot_count
from physgen.sim.showers._photon_cells import PhotonCellTable, origin_rows
from physgen.sim.showers._spots import CellDeposits, SpotParts, Spots
from physgen.sim.showers._stack import Stack
from physgen.sim.showers._tune import Tune

__all__ = ["pion_spots", "mip_track"]


def mip_track(rng: np.random.Generator, stack: Stack, event: np.ndarray, length_mm: np.ndarray,
              cos_theta: np.ndarray, momentum_mev: np.ndarray, spread: float, delta_radius: float,
              delta_share: float, loss_scale: float = 1.0, photon_share: float = 0.0, photon_energy: float = 1.0,
              photon_path: float = 1.0, start_mm: np.ndarray | None = None, delta_cut: float = 0.0,
              delta_photon_path: float = 1.0) -> Spots:
    """Spots every sampling period along MIP tracks of ``length_mm`` from the entry point (or from ``start_mm``
    along the axis: a leading hadron leaving an interaction).

    Each step carries the mixture's minimum-ionising energy loss over it times ``loss_scale`` (a GeV
    pion is not minimum-ionising: the relativistic rise of the Bethe loss, whose δ-rays stay in the
    calorimeter, puts its mean loss in Pb and LAr ≈ 1.2–1.3 × the minimum, PDG 34.2.5 and Groom, Mokhov &
    Striganov, ADNDT 78 (2001) 183) and a gamma variate of mean 1 and relative width ``spread`` (a Landau
    stand-in). Of that, ``delta_share`` goes to δ-rays at an
    exponential radius of mean ``delta_radius`` mm and the rest stays on the track: in the Bethe
    formula each decade of δ-ray energy up to T_max takes an equal share of the loss, so for a GeV
    pion in lead the δ-rays above ~1 MeV (ranges ≳ 1 mm) carry ≈ 40 % of it (PDG 34.2.3–34.2.7)
    and the rest is deposited within microns of the track. A track in a 5 mm strip therefore
    deposits mostly in one strip (Geant4: layer-0 E_ratio ≈ 0.5 for π+), not evenly in two.
    The track itself wanders off the axis by multiple scattering: per step Gaussian angles of
    θ₀ = 13.6 MeV/p · √(step/X0) in x and y (Highland, PDG 34.3), summed into the track's
    transverse position.
    A share ``photon_share`` of the loss leaves as soft photons (the bremsstrahlung of the δ-rays in the
    absorber): Poisson many per step, of exponential energies of mean ``photon_energy`` MeV, absorbed after an
    exponential flight of mean ``photon_path`` mm in an isotropic direction. They light the odd cell away from
    the track: Geant4's punch-through π+ (CaloGAN, < 500 MeV in all) light a median 6 layer-1 cells (4–11
    from the 10 % to the 90 % quantile) with ≈ 0.7 MeV in each cell beyond the track's four.

    With ``delta_cut`` > 0 (MeV) the step's loss is Landau-like instead: the collisions that transfer less than
    ``delta_cut`` give the steady part (mean ``loss_scale`` × the minimum-ionising loss, gamma-distributed with the
    variance ξ x T_cut of those collisions, Bohr), and the δ-rays above it are drawn one by one
    (:func:`delta_rays`, a Poisson number of the 1/T² spectrum up to T_max) and deposited beside the step at an
    exponential radius of mean ``delta_radius``, less the share T/(T + E_c) they radiate as soft photons
    (:func:`isotropic_photons` of ``photon_energy``, flying ``delta_photon_path`` mm, from the δ-ray). Their rare hard ones make the long upper tail of a MIP's loss in a
    thick layer: in CaloGAN's layer 1 (ξ ≈ 10 MeV) a δ-ray above 100 MeV comes with one pion in ten, and Geant4's
    pions that cross without a deep shower deposit 300-1000 MeV in layer 1 (a MIP's ≈ 240 MeV and a δ-ray's
    shower) in ≈ 10 % of the showers. ``spread`` is then unused.
    """
    step = float(min(m.period for m in stack.media))
    n = np.ceil(np.maximum(length_mm, 0.0) / step).astype(np.int64)
    owner = np.repeat(np.arange(len(length_mm)), n)
    first = np.cumsum(n) - n
    k = np.arange(n.sum()) - np.repeat(first, n)
    lo = k * step
    hi = np.minimum(lo + step, length_mm[owner])
    path = 0.5 * (lo + hi) if start_mm is None else start_mm[owner] + 0.5 * (lo + hi)
    mean = loss_scale * stack.mip_loss_at(path * cos_theta[owner]) * (hi - lo)
    if delta_cut > 0:
        xi = stack.xi_at(path * cos_theta[owner]) * (hi - lo)
        shape = np.maximum(mean**2 / (xi * delta_cut), 1e-9)
        energy = rng.standard_gamma(shape) * mean / shape
    else:
        shape = 1.0 / spread**2
        energy = mean * rng.standard_gamma(shape, len(path)) / shape
    theta0 = 13.6 / momentum_mev[owner] * np.sqrt(step / stack.property_at("X0", path * cos_theta[owner]))
    shifts = [_track_sum(_track_sum(theta0 * rng.standard_normal(len(path)), first, n) * step, first, n)
              for _ in range(2)]
    on_track = Spots(event[owner], path, np.zeros(len(path)), (1.0 - delta_share - photon_share) * energy, *shifts)
    delta = Spots(event[owner], path, rng.exponential(delta_radius, len(path)), delta_share * energy, *shifts)
    if delta_cut > 0:
        step_of, hard = delta_rays(rng, xi, delta_cut, delta_ray_t_max(momentum_mev[owner], PION_MASS_MEV))
        where = lo[step_of] + rng.random(len(step_of)) * (hi - lo)[step_of]
        where = where if start_mm is None else start_mm[owner][step_of] + where
        # a δ-ray radiates the share T / (T + E_c) of its energy (bremsstrahlung over ionisation ≈ T / E_c, PDG RPP
        # 2024 §34.4.4), as soft photons flying off its track: they light a few cells together, beside the track
        radiated = hard * hard / (hard + stack.property_at("critical_energy", where * cos_theta[owner][step_of]))
        delta = Spots.concat(delta, Spots(event[owner][step_of], where, rng.exponential(delta_radius, len(step_of)),
                                          hard - radiated, shifts[0][step_of], shifts[1][step_of]),
                             isotropic_photons(rng, event[owner][step_of], where, radiated, photon_energy,
                                               delta_photon_path, shifts[0][step_of], shifts[1][step_of]))
    if photon_share <= 0:
        return Spots.concat(on_track, delta)
    photons = isotropic_photons(rng, event[owner], path, photon_share * energy, photon_energy, photon_path, *shifts)
    return Spots.concat(on_track, delta, photons)


def isotropic_photons(rng: np.random.Generator, event: np.ndarray, path: np.ndarray, energy_mev: np.ndarray,
                      photon_energy: float, flight_mm: float, shift_x: np.ndarray | None = None,
                      shift_y: np.ndarray | None = None, far_share: float = 0.0, far_flight_mm: float = 1.0) -> Spots:
    """Deposits of soft photons carrying ``energy_mev`` from each point at ``path`` (mm along the axis, shifted off
    it by ``shift_x``, ``shift_y``): Poisson many of exponential energies of mean ``photon_energy`` MeV, absorbed
    after an exponential flight of mean ``flight_mm`` (a share ``far_share`` of them: ``far_flight_mm``) in an
    isotropic direction."""
    of = np.repeat(np.arange(len(path)), rng.poisson(energy_mev / photon_energy))
    flight, cos_dir = rng.exponential(flight_mm, len(of)), rng.uniform(-1.0, 1.0, len(of))
    if far_share > 0:
        flight = np.where(rng.random(len(of)) < far_share, flight * (far_flight_mm / flight_mm), flight)
    return Spots(event[of], path[of] + flight * cos_dir, flight * np.sqrt(1.0 - cos_dir**2),
                 rng.exponential(photon_energy, len(of)), None if shift_x is None else shift_x[of],
                 None if shift_y is None else shift_y[of])


PION_MASS_MEV = 139.57039
"""Charged-pion mass (PDG RPP 2024)."""

ELECTRON_MASS_MEV = 0.51099895
"""Electron mass (PDG RPP 2024)."""


def delta_ray_t_max(momentum_mev: np.ndarray, mass_mev: float) -> np.ndarray:
    """Largest kinetic energy (MeV) a particle of ``momentum_mev`` and ``mass_mev`` gives a free electron:
    T_max = 2 m_e c² β²γ² / (1 + 2γ m_e/M + (m_e/M)²) (PDG RPP 2024, Eq. 34.4)."""
    bg = np.asarray(momentum_mev, dtype=np.float64) / mass_mev
    ratio = ELECTRON_MASS_MEV / mass_mev
    return 2.0 * ELECTRON_MASS_MEV * bg**2 / (1.0 + 2.0 * np.sqrt(1.0 + bg**2) * ratio + ratio**2)


def delta_rays(rng: np.random.Generator, xi: np.ndarray, t_cut: float, t_max: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """The δ-rays above ``t_cut`` of steps of ξ·x = ``xi`` (MeV) each: (the step of each δ-ray, its kinetic energy
    in MeV). Per step a Poisson number of mean ξx (1/T_cut − 1/T_max), energies from dN/dT = ξx / T² between the
    cut and ``t_max`` (per step) by inversion, T = 1 / (1/T_cut − u (1/T_cut − 1/T_max)): the Bethe spectrum of
    close collisions at β = 1 without its spin term (1 − β² T/T_max) (PDG RPP 2024, Eq. 34.11)."""
    span = np.maximum(1.0 / t_cut - 1.0 / np.maximum(t_max, t_cut), 0.0)
    step_of = np.repeat(np.arange(len(xi)), rng.poisson(xi * span))
    return step_of, 1.0 / (1.0 / t_cut - rng.random(len(step_of)) * span[step_of])


def _track_sum(values: np.ndarray, first: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` along each track (tracks are consecutive runs of ``counts``)."""
    total = np.cumsum(values)
    before = np.where(first > 0, total[np.maximum(first - 1, 0)], 0.0)
    return total - np.repeat(before, counts)


def pion_spots(rng: np.random.Generator, stack: Stack, energy_mev: np.ndarray, cos_theta: np.ndarray,
               tune: Tune, spots_scale: float = 1.0, photon_cells: PhotonCellTable | None = None) -> SpotParts:
    """Spots of π± showers of ``energy_mev`` (one per event) entering at polar angle θ; with ``photon_cells``
    (normal incidence, ``total`` readout) the soft photons come as cell deposits drawn from that table."""
    pion = tune.pion
    track, showering, interaction, available = _interaction_chain(rng, stack, energy_mev, cos_theta, pion)
    cos_shower = cos_theta[showering]

    energy_gev = np.maximum(available / 1000.0, 1e-3)
    mean_f_em = np.clip(1.0 - energy_gev ** (pion.f_em_exponent - 1.0), 0.02, 0.98)
    f_em = rng.beta(pion.f_em_concentration * mean_f_em, pion.f_em_concentration * (1.0 - mean_f_em))
    # the π⁰ energy in 1 + Poisson(k) showers sharing it evenly at random, each leaving the axis at
    # tan θ = p_T/E with p_T exponential of mean ⟨p_T⟩ (the interaction's transverse momenta)
    n_sub = 1 + rng.poisson(pion.pi0_extra_showers, len(showering))
    sub = np.repeat(np.arange(len(showering)), n_sub)
    split = rng.standard_exponential(len(sub))
    if len(sub):  # (none when every pion of the batch punches through)
        split /= np.repeat(np.add.reduceat(split, np.concatenate([[0], np.cumsum(n_sub)[:-1]])), n_sub)
    e_sub = (f_em * available)[sub] * split
    tan_theta = np.minimum(rng.exponential(pion.secondary_pt * 1000.0, len(sub)) / np.maximum(e_sub, 1.0), 1.0)
    phi = rng.uniform(0.0, 2 * np.pi, len(sub))
    em = em_spots(rng, stack, showering[sub], e_sub, stack.from_mm(interaction, cos_shower, "X0")[sub],
                  cos_shower[sub], tune.em, spots_scale,
                  np.stack([tan_theta * np.cos(phi), tan_theta * np.sin(phi)], axis=1), copies=pion.pi0_spot_copies)

    visible = (1.0 - f_em) * available / pion.e_over_h
    ln_e = np.log(energy_gev)
    a, d = 0.6165 + 0.3183 * ln_e, 0.9099 - 0.0237 * ln_e
    counts = spot_count(visible / 1000.0, pion.hadron_spots_per_gev * spots_scale)
    owner = np.repeat(np.arange(len(showering)), counts)
    start_lambda = stack.from_mm(interaction, cos_shower, "lambda_int")
    depth = (start_lambda[owner] + _gamma_variates(rng, *_gamma_quantiles(a), owner) / d[owner]
             + asymmetric_laplace(rng, pion.hadron_backward_spread or pion.hadron_depth_spread,
                                pion.hadron_depth_spread, len(owner)))
    path = stack.to_mm(depth, cos_shower[owner], "lambda_int")
    u = np.minimum(rng.random(len(owner)), 1.0 - 1e-9)
    halo = pion.hadron_radius * stack.property_at("lambda_int", path * cos_shower[owner])
    soft_share = pion.soft_photon_share
    share = ((1.0 - soft_share) * visible / counts)[owner]
    hadronic = Spots(showering[owner], path, halo * np.sqrt(u / (1.0 - u)), share)
    if soft_share <= 0:
        return Spots.concat(track, em, hadronic)
    if photon_cells is not None:
        photons = _soft_photon_cells(rng, stack, photon_cells, showering, start_lambda, a, d, soft_share * visible,
                                     pion)
    else:
        photons = _soft_photons(rng, stack, showering, start_lambda, a, d, soft_share * visible, cos_shower, pion)
    return Spots.concat(track, em, hadronic, photons)


def _interaction_chain(rng: np.random.Generator, stack: Stack, energy_mev: np.ndarray, cos_theta: np.ndarray, pion
                       ) -> tuple[Spots, np.ndarray, np.ndarray, np.ndarray]:
    """The pions' MIP tracks and their hadronic cascades: (track spots, each cascade's event, its start along the
    track in mm, its energy in MeV).

    A pion travels as a MIP to an inelastic interaction at an exponential depth of mean ``lambda_scale`` λ_int.
    With ``leading_share`` > 0 the interaction does not take all of its energy: a leading hadron carries a share
    (a beta variate of that mean and concentration ``leading_share_concentration``) on along the axis, as a MIP
    (its multiple scattering restarts on the axis), to a second interaction (an exponential depth further) that
    takes all that is left. Hadron-nucleus collisions keep a leading particle, from quasi-elastic ones that take a
    few % of the energy to those that take it all (the leading-particle effect; inelasticity ≈ 0.5 on average,
    Wigmans, Calorimetry, 2nd ed. 2017, ch. 2). Geant4's π+ in the CaloGAN stack (shipped geant4_calogan_piplus,
    first 1000 showers) show the quasi-elastic ones: 10 % of them deposit 0.3–1 GeV in layer 1 and under 150 MeV
    in layer 2 (a MIP's ≈ 40 MeV and little else), against 1.6 % of the model's with one interaction per pion.

    With ``quasi_elastic_share`` > 0 a pion's first interaction is, with that probability, quasi-elastic: the target
    nucleus breaks up and its fragments (protons, α, recoils of a few to tens of MeV, ranges of mm) deposit a visible
    energy drawn from an exponential of mean ``quasi_elastic_energy`` (MeV) beside the interaction point
    (:func:`_local_deposits`), the pion loses that times e/h (the break-up's binding energy and neutrons) and goes on
    as a MIP with the rest to its next interaction. In Geant4's π+ above 10 GeV (shipped geant4_calogan_piplus)
    10 % of the showers put 300-1000 MeV in layer 1, 0.58 cells wide (the track alone: 0.5, centred on a corner),
    and only a MIP's ≈ 30 MeV in layer 2."""
    exit_path = stack.depth / cos_theta
    event, start, energy = np.arange(len(energy_mev)), np.zeros(len(energy_mev)), energy_mev
    first = np.ones(len(energy_mev), dtype=bool)  # no interaction yet (a quasi-elastic one is possible)
    hard = np.zeros(len(energy_mev), dtype=bool)  # a hard interaction with its leading hadron came before
    tracks, cascades = [], []
    while len(event):
        start_lambda = stack.from_mm(start, cos_theta[event], "lambda_int")
        interaction = stack.to_mm(start_lambda + rng.exponential(pion.lambda_scale, len(event)), cos_theta[event],
                                  "lambda_int")
        track = mip_track(rng, stack, event, np.minimum(interaction, exit_path[event]) - start, cos_theta[event],
                          energy, pion.track_step_spread, pion.delta_ray_radius, pion.delta_ray_share,
                          pion.track_loss_scale, pion.track_photon_share, pion.soft_photon_energy,
                          pion.soft_photon_path, start, pion.track_delta_cut, pion.delta_ray_photon_path)
        tracks.append(track)
        lost = np.bincount(track.event, track.energy, minlength=len(energy_mev))[event]
        available = np.where(interaction < exit_path[event], np.maximum(energy - lost, 0.0), 0.0)
        quasi = np.zeros(len(event), dtype=bool)
        if pion.quasi_elastic_share > 0:
            quasi = first & (available > 0) & (rng.random(len(event)) < pion.quasi_elastic_share)
        left = np.zeros(len(event))
        if quasi.any():
            visible = np.minimum(rng.exponential(pion.quasi_elastic_energy, int(quasi.sum())),
                                 available[quasi] / pion.e_over_h)
            left[quasi] = available[quasi] - visible * pion.e_over_h
            tracks.append(_local_deposits(rng, event[quasi], interaction[quasi], visible, pion))
        split = ~quasi & ~hard if pion.leading_share > 0 else np.zeros(len(event), dtype=bool)
        if split.any():
            mean, concentration = pion.leading_share, pion.leading_share_concentration
            left[split] = available[split] * rng.beta(concentration * mean, concentration * (1.0 - mean),
                                                      int(split.sum()))
        showering = ~quasi & (available - left > 0)
        cascades.append((event[showering], interaction[showering], (available - left)[showering]))
        going_on = left > 0
        event, start, energy = event[going_on], interaction[going_on], left[going_on]
        first, hard = np.zeros(len(event), dtype=bool), ~quasi[going_on]
    return (Spots.concat(*tracks), *(np.concatenate(parts) for parts in zip(*cascades)))


LOCAL_SPOTS = 4
"""Spots of one quasi-elastic interaction's local deposit."""


def _local_deposits(rng: np.random.Generator, event: np.ndarray, path: np.ndarray, energy_mev: np.ndarray,
                    pion) -> SpotParts:
    """What quasi-elastic interactions at ``path`` (mm along the axis) leave visible, ``energy_mev`` each: a share
    ``soft_photon_share`` as the nuclear break-up's soft photons (:func:`isotropic_photons`, flights and energies as
    the cascades'), the rest as the fragments' deposit, :data:`LOCAL_SPOTS` equal spots per interaction at an
    exponential radius of mean ``quasi_elastic_radius`` mm with a normal spread in depth of that sd (the fragments
    stop within mm: a 50 MeV proton's CSDA range in lead is 3.4 g/cm² ≈ 3 mm, NIST PSTAR)."""
    owner = np.repeat(np.arange(len(event)), LOCAL_SPOTS)
    n, radius = len(owner), pion.quasi_elastic_radius
    fragments = Spots(event[owner], path[owner] + rng.normal(0.0, radius, n), rng.exponential(radius, n),
                      (1.0 - pion.soft_photon_share) * energy_mev[owner] / LOCAL_SPOTS)
    photons = isotropic_photons(rng, event, path, pion.soft_photon_share * energy_mev, pion.soft_photon_energy,
                                pion.soft_photon_path, far_share=pion.soft_photon_far_share,
                                far_flight_mm=pion.soft_photon_far_path)
    return Spots.concat(fragments, photons)


def _soft_photons(rng: np.random.Generator, stack: Stack, event: np.ndarray, start_lambda: np.ndarray,
                  a: np.ndarray, d: np.ndarray, energy_mev: np.ndarray, cos_theta: np.ndarray, pion) -> Spots:
    """Deposits of the soft photons of hadronic cascades carrying ``energy_mev`` (per cascade): Poisson
    many of mean energy ``soft_photon_energy`` (exponential), emitted isotropically from depths of the
    cascade's longitudinal profile spread by a Laplace distribution of scale ``soft_photon_depth_spread``,
    absorbed after an exponential flight of mean ``soft_photon_path`` (a binomial share
    ``soft_photon_far_share`` of them: ``soft_photon_far_path``).

    They are thousands per shower, so they are drawn in one compiled loop: the depth of each from the
    tabulated quantiles of its cascade's gamma profile (:func:`_gamma_quantile_table`, a uniform draw and
    an interpolation in place of a gamma variate), and their azimuths come with them (no draw at deposit)."""
    table, tail, row, weight = _gamma_quantiles(a)
    z, units = stack.depth_map("lambda_int")
    counts = rng.poisson(energy_mev / pion.soft_photon_energy)
    far = rng.binomial(counts, pion.soft_photon_far_share) if pion.soft_photon_far_share > 0 else np.zeros_like(counts)
    events, path, radius, energy, azimuth = _photon_deposits(
        rng, event, counts, far, start_lambda, d, cos_theta, energy_mev / np.maximum(counts, 1), pion.soft_photon_path,
        pion.soft_photon_far_path, pion.soft_photon_depth_spread, table, tail, row, weight, units, z)
    return Spots(events, path, radius, energy, azimuth=azimuth)


def _soft_photon_cells(rng: np.random.Generator, stack: Stack, table: PhotonCellTable, event: np.ndarray,
                       start_lambda: np.ndarray, a: np.ndarray, d: np.ndarray, energy_mev: np.ndarray, pion
                       ) -> CellDeposits:
    """The soft photons of :func:`_soft_photons` at normal incidence, drawn cell by cell from ``table``
    (:mod:`._photon_cells`): the same origins, flights and energies in distribution, a few draws per cell
    instead of five per photon."""
    table_q, tail, row, weight = _gamma_quantiles(a)
    edges_lambda = stack.from_mm(table.origin_edges, np.ones(len(table.origin_edges)), "lambda_int")
    step = float(np.min(np.diff(edges_lambda)))
    fine = np.arange(int(np.ceil(edges_lambda[-1] / step - 1e-9)) + 1) * step
    masses, front = _origin_masses(table_q, tail, row, weight, start_lambda, d, pion.soft_photon_depth_spread, fine,
                                   edges_lambda)
    return table.draw(rng, event, origin_rows(table, masses, front), energy_mev, pion.soft_photon_energy)


@numba.njit(cache=True, nogil=True)
def _origin_masses(table, tail, row, weight, start, d, spread, fine, edges):
    """Per cascade, the probability that a soft photon's origin (λ_int from the front: start + Γ(a)/d plus a
    Laplace variate of scale ``spread``, as :func:`_photon_deposits` draws it, Γ from the same quantile table)
    lies in each bin between ``edges`` (cascades × bins), and in front of the calorimeter (moved to its front
    face, as there). The Laplace convolution is done on the uniform grid ``fine`` (λ_int from 0), on which the
    gamma part is put as a point mass per bin at its centre, by two recursive exponential filters."""
    n_fine = len(fine) - 1
    h = fine[1] - fine[0]
    n_q = table.shape[1]
    masses = np.zeros((len(start), len(edges) - 1))
    front = np.zeros(len(start))
    gamma_mass, spread_mass, cdf = np.empty(n_fine), np.empty(n_fine), np.empty(n_fine + 1)
    # a point mass at a bin centre puts 1 − e^(−h/2b) in its own bin and side · r^|m| in the bin m away
    r, centre, side = 0.0, 1.0, 0.0
    if spread > 0:
        r = np.exp(-h / spread)
        centre, side = 1.0 - np.exp(-h / (2.0 * spread)), 0.5 * np.exp(h / (2.0 * spread)) * (1.0 - r)
    for c in range(len(start)):
        j, w = row[c], weight[c]
        tail_mean = (1.0 - w) * tail[j] + w * tail[j + 1]
        k, before = 0, 0.0
        for i in range(n_fine + 1):  # the tabulated gamma's cdf at the fine edges (linear between quantiles)
            g = (fine[i] - start[c]) * d[c]
            if g <= 0.0:
                now = 0.0
            else:
                while k < n_q - 1 and (1.0 - w) * table[j, k + 1] + w * table[j + 1, k + 1] <= g:
                    k += 1
                low = (1.0 - w) * table[j, k] + w * table[j + 1, k]
                if k == n_q - 1:
                    now = 1.0 - np.exp(-(g - low) / tail_mean) / n_q
                else:
                    high = (1.0 - w) * table[j, k + 1] + w * table[j + 1, k + 1]
                    now = (k + (g - low) / (high - low)) / n_q
            if i > 0:
                gamma_mass[i - 1] = now - before
            before = now
        if spread > 0:  # forward and backward exponential filters; what passes the front face moves onto it
            ahead = 0.0
            for i in range(n_fine):
                spread_mass[i] = centre * gamma_mass[i] + side * ahead
                ahead = r * (ahead + gamma_mass[i])
            behind = 0.0
            for i in range(n_fine - 1, -1, -1):
                spread_mass[i] += side * behind
                behind = r * (behind + gamma_mass[i])
                front[c] += 0.5 * gamma_mass[i] * np.exp(-(i + 0.5) * h / spread)
        else:
            spread_mass[:] = gamma_mass
        cdf[0] = 0.0
        for i in range(n_fine):
            cdf[i + 1] = cdf[i] + spread_mass[i]
        m = 0
        previous = 0.0
        for b in range(len(edges)):  # the cdf at the bin edges, linear within fine bins
            x = min(edges[b], fine[-1])
            while m < n_fine - 1 and fine[m + 1] <= x:
                m += 1
            now = cdf[m] + (x - fine[m]) / h * spread_mass[m]
            if b > 0:
                masses[c, b - 1] = now - previous
            previous = now
    return masses, front


_GAMMA_SHAPES = np.exp(np.linspace(np.log(0.05), np.log(4.0), 128))
"""Shapes a of the tabulated standard-gamma quantiles (log-spaced): the Bock profile's a = 0.6165 + 0.3183 ln E
(floored at 0.05) stays below 4 up to 40 TeV; larger shapes are clipped to 4."""

_GAMMA_QUANTILES = 1024
"""Quantiles per tabulated shape, at u = k / 1024."""


@functools.cache
def _gamma_quantile_table() -> tuple[np.ndarray, np.ndarray]:
    """Standard-gamma quantiles (shapes × u = k/1024, k < 1024) and, per shape, the mean excess beyond the last
    one, E[X − x | X > x] = a Q(a + 1, x) / Q(a, x) − x (Q the regularised upper incomplete gamma function): the
    top 1/1024 of the distribution is drawn as that quantile plus an exponential of that mean."""
    u = np.arange(_GAMMA_QUANTILES) / _GAMMA_QUANTILES
    a = _GAMMA_SHAPES[:, None]
    table = gammaincinv(a, u[None, :])
    last = table[:, -1]
    tail = _GAMMA_SHAPES * gammaincc(_GAMMA_SHAPES + 1.0, last) / gammaincc(_GAMMA_SHAPES, last) - last
    return table, tail


def _gamma_quantiles(shape: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The quantile table, its tail means and, per ``shape``, the table row below it and the weight of the row
    above (linear in ln a)."""
    table, tail = _gamma_quantile_table()
    x = np.interp(np.log(np.clip(shape, _GAMMA_SHAPES[0], _GAMMA_SHAPES[-1])), np.log(_GAMMA_SHAPES),
                  np.arange(len(_GAMMA_SHAPES), dtype=float))
    row = np.minimum(x.astype(np.int64), len(_GAMMA_SHAPES) - 2)
    return table, tail, row, x - row


@numba.njit(cache=True, nogil=True)
def _tabulated_gamma(table, tail, row, weight, u):
    """The standard-gamma quantile at ``u`` of the shape between table rows ``row`` and ``row + 1`` (``weight`` of the
    second): linear in u between tabulated quantiles; in the top one, its lower edge plus an exponential of the
    tail's mean excess (n − u n is uniform on (0, 1] there)."""
    n = table.shape[1]
    s = u * n
    k = np.int64(s)
    low = (1.0 - weight) * table[row, k] + weight * table[row + 1, k]
    if k == n - 1:
        return low - ((1.0 - weight) * tail[row] + weight * tail[row + 1]) * np.log(n - s)
    high = (1.0 - weight) * table[row, k + 1] + weight * table[row + 1, k + 1]
    return low + (s - k) * (high - low)


@numba.njit(cache=True, nogil=True)
def _gamma_variates(rng, table, tail, row, weight, owner):
    """One standard-gamma variate per entry of ``owner``, of the shape of its row (:func:`_gamma_quantiles`)."""
    out = np.empty(len(owner))
    for i in range(len(owner)):
        out[i] = _tabulated_gamma(table, tail, row[owner[i]], weight[owner[i]], rng.random())
    return out


@numba.njit(cache=True, nogil=True)
def _photon_deposits(rng, event, counts, far, start_lambda, d, cos_theta, mean_energy, mean_flight, far_flight,
                     depth_spread, table, tail, row, weight, units, z):
    """Event, path, radius, energy and azimuth (turns) of ``counts`` photons per cascade: emitted from the
    cascade's depth profile start + Γ(a)/d (λ_int along its axis; Γ from the quantile table, rows ``row`` and
    ``row + 1`` mixed by ``weight``) plus a Laplace variate of scale ``depth_spread`` λ_int (an origin in
    front of the calorimeter is moved to its front face; to mm by the depth map ``units`` → ``z``), absorbed
    after an exponential flight of mean ``mean_flight`` mm (the first ``far`` of a cascade's photons:
    ``far_flight``) in an isotropic direction, with exponential
    energies of the cascade's ``mean_energy``. One uniform draw gives the direction and the sign of the
    Laplace variate: its top 12 bits the azimuth (one of the readout's AZIMUTHS), the next bit the sign, the
    rest (40 bits) cos θ to the axis."""
    n = counts.sum()
    events, path, radius, energy, azimuth = (np.empty(n, dtype=event.dtype), np.empty(n), np.empty(n), np.empty(n),
                                             np.empty(n))
    i = 0
    for c in range(len(counts)):
        j, w = row[c], weight[c]
        for q in range(counts[c]):
            direction = rng.random() * (2 * AZIMUTHS)
            bits = np.int64(direction)
            cos_dir = 2.0 * (direction - bits) - 1.0
            depth = start_lambda[c] + _tabulated_gamma(table, tail, j, w, rng.random()) / d[c]
            if depth_spread > 0:  # a Laplace variate: an exponential of either sign
                depth += depth_spread * rng.standard_exponential() * (1.0 if bits & 1 else -1.0)
            x = max(depth, 0.0) * cos_theta[c]
            m = 1
            while m < len(units) - 1 and units[m] < x:
                m += 1
            origin = (z[m - 1] + (x - units[m - 1]) * (z[m] - z[m - 1]) / (units[m] - units[m - 1])) / cos_theta[c]
            flight = (far_flight if q < far[c] else mean_flight) * rng.standard_exponential()
            events[i] = event[c]
            path[i] = origin + flight * cos_dir
            radius[i] = flight * np.sqrt(1.0 - cos_dir * cos_dir)
            energy[i] = mean_energy[c] * rng.standard_exponential()
            azimuth[i] = ((bits >> 1) + 0.5) / AZIMUTHS
            i += 1
    return events, path, radius, energy, azimuth
