"""Electromagnetic showers: the GFlash parametrisation (docs/PHYSICS.md §4) plus a diffuse halo.

After Grindhammer, Rudowicz & Peters, NIM A290 (1990) 469 and Grindhammer & Peters,
hep-ex/0001020, as implemented in Geant4's ``GFlashSamplingShowerParameterisation``:

* per shower, (ln T, ln α) of the gamma longitudinal energy profile are correlated normals
  whose means, widths and correlation depend on ln y, y = E/E_c (the tune may scale the widths and
  shift the correlation: :func:`shower_shape`). The *energy* profile uses
  the homogeneous-medium parameters of the effective medium, as GFlash does
  (``IntegrateEneLongitudinal`` takes α_h, β_h); the sampling-corrected T of the same random
  draw only sets τ = t/T of the radial profile;
* core spots carry the energy, stratified in depth: each of 64 depth bins holds the exact
  integral of the profile (the incomplete gamma function, as GFlash integrates its steps) and
  a share of the spots set by a mixture of the profile and a flat proposal, so layer energies
  carry no sampling noise while deep layers see many small deposits instead of a rare heavy
  spot;
* radii come from the two-component (core + tail) radial profile, in Molière radii, with
  GFlash's sampling corrections, at τ = t/T of the shower's own (sampling) T, so the lateral
  spread follows the longitudinal fluctuation (GFlash; a tuned coupling κ sets how strongly);
  core/tail choice, radius and azimuth of the k-th spot of a shower come from a low-discrepancy
  (Kronecker) sequence, so a few hundred spots fill the profile as the thousands of particles of
  a real shower do instead of adding their own Poisson noise;
* off the axis early in the shower the radii are importance-sampled (``radial_spread_share``, falling with
  τ): a share of the spots is drawn from a broad profile and every spot weighted so that the energy
  density keeps GFlash's profile, as ``flat_depth_share`` does for the depths. A real shower's energy far
  off its axis is carried by many soft particles: Geant4's CaloGAN layer-0 strips 15–50 mm off the axis
  hold 10–30 MeV each, smoothly, where equal-energy spots left them either with the halo's few MeV or
  with one 25–40 MeV spot;
* the radial profile follows the shower's age, not its depth over T alone (``radial_alpha_coupling``): at given T, a
  shower of small α (a long tail) has its centroid deeper and is younger at a given depth, so τ is taken over T times
  the ratio of its profile centroid α/(α − 1) to the median profile's. With τ = t/T, Geant4's CaloGAN e+ at 30–100 GeV
  (shipped geant4_calogan_eplus) were told apart by the layer-1 widths along x and y: their common fluctuation (the
  covariance of the two) was twice Geant4's, the independent part as Geant4's, as a shower whose α put more energy
  deep in layer 1 spread it as wide as the GFlash tail radius R_T grows with τ;
* the deep tail's share of the energy (beyond ``deep_tail_depth``, in the CaloGAN stack layer 2 and the leakage) is
  only partly the profile's and fluctuates on its own (:func:`_deep_tail`);
* what does fluctuate from shower to shower laterally is the centre of gravity: it performs a
  random walk off the axis with depth (:func:`_wander`), as the early branchings push it, which
  GFlash (all spots centred on the axis) leaves out;
* a diffuse halo of many small deposits carries a small share of the energy: the soft photons
  of a real shower (annihilation photons are isotropic; photons running along the active gaps
  of a sampling calorimeter travel far) deposit it around the shower, in front of and behind
  its source as well as sideways, which GFlash leaves out. Halo depths are the profile's
  convolved with an asymmetric Laplace distribution (photons at the attenuation minimum carry
  energy deep), radii exponential; what leaves through the front is the albedo. For a share of the
  deposits both come from one flight length (:func:`halo_flights`): a soft photon that lands far off the
  axis has also moved far in depth, out of the layer of the shower maximum;
* the young shower of an incident e± or γ (the tune's ``track_growth_length``): its leading charged tracks, the
  pair of a converted photon, multiply exponentially with depth until the profile overtakes them
  (:func:`em_spots`), where GFlash's gamma profile alone rises too slowly in the first radiation lengths;
* the energy a shower leaves in a thin slice of depth fluctuates about its smooth profile
  (:func:`clumped_profile`): it is carried by a finite number of sub-showers, so with the tune's
  ``depth_clump_energy`` D > 0 each of the DEPTH_BINS slices of energy e gets a gamma variate of shape e / D
  (and mean e), the shower's total kept. Being gamma-additive it does not depend on the binning, and it
  fluctuates most where the energy is small (the start and the tail). Geant4's ILD photons show it: the
  energies of neighbouring layers differ by 16 % of their mean at the maximum and 35 % in the back section,
  a smooth GFlash profile gives 12 % and 21 %. A sub-shower spans several slices, so with the tune's
  ``depth_clump_length`` neighbouring slices fluctuate together;
* the sparse far tail arrives as discrete particles: deposits of a broad spread of energies
  (exponential by default, else log-normal) of mean the tune's quantum and relative spread
  ``quantum_energy_spread`` (> 1: many soft quanta and a few heavy clumps), so the back layer has a few
  hot cells, as in Geant4. They are
  photons near the attenuation minimum that left the core before interacting, so they get their own
  wide exponential lateral spread (``quantum_radius``) and independent azimuths: Geant4's CaloGAN
  layer-2 energy centroid scatters by 15 mm at 40–100 GeV, GFlash-placed quanta gave 7.5 mm;
* halo deposits have a broad (gamma, by default exponential) energy spectrum, as the soft photons
  that make them: Geant4's CaloGAN cells hold down to 0.1 MeV, equal halo deposits never under 0.8;
* the number of halo deposits of a shower fluctuates beyond Poisson (a gamma mixture of relative sd
  ``halo_count_spread``/√E): soft photons are not independent, they come in bunches from fewer
  sources (the bremsstrahlung and annihilation of the shower's charged particles, a Compton photon's
  successive scatters), so one shower has more of them as a whole, independent of how much energy
  its early layers hold. It sets the hit multiplicity of a fine strip layer: Geant4's CaloGAN layer-0
  hit count scatters by 9.4 strips around its mean at given layer-0 and incident energy (shipped e+,
  10–100 GeV), independent Poisson halo deposits gave 6.2 and a classifier told them apart on
  layer 0 alone with AUC 0.90.

The halo constants, the wander, the spot counts and small corrections to ⟨T⟩, ⟨α⟩ and the radii are fitted
to Geant4 (:mod:`._tune`). Everything is vectorised over showers and spots; no Python loop runs
per shower.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy.special import gammainc, gammaincc

from physgen.geometry import SamplingMedium
from physgen.sim.showers._spots import Spots
from physgen.sim.showers._stack import Stack
from physgen.sim.showers._tune import EmTune

__all__ = ["shower_shape", "radial_parameters", "sample_radius", "spot_count", "halo_count", "clumped_profile",
           "em_spots", "leading_tracks", "asymmetric_laplace", "PHOTON_CONVERSION_X0", "SPOT_EXPONENT"]

PHOTON_CONVERSION_X0 = 9.0 / 7.0
"""Mean depth (X0) at which a photon converts: the pair-production mean free path."""

_MIN_LN_Y = 3.0
"""ln(E/E_c) below which the parametrisation is frozen (GFlash is fitted above ~ 1 GeV / E_c ≈ 100)."""

_WEYL = ((np.sqrt(5.0) - 1.0) / 2.0, np.sqrt(2.0) - 1.0)
"""Irrational steps of the per-shower low-discrepancy sequences of :func:`sample_radius` (the azimuths' is the tune's
``azimuth_step``)."""

DEPTH_BINS = 64
"""Depth bins (to the back of the calorimeter) over which a shower's spots are stratified."""

MIN_SPOTS = 100
"""Fewest core spots of any shower: below ~3 GeV a few tail spots beyond the readout window would
otherwise make E_tot/E_inc of one shower jump by a percent (Geant4's spread there is 0.2 %)."""


def shower_shape(rng: np.random.Generator, ln_y: np.ndarray, medium: SamplingMedium, tune: EmTune,
                 visible: bool = False, t_offset: np.ndarray | float = 0.0
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per shower: depth of maximum T and shape α of the energy profile, and the sampling T_s (X0).

    Homogeneous: ⟨ln T⟩ = ln(slope · ln y − 0.812 + shift + t_offset), ⟨ln α⟩ = ln(scale · (0.81 +
    (0.458 + 2.26/Z) ln y)), σ(ln T) = 1/(−1.4 + 1.26 ln y), σ(ln α) = 1/(−0.58 + 0.86 ln y), ρ = 0.705 − 0.023 ln y.
    Sampling: ⟨T_s⟩ = ⟨T_h⟩ − 0.55/F_s − 0.69 (1 − ê), ⟨α_s⟩ = ⟨α_h⟩ − 0.476/F_s with σ(ln T_s) =
    1/(−2.5 + 1.25 ln y), σ(ln α_s) = 1/(−0.82 + 0.79 ln y), ρ = 0.784 − 0.023 ln y, from the same
    two normals. The energy profile is the homogeneous one for the deposit in all materials (``total``
    readout: GFlash's ``IntegrateEneLongitudinal``) and the sampling one for the ``visible`` signal of
    the active layers, which is what Grindhammer & Peters fitted the sampling parameters to (soft
    photons deep in the shower deposit in the high-Z absorber, so the signal peaks earlier: 0.5 X0
    in W/Si, as Geant4's ILD showers show). T_s always sets τ = t/T_s of the radial profile; the
    tune's ``radial_tau_coupling`` κ scales its fluctuation there (GFlash: κ = 1; Geant4's lateral
    widths follow the longitudinal fluctuation more weakly). The tune's ``profile_spread_scale`` multiplies
    the energy profile's σ(ln T) and σ(ln α) (GFlash: 1; in the CaloGAN Pb/LAr stack Geant4's layer-2
    fraction and back leakage fluctuate less); ``alpha_spread_ratio`` multiplies σ(ln α) once more and
    ``profile_correlation_shift`` is added to both ρ (GFlash: 1 and 0), so that the tune can give the
    shape α its own share of the fluctuation: at given T, α sets how much of the profile reaches the
    back. Clamped as in Geant4: σ ≤ 0.5, T ≥ 1, α ≥ 1.1; |ρ| ≤ 0.99.
    ``t_offset`` (X0, per shower) moves the maximum of showers that do not start as one electron: a photon's
    e+e− pair shares its energy, so from the conversion point it peaks earlier than an electron would.
    """
    t_mid, a_mid, t_sam = median_profile(ln_y, medium, tune, visible, t_offset)
    ln_y = np.maximum(ln_y, _MIN_LN_Y)
    z1, z2 = rng.standard_normal((2, len(ln_y)))

    def correlated(rho):
        c1, c2 = np.sqrt((1 + rho) / 2), np.sqrt((1 - rho) / 2)
        return c1 * z1 + c2 * z2, c1 * z1 - c2 * z2

    u_s, u_as = correlated(np.clip(0.784 - 0.023 * ln_y + tune.profile_correlation_shift, -0.99, 0.99))
    sigma_t_sam = np.minimum(1.0 / (-2.5 + 1.25 * ln_y), 0.5)
    t_s = t_sam * np.exp(tune.radial_tau_coupling * sigma_t_sam * u_s)
    spread_t, spread_a = tune.profile_spread_scale, tune.profile_spread_scale * tune.alpha_spread_ratio
    if visible:
        t = t_mid * np.exp(spread_t * sigma_t_sam * u_s)
        alpha = a_mid * np.exp(spread_a * np.minimum(1.0 / (-0.82 + 0.79 * ln_y), 0.5) * u_as)
    else:
        u_t, u_a = correlated(np.clip(0.705 - 0.023 * ln_y + tune.profile_correlation_shift, -0.99, 0.99))
        t = t_mid * np.exp(spread_t * np.minimum(1.0 / (-1.4 + 1.26 * ln_y), 0.5) * u_t)
        alpha = a_mid * np.exp(spread_a * np.minimum(1.0 / (-0.58 + 0.86 * ln_y), 0.5) * u_a)
    return np.maximum(t, 1.0), np.maximum(alpha, 1.1), np.maximum(t_s, 1.0)


def median_profile(ln_y: np.ndarray, medium: SamplingMedium, tune: EmTune, visible: bool = False,
                   t_offset: np.ndarray | float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """T and α of the energy profile and the sampling T_s of :func:`shower_shape` without the shower-to-shower
    fluctuation (its normals at 0): the homogeneous ⟨T⟩, ⟨α⟩, or the sampling ones for the ``visible`` signal."""
    ln_y = np.maximum(ln_y, _MIN_LN_Y)
    t_hom = np.maximum(tune.t_max_slope * ln_y - 0.812 + tune.t_max_shift + t_offset, 1.0)
    a_hom = np.maximum(tune.alpha_scale * (0.81 + (0.458 + 2.26 / medium.Z) * ln_y), 1.1)
    t_sam = np.maximum(t_hom - 0.55 / medium.F_s - 0.69 * (1.0 - medium.e_hat), 1.0)
    if visible:
        return t_sam, np.maximum(a_hom - 0.476 / medium.F_s, 1.1), t_sam
    return t_hom, a_hom, t_sam


def radial_parameters(tau: np.ndarray, ln_e: np.ndarray, medium: SamplingMedium, tail_growth: float = 1.0):
    """Core radius R_C, tail radius R_T (Molière radii) and core probability p at τ = t/T.

    GFlash homogeneous formulas (E in GeV) plus the sampling corrections of docs/PHYSICS.md §4;
    ``tail_growth`` scales k4, the growth of R_T with depth beyond the maximum (GFlash: 1).
    """
    z, fs, eh = medium.Z, medium.F_s, 1.0 - medium.e_hat
    r_core = 0.0251 + 0.00319 * ln_e + (0.1162 - 0.000381 * z) * tau
    k1, k2, k3, k4 = 0.659 - 0.00309 * z, 0.645, -2.59, tail_growth * (0.3585 + 0.0412 * ln_e)
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


def sample_radius(rng: np.random.Generator, tau: np.ndarray, ln_e: np.ndarray, medium: SamplingMedium,
                  tune: EmTune, owner: np.ndarray, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spot radii in Molière radii and the spots' energy weights (mean 1).

    Radii: core with probability p, else tail; r = R √(u/(1−u)) ≤ cutoff. The two uniforms of the k-th
    spot of a shower are the Kronecker (Weyl) sequence frac(s + k·φ)
    with a random start s per shower, φ = (√5 − 1)/2 and √2 − 1 (:func:`em_spots` takes the azimuth
    from a third, the tune's ``azimuth_step``): each shower then fills the core
    and the tail in their expected proportions, as the thousands of deposits of a real shower do,
    instead of the Poisson scatter of a few hundred i.i.d. spots (which made the lateral widths of
    one shower fluctuate several times more than Geant4's). With the tune's ``independent_tail_radii`` the
    tail spots draw their radii independently: the far tail is carried by few particles, each where it
    happens to go, and a shower's stratified tail left its neighbouring outer rings anti-correlated (Geant4's
    ILD photons, rings beyond 30 mm: +0.10 on average, the stratified tail −0.11, independent radii +0.03).

    With the tune's ``radial_spread_share`` s > 0 the radii are importance-sampled, as the depths are
    (``flat_depth_share``): a share s of the spots is drawn from a broad profile of the same form,
    R = ``radial_spread_radius``, and every spot is weighted by f(r) / ((1 − s) f(r) + s h(r)) (f the
    core + tail profile, h the broad one), so the energy density keeps GFlash's profile while the
    outer region gets many light deposits instead of a rare heavy spot. The share falls as
    exp(−τ / ``radial_spread_depth``): the soft particles far off the axis matter where the shower is
    young and narrow (the module docstring says what Geant4 shows).
    """
    r_core, r_tail, p = radial_parameters(tau, ln_e, medium, tune.tail_growth_scale)
    start = rng.random((2, int(owner.max(initial=-1)) + 1))
    fresh = rng.random(len(owner)) if tune.independent_tail_radii else np.zeros(0)
    # truncated at the tune's radius_cutoff: F(r) = r²/(r² + R²) is drawn below F(cutoff); beyond it
    # GFlash's 1/r³ tail would put several times Geant4's energy outside a CaloGAN layer's window
    return _core_or_tail_radius(start, owner, rank, p, tune.core_radius_scale * r_core,
                                tune.tail_radius_scale * r_tail, tune.radius_cutoff, tau, tune.radial_spread_share,
                                tune.radial_spread_depth, tune.radial_spread_radius, fresh)


@numba.njit(cache=True, nogil=True)
def _profile_density(r, scale, cutoff):
    """2r R²/(r² + R²)² truncated to r ≤ cutoff and normalised, over 2r (which cancels in density ratios)."""
    return scale**2 / (r**2 + scale**2) ** 2 * (cutoff**2 + scale**2) / cutoff**2


@numba.njit(cache=True, nogil=True)
def _core_or_tail_radius(start, owner, rank, p, r_core, r_tail, cutoff, tau, spread_share, spread_depth,
                         spread_radius, fresh):
    """Radius R √(u/(1−u)) of each spot, R the core radius where its Kronecker choice variate is below p,
    else the tail's, u its Kronecker radius variate scaled to F(cutoff) = cutoff²/(cutoff² + R²); where the
    choice variate is below s = ``spread_share`` · exp(−τ/``spread_depth``), R is ``spread_radius`` (the
    broad proposal of :func:`sample_radius`) and the rest of the choice range is rescaled to [0, 1).
    With ``fresh`` (one uniform per spot, else empty) a tail spot takes its own uniform as u instead.
    Returns the radii and each spot's importance weight (all 1 without a spread share)."""
    out = np.empty(len(owner))
    weight = np.ones(len(owner))
    for i in range(len(owner)):
        s = owner[i]
        x = start[0, s] + rank[i] * _WEYL[0]
        x = x - np.floor(x)
        # beyond 7 decay lengths the share (< 0.1 %) is taken as 0: still exact, the weight uses the same share
        share = spread_share * np.exp(-tau[i] / spread_depth) if tau[i] < 7.0 * spread_depth else 0.0
        tail = False
        if x < share:
            scale = spread_radius
        else:
            x = (x - share) / (1.0 - share)
            tail = x >= p[i]
            scale = r_tail[i] if tail else r_core[i]
        if tail and len(fresh):
            u = min(fresh[i], 1.0 - 1e-9)
        else:
            x = start[1, s] + rank[i] * _WEYL[1]
            u = min(x - np.floor(x), 1.0 - 1e-9)
        u *= cutoff**2 / (cutoff**2 + scale**2)
        r = scale * np.sqrt(u / (1.0 - u))
        out[i] = r
        if share > 0:
            f = p[i] * _profile_density(r, r_core[i], cutoff) + (1.0 - p[i]) * _profile_density(r, r_tail[i], cutoff)
            weight[i] = f / ((1.0 - share) * f + share * _profile_density(r, spread_radius, cutoff))
    return out, weight


@numba.njit(cache=True, nogil=True)
def _weyl(start, owner, first, step):
    """frac(start[owner] + rank · step): the Kronecker sequence of each spot's shower at the spot's rank in it
    (the spots of a shower are consecutive, its first at ``first[owner]``)."""
    out = np.empty(len(owner))
    for i in range(len(owner)):
        x = start[owner[i]] + (i - first[owner[i]]) * step
        out[i] = x - np.floor(x)
    return out


@numba.njit(cache=True, nogil=True)
def _share_out(weight, spread, owner, counts):
    """``weight`` · ``spread`` · counts / Σ spread, in place: each shower's deposits scaled by random factors
    whose sum over the shower is its count (so the shower's total is kept)."""
    total = np.zeros(len(counts))
    for i in range(len(owner)):
        total[owner[i]] += spread[i]
    factor = counts / total
    for i in range(len(owner)):
        weight[i] = weight[i] * spread[i] * factor[owner[i]]


@numba.njit(cache=True, nogil=True)
def _reweight(energy, weight, owner, n_showers):
    """``energy`` · ``weight`` in place, rescaled per shower so that each shower's total is unchanged."""
    before, after = np.zeros(n_showers), np.zeros(n_showers)
    for i in range(len(owner)):
        before[owner[i]] += energy[i]
        after[owner[i]] += energy[i] * weight[i]
    for i in range(len(owner)):
        energy[i] = energy[i] * weight[i] * before[owner[i]] / after[owner[i]]


SPOT_EXPONENT = 0.959
"""N ∝ E^0.959: GFlash's growth of the spot count with energy in sampling calorimeters."""


def spot_count(energy_gev: np.ndarray, per_gev: float, minimum: int = MIN_SPOTS) -> np.ndarray:
    """Spots per shower, N = per_gev · E^0.959 (E in GeV; GFlash's exponent for sampling calorimeters)."""
    n = per_gev * np.power(np.maximum(energy_gev, 0.0), SPOT_EXPONENT)
    return np.maximum(np.rint(n), minimum).astype(np.int64)


HALO_REFERENCE_GEV = 10.0
"""Energy (GeV) at which ``halo_spots_per_gev`` is the halo count per GeV whatever its exponent."""


def halo_count(energy_gev: np.ndarray | float, tune: EmTune, spots_scale: float = 1.0) -> np.ndarray | float:
    """Mean halo deposits of a shower, halo_spots_per_gev · E · (E / 10 GeV)^(γ − 1) (E in GeV, γ the tune's
    ``halo_spot_exponent``; 1: proportional to the energy, as the count of the shower's soft photons), so that
    the count at 10 GeV, mid-range of the CaloGAN samples, does not move with γ."""
    energy = np.maximum(energy_gev, 0.0)
    relative = np.maximum(energy, 1e-6) / HALO_REFERENCE_GEV  # (a shower of no energy has no halo, not 0 · ∞)
    return tune.halo_spots_per_gev * spots_scale * energy * np.power(relative, tune.halo_spot_exponent - 1.0)


def _deep_tail(rng: np.random.Generator, cdf: np.ndarray, reach: np.ndarray, own: np.ndarray, median: np.ndarray,
               tune: EmTune) -> np.ndarray:
    """The profile's cumulative ``cdf`` (showers × DEPTH_BINS + 1, up to ``reach`` X0) with the share Q of the energy
    beyond t_d = ``deep_tail_depth`` X0 set to q^(1 − d) · q̄^d · A and the energy in front of t_d scaled to 1 − Q
    (energy kept): q (``own``) is the shower's own share beyond t_d, q̄ (``median``) that of the median profile at
    its energy, d = ``deep_tail_decoupling`` and A a log-normal factor of median 1 and log-sd ``deep_tail_spread``
    (so ln Q = (1 − d) ln q + d ln q̄ + ln A: the shower's own log-share pulled towards the median one, plus a
    fluctuation of its own).

    Deep in the shower the energy is carried by the photons near the attenuation minimum (a few MeV) that left the
    core before interacting: how many get there is not set by how early or late the shower peaked, as GFlash's gamma
    profile has it. Geant4's CaloGAN e+ at 30–100 GeV (shipped geant4_calogan_eplus) correlate the layer-2 fraction
    (28–31 X0) with the layer-0 fraction by −0.39 / −0.45 and with the depth width by −0.37 / −0.42, GFlash's tail by
    −0.74 and −0.76 at the same spreads; and its layer-2 energy goes with the back leakage (E_tot/E_inc against
    the layer-2 fraction −0.72 at 30–60 GeV, GFlash −0.47).
    """
    q = np.maximum(own, 1e-300)
    share = q ** (1.0 - tune.deep_tail_decoupling) * np.maximum(median, 1e-300) ** tune.deep_tail_decoupling
    share = np.minimum(share * np.exp(tune.deep_tail_spread * rng.standard_normal(len(q))), 1.0)
    depth = reach[:, None] * np.linspace(0.0, 1.0, DEPTH_BINS + 1)
    front = cdf * ((1.0 - share) / np.maximum(1.0 - q, 1e-300))[:, None]
    behind = 1.0 - (1.0 - cdf) * (share / q)[:, None]
    return np.where(depth <= tune.deep_tail_depth, front, behind)


def clumped_profile(rng: np.random.Generator, cdf: np.ndarray, energy_mev: np.ndarray, clump_mev: float,
                    length_x0: float = 0.0, reach: np.ndarray | None = None) -> np.ndarray:
    """The profile ``cdf`` (showers × DEPTH_BINS + 1, as :func:`_stratified_depths` takes it) with each depth bin's
    energy, and what leaks beyond the back, drawn as a gamma variate of shape (its energy / ``clump_mev``) and
    rescaled so that each shower's total is kept (a Dirichlet draw about the profile's shares).

    A smooth gamma profile gives neighbouring layers of one shower the same share as its fit; a real shower's
    energy in a slice of depth comes from a finite number of sub-showers, so the slices fluctuate, relatively more
    where they hold little energy. The gamma family is additive: a layer spanning several bins fluctuates as one
    bin of its energy would, so the result does not depend on DEPTH_BINS.

    A sub-shower spans several slices, so neighbouring slices fluctuate together: with ``length_x0`` λ > 0 each
    bin's energy is its profile share times the ratio of the lots to their mean, both summed over a two-sided
    exponential window e^(−|t − t'|/λ) (``reach``, per shower, the depth in X0 the bins span). Geant4's ILD photons
    (shipped geant4_ild_photons_50gev) correlate the energies of neighbouring layers 10–19 by 0.72 on average;
    independent slices gave 0.55 where a classifier wanted their scatter (lots of 58 MeV), and λ = 0.5 X0 with lots
    of 170 MeV gives 0.73.
    """
    bins = np.diff(cdf, axis=1, append=1.0).clip(0.0)  # the last column: beyond the back
    mean = bins * (energy_mev / clump_mev)[:, None]
    lots = rng.standard_gamma(mean)
    if length_x0 > 0:  # the lots' relative excess over a window of depth: neighbouring slices move together
        decay = np.exp(-(reach / DEPTH_BINS) / length_x0)
        inside = slice(0, DEPTH_BINS)
        lots[:, inside] = mean[:, inside] * (_window_sum(lots[:, inside], decay)
                                             / np.maximum(_window_sum(mean[:, inside], decay), 1e-300))
    lots /= np.maximum(lots.sum(axis=1, keepdims=True), 1e-300)
    return np.concatenate([np.zeros((len(cdf), 1)), np.cumsum(lots[:, :-1], axis=1)], axis=1)


def _window_sum(x: np.ndarray, decay: np.ndarray) -> np.ndarray:
    """Σ_k decay^|j − k| x_k along the rows of ``x`` (``decay`` per row): a forward and a backward recursion."""
    forward, backward = x.copy(), x.copy()
    for j in range(1, x.shape[1]):
        forward[:, j] += decay * forward[:, j - 1]
        backward[:, -1 - j] += decay * backward[:, -j]
    return forward + backward - x


def _segment_starts(counts: np.ndarray) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(counts)[:-1]])


def _stratified_depths(rng: np.random.Generator, cdf: np.ndarray, reach: np.ndarray, counts: np.ndarray,
                       share: float, quantum: np.ndarray | None = None, quantum_spread: float = 1.0
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified spot depths: (shower of each spot, depth t in X0, share of the shower's energy, whether the
    spot is a far-tail quantum).

    ``cdf`` (showers × DEPTH_BINS + 1) is the gamma profile's cumulative (regularised incomplete gamma
    function, as GFlash integrates its steps) at equal steps up to the back of the calorimeter
    (``reach`` X0), so bin j holds the exact energy share ΔP_j. It gets ⌊n Q_j + U⌋ − ⌊n Q_{j−1} + U⌋
    of the shower's n spots, Q being the cumulative of the proposal (1 − share)·ΔP/P(reach) +
    share/DEPTH_BINS (systematic sampling: the counts follow the proposal to ±1 spot). Spots sit
    uniformly within their bin and share its energy, so the energy per depth follows the profile
    without sampling noise while deep bins, through ``share``, get many small deposits. The
    profile beyond the back leaks out.

    ``quantum`` (per shower, as a share of its energy) is the least energy a deposit carries: a bin
    whose spots would be lighter (the sparse far tail) gets instead a Poisson number of deposits, of
    mean its energy over the quantum, each of an exponentially distributed energy of mean the quantum
    (the broad spectrum of the photons that get that deep). Energy reaches the far tail as a few
    discrete particles, so a low-energy shower's back layer is often empty and, when hit, has one
    or two hot cells, as in Geant4; the energy is then conserved on average.
    """
    n_showers = len(cdf)
    energy = np.diff(cdf, axis=1)
    proposal = (1.0 - share) * energy / np.maximum(cdf[:, -1:], 1e-300) + share / DEPTH_BINS
    cumulative = np.floor(counts[:, None] * np.cumsum(proposal, axis=1) + rng.random((n_showers, 1)))
    per_bin = np.diff(cumulative, axis=1, prepend=0.0).astype(np.int64).clip(0)
    share_per_spot = np.where(per_bin > 0, energy / np.maximum(per_bin, 1), 0.0)
    light = np.zeros_like(per_bin, dtype=bool)
    if quantum is not None:
        light = share_per_spot < quantum[:, None]
        light &= per_bin > 0
        per_bin = np.where(light, rng.poisson(np.where(light, energy, 0.0) / quantum[:, None]), per_bin)
        share_per_spot = np.where(light, quantum[:, None], share_per_spot)
    # bins without a spot (deep bins of small showers): their energy goes to the others
    light_energy = np.sum(np.where(light, energy, 0.0), axis=1)
    assigned = np.sum(np.where((per_bin > 0) & ~light, energy, 0.0), axis=1)
    share_per_spot = np.where(light, share_per_spot,
                              share_per_spot * ((cdf[:, -1] - light_energy) / np.maximum(assigned, 1e-300))[:, None])
    owner, t, share, is_quantum = _spots_of_bins(per_bin, share_per_spot, light, reach / DEPTH_BINS,
                                                 rng.random(int(per_bin.sum())))
    if quantum is not None:  # far-tail quanta: particles of a broad (exponential) spectrum of mean the quantum
        n_quanta = int(is_quantum.sum())
        if quantum_spread == 1.0:
            share[is_quantum] *= rng.standard_exponential(n_quanta)
        else:  # log-normal spectrum of relative spread quantum_spread (> 1: many soft quanta and a few heavy clumps;
            # unlike a gamma of shape < 1 it puts no deposits at the eV scale, which no photon leaves)
            sigma = np.sqrt(np.log1p(quantum_spread**2))
            share[is_quantum] *= np.exp(sigma * rng.standard_normal(n_quanta) - 0.5 * sigma**2)
    return owner, t, share, is_quantum


@numba.njit(cache=True, nogil=True)
def _spots_of_bins(per_bin, share_per_bin, light, step, u):
    """The spots of the depth bins of :func:`_stratified_depths`, bin by bin in order: shower, depth
    (bin j of width ``step`` of its shower, at the uniform ``u`` within it), share and whether a quantum."""
    n = len(u)
    owner = np.empty(n, dtype=np.int64)
    t = np.empty(n)
    share = np.empty(n)
    is_quantum = np.empty(n, dtype=np.bool_)
    i = 0
    for s in range(per_bin.shape[0]):
        for j in range(per_bin.shape[1]):
            for _ in range(per_bin[s, j]):
                owner[i] = s
                t[i] = (j + u[i]) * step[s]
                share[i] = share_per_bin[s, j]
                is_quantum[i] = light[s, j]
                i += 1
    return owner, t, share, is_quantum


def _wander(rng: np.random.Generator, wander: float, energy_gev: np.ndarray, reach: np.ndarray, owner: np.ndarray,
            t: np.ndarray) -> np.ndarray:
    """Transverse offsets (2 × spots, Molière radii) of the shower's centre of gravity at the spots' depths ``t``.

    The centre of gravity of a real shower is not on the incident axis: each early branching that sends
    more energy to one side displaces it, and the displacements add up with depth. Modelled as a random
    walk in the DEPTH_BINS depth bins of each shower, of variance wander² · t / E (t in X0, E in GeV:
    the fewer particles carry the shower, the farther their centre strays). Geant4's CaloGAN e+ showers
    (shipped sample) show it: the energy centroid of layer 1 scatters by 0.8 mm at 90 GeV, 3 mm at
    10 GeV, several times what independent spots give (GFlash's spots are all centred on the axis).
    """
    n = len(energy_gev)
    step = reach / DEPTH_BINS  # X0 per depth bin
    kicks = rng.standard_normal((2, n, DEPTH_BINS)) * (wander * np.sqrt(step / np.maximum(energy_gev, 1e-3)))[:, None]
    return _walk_at(np.cumsum(kicks, axis=2), step, owner, t)


@numba.njit(cache=True, nogil=True)
def _walk_at(walk, step, owner, t):
    """``walk`` (2 × showers × DEPTH_BINS) at the depth bin of each spot (0 in front of the shower)."""
    out = np.zeros((2, len(t)))
    for i in range(len(t)):
        if t[i] > 0:
            s = owner[i]
            j = min(max(np.int64(t[i] / step[s]), 0), DEPTH_BINS - 1)
            out[0, i], out[1, i] = walk[0, s, j], walk[1, s, j]
    return out


def halo_flights(rng: np.random.Generator, u: np.ndarray, tune: EmTune) -> tuple[np.ndarray, np.ndarray]:
    """Depth offsets (X0) and radii (Molière radii) of halo deposits from their origins on the profile.

    Each deposit's radius is exponential of mean ``halo_radius`` (from the stratified uniforms ``u``) and its
    depth offset an asymmetric Laplace variate (``halo_depth`` behind, ``halo_depth_forward`` ahead), as
    without flights; for a share ``halo_flight_share`` both come from *one* flight: the depth offset is the
    radius's exponential variate times the scale of its side, so a soft photon that lands far off the axis
    has also moved far in depth (the two marginals are unchanged for any share). Geant4's CaloGAN e+ at
    60–100 GeV (shipped geant4_calogan_eplus) lights fewer layer-1 cells beyond 240 mm of the axis and more
    layer-0 strips and layer-2 cells than independent draws give: the soft photons come from around the
    shower maximum in layer 1, and those that fly far sideways also leave it in depth.
    """
    flight = -np.log1p(-np.minimum(u, 1.0 - 1e-9))
    depth = _flight_depths(rng.random(len(u)), flight, rng.standard_exponential(len(u)),
                           tune.halo_depth_forward / (tune.halo_depth_forward + tune.halo_depth),
                           tune.halo_flight_share, tune.halo_depth_forward, tune.halo_depth)
    return depth, tune.halo_radius * flight


@numba.njit(cache=True, nogil=True)
def _flight_depths(v, flight, other, p_ahead, share, ahead, behind):
    """Depth offsets of :func:`halo_flights` (and, with share 0, of :func:`asymmetric_laplace`): ahead (scale ``ahead``) where the uniform ``v`` < ``p_ahead``, else
    behind; the same uniform, rescaled within its side, picks the coupled share (length ``flight``, else the
    independent ``other``), so one random number per deposit serves both choices."""
    out = np.empty(len(v))
    for i in range(len(v)):
        if v[i] < p_ahead:
            w, scale = v[i] / p_ahead, ahead
        else:
            w, scale = (v[i] - p_ahead) / (1.0 - p_ahead), -behind
        out[i] = scale * (flight[i] if w < share else other[i])
    return out


def asymmetric_laplace(rng: np.random.Generator, back: float, forward: float, n: int) -> np.ndarray:
    """``n`` offsets with density ∝ e^(x/back) for x < 0 and e^(−x/forward) for x > 0 (continuous at 0: a share
    back/(forward + back) lies behind); back = forward is a Laplace distribution."""
    u, lengths = rng.random(n), rng.standard_exponential(n)
    return _flight_depths(u, lengths, lengths, forward / (forward + back), 0.0, forward, back)


def leading_tracks(stack: Stack, event: np.ndarray, start_mm: np.ndarray, end_mm: np.ndarray, charged: np.ndarray,
                   growth_x0: float = 0.0, cos_theta: np.ndarray | None = None) -> Spots:
    """Ionisation of the leading charged particles of EM showers, on the axis from ``start_mm`` to ``end_mm``.

    Rossi's picture of a shower: each charged particle loses the minimum-ionising dE/dx, and a
    shower that starts with ``charged`` of them (the e+e− pair of a converted photon: 2; an e±: 1)
    has at least that many until it multiplies. GFlash's gamma profile rises as t^(α−1) from the
    start and leaves this out, which in a fine-grained W/Si ECAL starves the first layers (Geant4's
    ILD layers 0-1 hold twice the gamma profile's signal). One spot per sampling period, with the
    mixture's mean MIP loss over it times ``charged``; an ``active`` readout counts their crossings exactly
    (:attr:`Spots.exact_crossings`) and gives each a crossing's spread. With ``growth_x0`` λ > 0 the tracks
    multiply, charged · exp(t/λ) at t X0 from the start (at each step's middle; ``cos_theta`` per shower, as
    :meth:`Stack.from_mm` takes it): :func:`em_spots` says why.
    """
    step = float(min(m.period for m in stack.media))
    n = np.ceil(np.maximum(end_mm - start_mm, 0.0) / step).astype(np.int64)
    owner = np.repeat(np.arange(len(start_mm)), n)
    k = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    lo = start_mm[owner] + k * step
    hi = np.minimum(lo + step, end_mm[owner])
    path = 0.5 * (lo + hi)
    energy = charged[owner] * stack.mip_loss_at(path) * (hi - lo)
    if growth_x0 > 0:
        cos = cos_theta[owner]
        energy *= np.exp((stack.from_mm(path, cos, "X0") - stack.from_mm(start_mm[owner], cos, "X0")) / growth_x0)
    return Spots(event[owner], path, np.zeros(len(path)), energy, exact_crossings=True)


def _young_shower_depth(cdf: np.ndarray, reach: np.ndarray, energy_mev: np.ndarray, charged: np.ndarray,
                        loss_per_x0: float, growth_x0: float, t_max: np.ndarray) -> np.ndarray:
    """Depth (X0 from the start, per shower) up to which the multiplying leading tracks of :func:`em_spots` carry
    the shower: the first edge of the profile's depth bins (``cdf``, showers × DEPTH_BINS + 1 up to ``reach``)
    at which the profile's energy in the bin reaches the tracks', charged · loss_per_x0 · λ (e^(b/λ) − e^(a/λ))
    for a bin [a, b], in front of ``t_max``; a shower whose profile stays below the tracks there (a late, slowly
    rising one) takes the bin where the profile comes closest to them (the tracks never outgrow the shower)."""
    edges = reach[:, None] * np.linspace(0.0, 1.0, DEPTH_BINS + 1)
    grown = np.exp(np.minimum(edges / growth_x0, 50.0))
    tracks = (charged * loss_per_x0 * growth_x0)[:, None] * np.diff(grown, axis=1)
    ratio = energy_mev[:, None] * np.diff(cdf, axis=1) / np.maximum(tracks, 1e-300)
    ratio = np.where(edges[:, :-1] < t_max[:, None], ratio, 0.0)
    taken = ratio >= 1.0
    first = np.where(taken.any(axis=1), taken.argmax(axis=1), ratio.argmax(axis=1))
    return edges[np.arange(len(cdf)), first]


def em_spots(rng: np.random.Generator, stack: Stack, event: np.ndarray, energy_mev: np.ndarray,
             start_x0: np.ndarray, cos_theta: np.ndarray, tune: EmTune, spots_scale: float = 1.0,
             tilt: np.ndarray | None = None, charged: np.ndarray | None = None,
             t_offset: np.ndarray | None = None, incident: bool = False, copies: int = 1) -> Spots:
    """Spots of EM showers of ``energy_mev`` starting ``start_x0`` radiation lengths along their axis.

    ``event`` maps each shower to its event in the batch (a hadronic shower's EM part shares
    the event of its pion); ``cos_theta`` is per shower. The spots of a shower carry its full
    energy; the part beyond the back of the calorimeter leaks out when deposited. ``tilt``
    (showers × 2) is the transverse direction (tan θ cos φ, tan θ sin φ) of a sub-shower that
    leaves the event axis at its start: its spots are shifted by the path beyond the start times it.
    ``charged`` (per shower) adds the :func:`leading_tracks` of that many charged particles from the
    start to the depth of maximum (normal incidence on the axis; their energy is taken from the profile).
    With the tune's ``track_growth_length`` λ > 0 (an ``incident`` shower) the leading tracks multiply as
    charged · exp(t/λ) until the profile's energy per depth bin overtakes theirs (:func:`_young_shower_depth`); the
    profile in front of that depth is cut away and the rest keeps its shape. GFlash's gamma profile, fitted to the
    bulk of the shower, rises as t^(α−1) (α ≈ 5 for 50 GeV in W) and leaves the young shower too little and too
    fluctuating a signal: Geant4's ILD photons (shipped geant4_ild_photons_50gev) light the four central cells of
    the first plane behind their conversion with a median 0.54 MeV (about three MIPs: the pair has already
    multiplied), of layer 1 with 1.41 MeV, where two constant tracks and the profile gave 0.44 and 0.71.
    ``t_offset`` (X0, per shower) moves the depth of maximum (:func:`shower_shape`). ``incident`` (an incident e± or γ,
    not a hadronic shower's π⁰ sub-showers, which keep GFlash's profile and radii) applies the tune's
    :func:`_deep_tail` and ``radial_alpha_coupling``. With ``copies`` n > 1 a share 1/n of the core and halo spots is
    drawn and each is deposited n times, at its azimuth turned by k/n of a turn, with 1/n of its energy
    (:attr:`Spots.copies`, turned at deposit): the same deposits from 1/n of the draws.
    """
    medium = stack.front
    energy_gev = energy_mev / 1000.0
    ln_e = np.log(np.maximum(energy_gev, 1e-3))
    ln_y, shift = np.log(np.maximum(energy_mev, 1e-3) / medium.critical_energy), 0.0 if t_offset is None else t_offset
    t_max, alpha, t_sam = shower_shape(rng, ln_y, medium, tune, visible=stack.active_readout, t_offset=shift)
    beta = (alpha - 1.0) / t_max
    deep_tail = incident and (tune.deep_tail_decoupling > 0 or tune.deep_tail_spread > 0)
    if deep_tail or (incident and tune.radial_alpha_coupling > 0):
        t_mid, a_mid, _ = median_profile(ln_y, medium, tune, stack.active_readout, shift)
    if incident and tune.radial_alpha_coupling > 0:  # the radial profile follows the shower's age: τ = t / its centroid
        t_sam = t_sam * (alpha / (alpha - 1.0) * (a_mid - 1.0) / a_mid) ** tune.radial_alpha_coupling
    back = stack.from_mm(np.full(len(energy_mev), stack.depth) / cos_theta, cos_theta, "X0")
    reach = np.maximum(back - start_x0, 1.0)
    cdf = gammainc(alpha[:, None], beta[:, None] * reach[:, None] * np.linspace(0.0, 1.0, DEPTH_BINS + 1))
    tracks, young = None, None
    if charged is not None:
        growth = tune.track_growth_length if incident else 0.0
        if growth > 0:  # the young shower: multiplying tracks, then the profile (its part in front cut away)
            young = _young_shower_depth(cdf, reach, energy_mev, charged, stack.mip_loss[0] * medium.X0, growth, t_max)
        tracks = leading_tracks(stack, event, stack.to_mm(start_x0, cos_theta, "X0"),
                                stack.to_mm(start_x0 + (t_max if young is None else young), cos_theta, "X0"), charged,
                                growth, cos_theta)
        energy_mev = np.maximum(energy_mev - np.bincount(tracks.event, tracks.energy, minlength=len(energy_mev)), 0.0)
    if young is not None:
        cut = gammainc(alpha, beta * young)[:, None]
        cdf = np.maximum(cdf - cut, 0.0) / np.maximum(1.0 - cut, 1e-300)
    if deep_tail:
        cdf = _deep_tail(rng, cdf, reach, gammaincc(alpha, beta * tune.deep_tail_depth),
                         gammaincc(a_mid, (a_mid - 1.0) / t_mid * tune.deep_tail_depth), tune)
    if tune.depth_clump_energy > 0:  # the slices' energies fluctuate about the smooth profile
        cdf = clumped_profile(rng, cdf, energy_mev, tune.depth_clump_energy, tune.depth_clump_length, reach)
    counts = spot_count(energy_gev, tune.spots_per_gev * spots_scale / copies, max(MIN_SPOTS // copies, 1))
    quantum = (copies * tune.deposit_quantum / np.maximum((1.0 - tune.halo_fraction) * energy_mev, 1e-3)
               if tune.deposit_quantum > 0 else None)
    owner, t, share, is_quantum = _stratified_depths(rng, cdf, reach, counts, tune.flat_depth_share, quantum,
                                                     tune.quantum_energy_spread)
    w = share * ((1.0 - tune.halo_fraction) * energy_mev)[owner]
    first = _segment_starts(np.bincount(owner, minlength=len(energy_mev)))
    rank = np.arange(len(owner)) - first[owner]
    radius, radial_weight = sample_radius(rng, t / t_sam[owner], ln_e[owner], medium, tune, owner, rank)
    azimuth = _weyl(rng.random(len(energy_mev)), owner, first, tune.azimuth_step)
    if tune.quantum_radius > 0 and is_quantum.any():
        # a far-tail quantum is a photon of the attenuation minimum that flew off the core before it interacted:
        # its own wide, exponential lateral spread and an independent azimuth (a few clumps, not a smooth profile)
        radius[is_quantum] = tune.quantum_radius * rng.standard_exponential(int(is_quantum.sum()))
        azimuth[is_quantum] = rng.random(int(is_quantum.sum()))
        radial_weight[is_quantum] = 1.0
    if tune.radial_spread_share > 0:  # importance-sampled radii: weighted spots, each shower's total kept
        _reweight(w, radial_weight, owner, len(energy_mev))

    halo_mean = halo_count(energy_gev, tune, spots_scale / copies)
    if tune.halo_count_spread > 0:  # soft photons come from few sources: their number fluctuates beyond Poisson
        shape = np.maximum(energy_gev, 1e-3) / tune.halo_count_spread**2  # relative sd spread / √E (gamma mixture)
        halo_mean = halo_mean * rng.standard_gamma(shape) / shape
    halo_counts = np.maximum(rng.poisson(halo_mean), 1)
    halo_owner, t_halo, _, _ = _stratified_depths(rng, cdf, reach, halo_counts, 0.0)
    if tune.halo_flight_share > 0:  # soft photons flying far sideways also fly far in depth
        u_halo = _weyl(rng.random(len(energy_mev)), halo_owner, _segment_starts(halo_counts), _WEYL[0])
        depth_offset, r_halo = halo_flights(rng, u_halo, tune)
        t_halo += depth_offset
    else:
        t_halo += asymmetric_laplace(rng, tune.halo_depth, tune.halo_depth_forward, len(halo_owner))
        u_halo = _weyl(rng.random(len(energy_mev)), halo_owner, _segment_starts(halo_counts), _WEYL[0])
        r_halo = -tune.halo_radius * np.log1p(-np.minimum(u_halo, 1.0 - 1e-9))
    az_halo = rng.random(len(halo_owner))  # independent soft photons: i.i.d. azimuths (sparse outer cells)
    w_halo = (tune.halo_fraction * energy_mev / halo_counts)[halo_owner]
    if tune.halo_energy_spread > 0:  # soft photons of a broad spectrum: gamma-distributed deposits, same halo total
        spread = rng.standard_gamma(1.0 / tune.halo_energy_spread**2, len(w_halo))
        _share_out(w_halo, spread, halo_owner, halo_counts)

    # the leading tracks (on the axis) go first, then the core spots, then the halo; only the core follows the
    # wander of the centre of gravity (a millimetre against the halo's several Molière radii)
    cos_core, cos_halo = cos_theta[owner], cos_theta[halo_owner]
    path = stack.to_mm(start_x0[owner] + t, cos_core, "X0")
    moliere = stack.property_at("moliere_radius", path * cos_core)
    shift_x, shift_y = _wander(rng, tune.axis_wander, energy_gev, reach, owner, t) * moliere
    path_halo = stack.to_mm(start_x0[halo_owner] + t_halo, cos_halo, "X0")
    moliere_halo = stack.property_at("moliere_radius", path_halo * cos_halo)
    halo_shift = (None, None)
    if tilt is not None:  # a sub-shower leaving the axis: its spots are shifted by their path beyond its start
        entry = stack.to_mm(start_x0, cos_theta, "X0")
        shift_x, shift_y = (shift_x + (path - entry[owner]) * tilt[owner, 0],
                            shift_y + (path - entry[owner]) * tilt[owner, 1])
        beyond = path_halo - entry[halo_owner]
        halo_shift = (beyond * tilt[halo_owner, 0], beyond * tilt[halo_owner, 1])
    core = Spots(event[owner], path, radius * moliere, w, shift_x, shift_y, azimuth, copies=copies)
    halo = Spots(event[halo_owner], path_halo, r_halo * moliere_halo, w_halo, *halo_shift, az_halo, copies=copies)
    return Spots.concat(core, halo) if tracks is None else Spots.concat(tracks, core, halo)
