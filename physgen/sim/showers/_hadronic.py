"""A simple parametric model of charged-pion showers (PHYSICS.md §5).

* The pion travels as a minimum-ionising particle to its first inelastic interaction, at a
  depth drawn from an exponential of mean λ_π = (tuned ratio) × λ_int along its track; in a
  calorimeter shallower than ~1.5 λ_int many pions punch through and leave only the track.
  The track deposits the mixture's mean MIP loss per sampling period with a gamma-distributed
  spread (a Landau stand-in), a little of it displaced by δ-rays (exponential radius).
* At the interaction a fraction f_em of the available energy goes into π⁰ → γγ and
  showers electromagnetically (:mod:`._gflash`); ⟨f_em⟩ = 1 − (E/1 GeV)^(m−1) (Groom's power
  law), fluctuating shower to shower (a beta distribution).
* The rest is the hadronic component: only 1/(e/h) of it is visible (nuclear binding,
  neutrons); its longitudinal profile is the λ-term of Bock et al. (1981),
  (x/λ)^(a−1) e^(−d x/λ) with a = 0.6165 + 0.3183 ln E, d = 0.9099 − 0.0237 ln E, and its
  lateral profile is a broad halo, f(r) ∝ 2r R²/(r² + R²)².
Constants marked "tuned" are fitted to Geant4 (:mod:`._tune`).
"""

from __future__ import annotations

import numpy as np

from physgen.sim.showers._gflash import em_spots, spot_count
from physgen.sim.showers._spots import Spots
from physgen.sim.showers._stack import Stack
from physgen.sim.showers._tune import Tune

__all__ = ["pion_spots", "mip_track"]


def mip_track(rng: np.random.Generator, stack: Stack, event: np.ndarray, length_mm: np.ndarray,
              cos_theta: np.ndarray, spread: float, delta_radius: float) -> Spots:
    """Spots every sampling period along straight MIP tracks of ``length_mm`` from the entry point.

    Each spot carries the mixture's mean MIP energy loss over its step times a gamma variate of
    mean 1 and relative width ``spread``; its radius is exponential of mean ``delta_radius`` mm.
    """
    step = float(min(m.period for m in stack.media))
    n = np.ceil(np.maximum(length_mm, 0.0) / step).astype(np.int64)
    owner = np.repeat(np.arange(len(length_mm)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    lo = k * step
    hi = np.minimum(lo + step, length_mm[owner])
    path = 0.5 * (lo + hi)
    shape = 1.0 / spread**2
    energy = stack.mip_loss_at(path * cos_theta[owner]) * (hi - lo) * rng.standard_gamma(shape, len(path)) / shape
    return Spots(event[owner], path, rng.exponential(delta_radius, len(path)), energy)


def pion_spots(rng: np.random.Generator, stack: Stack, energy_mev: np.ndarray, cos_theta: np.ndarray,
               tune: Tune, spots_scale: float = 1.0) -> Spots:
    """Spots of π± showers of ``energy_mev`` (one per event) entering at polar angle θ."""
    pion = tune.pion
    n = len(energy_mev)
    event = np.arange(n)
    exit_path = stack.depth / cos_theta
    interaction = stack.to_mm(rng.exponential(pion.lambda_scale, n), cos_theta, "lambda_int")
    track = mip_track(rng, stack, event, np.minimum(interaction, exit_path), cos_theta, pion.track_step_spread,
                      pion.delta_ray_radius)
    inside = interaction < exit_path
    lost_on_track = np.bincount(track.event, track.energy, minlength=n)
    available = np.where(inside, np.maximum(energy_mev - lost_on_track, 0.0), 0.0)

    energy_gev = np.maximum(energy_mev / 1000.0, 1e-3)
    mean_f_em = np.clip(1.0 - energy_gev ** (pion.f_em_exponent - 1.0), 0.02, 0.98)
    f_em = rng.beta(pion.f_em_concentration * mean_f_em, pion.f_em_concentration * (1.0 - mean_f_em))
    showering = np.flatnonzero(available > 0)
    em = em_spots(rng, stack, showering, (f_em * available)[showering],
                  stack.from_mm(interaction, cos_theta, "X0")[showering], cos_theta[showering], tune.em, spots_scale)

    visible = ((1.0 - f_em) * available / pion.e_over_h)[showering]
    ln_e = np.log(energy_gev[showering])
    a, d = 0.6165 + 0.3183 * ln_e, 0.9099 - 0.0237 * ln_e
    counts = spot_count(visible / 1000.0, pion.hadron_spots_per_gev * spots_scale)
    owner = np.repeat(np.arange(len(showering)), counts)
    start_lambda = stack.from_mm(interaction, cos_theta, "lambda_int")[showering]
    depth = start_lambda[owner] + rng.standard_gamma(np.maximum(a, 0.05)[owner]) / d[owner]
    path = stack.to_mm(depth, cos_theta[showering][owner], "lambda_int")
    u = np.minimum(rng.random(len(owner)), 1.0 - 1e-9)
    halo = pion.hadron_radius * stack.property_at("lambda_int", path * cos_theta[showering][owner])
    hadronic = Spots(showering[owner], path, halo * np.sqrt(u / (1.0 - u)), (visible / counts)[owner])
    return Spots.concat(track, em, hadronic)
