"""A simple parametric model of charged-pion showers (docs/PHYSICS.md §5).

* The pion travels as a minimum-ionising particle to its first inelastic interaction, at a
  depth drawn from an exponential of mean λ_π = (tuned ratio) × λ_int along its track; in a
  calorimeter shallower than ~1.5 λ_int many pions punch through and leave only the track.
  The track deposits the mixture's MIP loss per sampling period, raised by the relativistic rise of a
  GeV pion's mean loss (tuned ``track_loss_scale``: Geant4's punch-through pions leave 1.24 × the minimum),
  with a gamma-distributed spread (a Landau stand-in), a share of it displaced by δ-rays (exponential
  radius), the rest on the track.
* At the interaction a fraction f_em of the available energy goes into π⁰ → γγ and
  showers electromagnetically (:mod:`._gflash`); ⟨f_em⟩ = 1 − (E/1 GeV)^(m−1) (Groom's power
  law), fluctuating shower to shower (a beta distribution). It is shared by a few EM showers
  that leave the interaction point at angles tan θ = p_T/E, so one of them often dominates a
  cell (Geant4's large E_ratio of hadronic showers), instead of one shower on the axis.
* The rest is the hadronic component: only 1/(e/h) of it is visible (nuclear binding,
  neutrons); its longitudinal profile is the λ-term of Bock et al. (1981),
  (x/λ)^(a−1) e^(−d x/λ) with a = 0.6165 + 0.3183 ln E, d = 0.9099 − 0.0237 ln E, smeared by a
  Laplace spread in depth (slow neutrons and photons of the nuclear break-up also go backwards:
  the backsplash into layers in front of the interaction), and its lateral profile is a broad
  halo, f(r) ∝ 2r R²/(r² + R²)².
* A share of the visible hadronic energy is carried by soft photons of the nuclear break-up
  (de-excitation photons of ~MeV): emitted isotropically from points along the hadronic cascade, each
  deposits its energy (exponential spectrum) after an exponential flight. They fill the cells around
  and in front of the cascade with many small deposits (Geant4's π+ hit a median 13 layer-0 strips;
  the parametric cascade's few heavy spots hit 3).
Constants marked "tuned" are fitted to Geant4 (:mod:`._tune`).
"""

from __future__ import annotations

import numba
import numpy as np

from physgen.sim.showers._gflash import em_spots, spot_count
from physgen.sim.showers._spots import Spots
from physgen.sim.showers._stack import Stack
from physgen.sim.showers._tune import Tune

__all__ = ["pion_spots", "mip_track"]


def mip_track(rng: np.random.Generator, stack: Stack, event: np.ndarray, length_mm: np.ndarray,
              cos_theta: np.ndarray, momentum_mev: np.ndarray, spread: float, delta_radius: float,
              delta_share: float, loss_scale: float = 1.0) -> Spots:
    """Spots every sampling period along MIP tracks of ``length_mm`` from the entry point.

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
    """
    step = float(min(m.period for m in stack.media))
    n = np.ceil(np.maximum(length_mm, 0.0) / step).astype(np.int64)
    owner = np.repeat(np.arange(len(length_mm)), n)
    first = np.cumsum(n) - n
    k = np.arange(n.sum()) - np.repeat(first, n)
    lo = k * step
    hi = np.minimum(lo + step, length_mm[owner])
    path = 0.5 * (lo + hi)
    shape = 1.0 / spread**2
    energy = (loss_scale * stack.mip_loss_at(path * cos_theta[owner]) * (hi - lo)
              * rng.standard_gamma(shape, len(path)) / shape)
    theta0 = 13.6 / momentum_mev[owner] * np.sqrt(step / stack.property_at("X0", path * cos_theta[owner]))
    shifts = [_track_sum(_track_sum(theta0 * rng.standard_normal(len(path)), first, n) * step, first, n)
              for _ in range(2)]
    on_track = Spots(event[owner], path, np.zeros(len(path)), (1.0 - delta_share) * energy, *shifts)
    delta = Spots(event[owner], path, rng.exponential(delta_radius, len(path)), delta_share * energy, *shifts)
    return Spots.concat(on_track, delta)


def _track_sum(values: np.ndarray, first: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` along each track (tracks are consecutive runs of ``counts``)."""
    total = np.cumsum(values)
    before = np.where(first > 0, total[np.maximum(first - 1, 0)], 0.0)
    return total - np.repeat(before, counts)


def pion_spots(rng: np.random.Generator, stack: Stack, energy_mev: np.ndarray, cos_theta: np.ndarray,
               tune: Tune, spots_scale: float = 1.0) -> Spots:
    """Spots of π± showers of ``energy_mev`` (one per event) entering at polar angle θ."""
    pion = tune.pion
    n = len(energy_mev)
    event = np.arange(n)
    exit_path = stack.depth / cos_theta
    interaction = stack.to_mm(rng.exponential(pion.lambda_scale, n), cos_theta, "lambda_int")
    track = mip_track(rng, stack, event, np.minimum(interaction, exit_path), cos_theta, energy_mev,
                      pion.track_step_spread, pion.delta_ray_radius, pion.delta_ray_share, pion.track_loss_scale)
    inside = interaction < exit_path
    lost_on_track = np.bincount(track.event, track.energy, minlength=n)
    available = np.where(inside, np.maximum(energy_mev - lost_on_track, 0.0), 0.0)

    energy_gev = np.maximum(energy_mev / 1000.0, 1e-3)
    mean_f_em = np.clip(1.0 - energy_gev ** (pion.f_em_exponent - 1.0), 0.02, 0.98)
    f_em = rng.beta(pion.f_em_concentration * mean_f_em, pion.f_em_concentration * (1.0 - mean_f_em))
    showering = np.flatnonzero(available > 0)
    # the π⁰ energy in 1 + Poisson(k) showers sharing it evenly at random, each leaving the axis at
    # tan θ = p_T/E with p_T exponential of mean ⟨p_T⟩ (the interaction's transverse momenta)
    n_sub = 1 + rng.poisson(pion.pi0_extra_showers, len(showering))
    sub = np.repeat(showering, n_sub)
    split = rng.standard_exponential(len(sub))
    if len(sub):  # (none when every pion of the batch punches through)
        split /= np.repeat(np.add.reduceat(split, np.concatenate([[0], np.cumsum(n_sub)[:-1]])), n_sub)
    e_sub = (f_em * available)[sub] * split
    tan_theta = np.minimum(rng.exponential(pion.secondary_pt * 1000.0, len(sub)) / np.maximum(e_sub, 1.0), 1.0)
    phi = rng.uniform(0.0, 2 * np.pi, len(sub))
    em = em_spots(rng, stack, sub, e_sub, stack.from_mm(interaction, cos_theta, "X0")[sub], cos_theta[sub], tune.em,
                  spots_scale, np.stack([tan_theta * np.cos(phi), tan_theta * np.sin(phi)], axis=1))

    visible = ((1.0 - f_em) * available / pion.e_over_h)[showering]
    ln_e = np.log(energy_gev[showering])
    a, d = 0.6165 + 0.3183 * ln_e, 0.9099 - 0.0237 * ln_e
    counts = spot_count(visible / 1000.0, pion.hadron_spots_per_gev * spots_scale)
    owner = np.repeat(np.arange(len(showering)), counts)
    start_lambda = stack.from_mm(interaction, cos_theta, "lambda_int")[showering]
    depth = (start_lambda[owner] + rng.standard_gamma(np.maximum(a, 0.05)[owner]) / d[owner]
             + rng.laplace(0.0, pion.hadron_depth_spread, len(owner)))
    path = stack.to_mm(depth, cos_theta[showering][owner], "lambda_int")
    u = np.minimum(rng.random(len(owner)), 1.0 - 1e-9)
    halo = pion.hadron_radius * stack.property_at("lambda_int", path * cos_theta[showering][owner])
    soft_share = pion.soft_photon_share
    share = ((1.0 - soft_share) * visible / counts)[owner]
    hadronic = Spots(showering[owner], path, halo * np.sqrt(u / (1.0 - u)), share)
    if soft_share <= 0:
        return Spots.concat(track, em, hadronic)
    return Spots.concat(track, em, hadronic, _soft_photons(rng, stack, showering, start_lambda, a, d,
                                                           soft_share * visible, cos_theta[showering], pion))


def _soft_photons(rng: np.random.Generator, stack: Stack, event: np.ndarray, start_lambda: np.ndarray,
                  a: np.ndarray, d: np.ndarray, energy_mev: np.ndarray, cos_theta: np.ndarray, pion) -> Spots:
    """Deposits of the soft photons of hadronic cascades carrying ``energy_mev`` (per cascade): Poisson
    many of mean energy ``soft_photon_energy`` (exponential), emitted isotropically from depths of the
    cascade's longitudinal profile, absorbed after an exponential flight of mean ``soft_photon_path``."""
    counts = rng.poisson(energy_mev / pion.soft_photon_energy)
    owner = np.repeat(np.arange(len(event)), counts)
    origin = stack.to_mm(start_lambda[owner] + rng.standard_gamma(np.maximum(a, 0.05)[owner]) / d[owner],
                         cos_theta[owner], "lambda_int")
    flight = rng.exponential(pion.soft_photon_path, len(owner))
    cos_dir = rng.uniform(-1.0, 1.0, len(owner))
    spectrum = rng.standard_exponential(len(owner))
    return Spots(*_photon_deposits(event, owner, origin, flight, cos_dir, energy_mev / np.maximum(counts, 1), spectrum))


@numba.njit(cache=True, nogil=True)
def _photon_deposits(event, owner, origin, flight, cos_dir, mean_energy, spectrum):
    """Event, path, radius and energy of photons from ``origin`` (mm along the axis) absorbed after ``flight`` mm
    at polar angle arccos ``cos_dir`` to the axis, with energies ``spectrum`` × their cascade's ``mean_energy``."""
    n = len(owner)
    events, path, radius, energy = np.empty(n, dtype=event.dtype), np.empty(n), np.empty(n), np.empty(n)
    for i in range(n):
        events[i] = event[owner[i]]
        path[i] = origin[i] + flight[i] * cos_dir[i]
        radius[i] = flight[i] * np.sqrt(1.0 - cos_dir[i] ** 2)
        energy[i] = mean_energy[owner[i]] * spectrum[i]
    return events, path, radius, energy
