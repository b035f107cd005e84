"""GFlash parametrisation of electromagnetic showers (docs/PHYSICS.md §4).

After Grindhammer, Rudowicz & Peters, NIM A290 (1990) 469 and Grindhammer & Peters,
hep-ex/0001020, as implemented in Geant4's ``GFlashSamplingShowerParameterisation``:

* per shower, (ln T, ln α) of the gamma longitudinal profile are correlated normals whose
  means, widths and correlation depend on ln y, y = E/E_c, with the sampling-calorimeter
  corrections in F_s and ê;
* spots are drawn from their own, slightly earlier gamma profile (T_s, α_s) and weighted by
  the ratio of the energy profile to the spot profile, so that the energy per depth follows
  (T, α) exactly in expectation — the vectorised equivalent of GFlash's step-wise
  ``dE / N_spots`` per step;
* radii come from the two-component (core + tail) radial profile, in Molière radii.

Everything is vectorised over showers and spots; no Python loop runs per shower.
"""

from __future__ import annotations

import numpy as np

from physgen.geometry import SamplingMedium
from physgen.sim.showers._spots import Spots
from physgen.sim.showers._stack import Stack

__all__ = ["shower_shape", "radial_parameters", "sample_radius", "spot_count", "em_spots",
           "PHOTON_CONVERSION_X0"]

PHOTON_CONVERSION_X0 = 9.0 / 7.0
"""Mean depth (X0) at which a photon converts: the pair-production mean free path."""

_MIN_LN_Y = 3.0
"""ln(E/E_c) below which the parametrisation is frozen (GFlash is fitted above ~ 1 GeV / E_c ≈ 50)."""


def shower_shape(rng: np.random.Generator, ln_y: np.ndarray, medium: SamplingMedium) -> tuple[np.ndarray, np.ndarray]:
    """Per-shower depth of maximum T (X0) and shape α of the longitudinal gamma profile.

    Homogeneous means ⟨T⟩ = ln y − 0.812, ⟨α⟩ = 0.81 + (0.458 + 2.26/Z) ln y, then the
    sampling corrections −0.55/F_s − 0.69 (1 − ê) (T) and −0.476/F_s (α); fluctuations
    with σ(ln T) = 1/(−2.5 + 1.25 ln y), σ(ln α) = 1/(−0.82 + 0.79 ln y) (≤ 0.5) and
    correlation ρ = 0.784 − 0.023 ln y. Clamped as in Geant4: T ≥ 1, α ≥ 1.1.
    """
    ln_y = np.maximum(ln_y, _MIN_LN_Y)
    t_hom = ln_y - 0.812
    a_hom = 0.81 + (0.458 + 2.26 / medium.Z) * ln_y
    mean_ln_t = np.log(np.maximum(t_hom - 0.55 / medium.F_s - 0.69 * (1.0 - medium.e_hat), 1.0))
    mean_ln_a = np.log(np.maximum(a_hom - 0.476 / medium.F_s, 1.1))
    sigma_t = np.minimum(1.0 / (-2.5 + 1.25 * ln_y), 0.5)
    sigma_a = np.minimum(1.0 / (-0.82 + 0.79 * ln_y), 0.5)
    rho = 0.784 - 0.023 * ln_y
    c1, c2 = np.sqrt((1 + rho) / 2), np.sqrt((1 - rho) / 2)
    z1, z2 = rng.standard_normal((2, len(ln_y)))
    t = np.exp(mean_ln_t + sigma_t * (c1 * z1 + c2 * z2))
    alpha = np.exp(mean_ln_a + sigma_a * (c1 * z1 - c2 * z2))
    return np.maximum(t, 1.0), np.maximum(alpha, 1.1)


def radial_parameters(tau: np.ndarray, ln_e: np.ndarray, medium: SamplingMedium):
    """Core radius R_C, tail radius R_T (Molière radii) and core probability p at τ = t/T.

    GFlash homogeneous formulas (E in GeV) plus the sampling corrections of docs/PHYSICS.md §4.
    """
    z, fs, eh = medium.Z, medium.F_s, 1.0 - medium.e_hat
    r_core = 0.0251 + 0.00319 * ln_e + (0.1162 - 0.000381 * z) * tau
    k1, k2, k3, k4 = 0.659 - 0.00309 * z, 0.645, -2.59, 0.3585 + 0.0412 * ln_e
    r_tail = k1 * (np.exp(k3 * (tau - k2)) + np.exp(k4 * (tau - k2)))
    p1, p2, p3 = 2.632 - 0.00094 * z, 0.401 + 0.00187 * z, 1.313 - 0.0686 * ln_e
    x = (p2 - tau) / p3
    p = p1 * np.exp(x - np.exp(x))
    decay = np.exp(-tau)
    r_core = r_core - 0.0203 * eh + 0.0397 / fs * decay
    r_tail = r_tail - 0.14 * eh - 0.495 / fs * decay
    p = p + eh * (0.348 - 0.642 / fs * np.exp(-((tau - 1.0) ** 2)))
    r_core = np.maximum(r_core, 1e-3)
    return r_core, np.maximum(r_tail, r_core), np.clip(p, 0.0, 1.0)


def sample_radius(rng: np.random.Generator, tau: np.ndarray, ln_e: np.ndarray, medium: SamplingMedium) -> np.ndarray:
    """Spot radii in Molière radii: core with probability p, else tail; r = R √(u/(1−u))."""
    r_core, r_tail, p = radial_parameters(tau, ln_e, medium)
    u = rng.random((2, len(tau)))
    scale = np.where(u[0] < p, r_core, r_tail)
    v = np.minimum(u[1], 1.0 - 1e-9)
    return scale * np.sqrt(v / (1.0 - v))


def spot_count(energy_gev: np.ndarray, sigma_s: float, scale: float, minimum: int = 8) -> np.ndarray:
    """Spots per shower in a sampling calorimeter, N = 10.3/σ_s · E^0.959 (E in GeV), times ``scale``."""
    n = scale * 10.3 / sigma_s * np.power(np.maximum(energy_gev, 0.0), 0.959)
    return np.maximum(np.rint(n), minimum).astype(np.int64)


def _segment_starts(counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)[:-1]])


def em_spots(rng: np.random.Generator, stack: Stack, event: np.ndarray, energy_mev: np.ndarray,
             start_x0: np.ndarray, cos_theta: np.ndarray, spots_scale: float) -> Spots:
    """Spots of EM showers of ``energy_mev`` starting ``start_x0`` radiation lengths along their axis.

    ``event`` maps each shower to its event in the batch (a hadronic shower's EM part shares
    the event of its pion); ``cos_theta`` is per shower. The spots of a shower carry its full
    energy; the part beyond the back of the calorimeter leaks out when deposited.
    """
    medium = stack.front
    energy_gev = energy_mev / 1000.0
    ln_e = np.log(np.maximum(energy_gev, 1e-3))
    t_max, alpha = shower_shape(rng, np.log(np.maximum(energy_mev, 1e-3) / medium.critical_energy), medium)
    beta = (alpha - 1.0) / t_max
    t_spot = t_max * (0.698 + 0.00212 * medium.Z)
    a_spot = np.maximum(alpha * (0.639 + 0.00334 * medium.Z), 1.1)
    b_spot = (a_spot - 1.0) / t_spot
    counts = spot_count(energy_gev, float(stack.sigma_s[0]), spots_scale)
    owner = np.repeat(np.arange(len(energy_mev)), counts)
    t = rng.standard_gamma(a_spot[owner]) / b_spot[owner]
    # importance weight f(t; α, β) / f(t; α_s, β_s), normalised per shower to its energy
    log_w = (alpha - a_spot)[owner] * np.log(t) - (beta - b_spot)[owner] * t
    starts = _segment_starts(counts)
    w = np.exp(log_w - np.maximum.reduceat(log_w, starts)[owner])
    w *= (energy_mev / np.add.reduceat(w, starts))[owner]
    radius = sample_radius(rng, t / t_max[owner], ln_e[owner], medium)
    path = stack.to_mm(start_x0[owner] + t, cos_theta[owner], "X0")
    radius_mm = radius * stack.property_at("moliere_radius", path * cos_theta[owner])
    return Spots(event[owner], path, radius_mm, w)
