"""The free constants of the parametric shower model, each with its source, in one place.

GFlash's published constants (Grindhammer & Peters, hep-ex/0001020) stay in the formulas of
:mod:`._gflash` next to their citation. What GFlash lacks or leaves free — spot counts, the
diffuse low-energy halo, the MIP track's δ-rays, the pion's lateral halo — is a constant of a
*tune*: ``tunes.yaml`` beside this module holds named tunes, each constant as ``{value, source}``
("fitted to Geant4 sample X by benchmarks/tune_showers.py", or a paper). The tuning script
rewrites the values it fits; a dataset spec picks a tune with the simulator option ``tune``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from physgen.errors import SpecError, did_you_mean

__all__ = ["EmTune", "PionTune", "Tune", "TUNES_FILE", "load_tune", "tune_names"]

TUNES_FILE = Path(__file__).with_name("tunes.yaml")


class EmTune(BaseModel):
    """Electromagnetic showers: GFlash energy profile plus what Geant4 shows and GFlash lacks."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    spots_per_gev: float = Field(gt=0, description="core spots per GeV (times E^0.959, GFlash's exponent)")
    flat_depth_share: float = Field(ge=0, lt=1, description="share of core spots drawn uniformly in depth to the "
                                    "back of the calorimeter (importance-weighted: many small deep deposits)")
    deposit_quantum: float = Field(ge=0, description="least energy (MeV) of a core deposit: lighter spots of the "
                                   "sparse far tail become a Poisson number of deposits of this energy")
    t_max_shift: float = Field(description="X0 added to GFlash's homogeneous mean depth of maximum ln y − 0.812")
    quantum_energy_spread: float = Field(1.0, gt=0, description="relative spread (sd / mean) of the far-tail quanta's "
                                         "energies (1: exponential; otherwise log-normal)")
    quantum_radius: float = Field(0.0, ge=0, description="mean radius (Molière radii, exponential) of the far-tail "
                                  "quanta; 0: they follow GFlash's radial profile like the other core spots")
    t_max_slope: float = Field(1.0, gt=0, description="multiplies ln y in GFlash's homogeneous mean depth of maximum")
    pair_t_max_shift: float = Field(0.0, description="X0 added to the depth of maximum of a photon's shower, counted "
                                    "from its conversion point (its e+e− pair shares the energy)")
    depth_clump_energy: float = Field(0.0, ge=0, description="MeV: the energy profile's deposit in each depth slice "
                                      "arrives in independent lots of this energy (a slice of energy e gets a gamma of "
                                      "shape e / this, the shower's total kept); 0: GFlash's smooth profile")
    depth_clump_length: float = Field(0.0, ge=0, description="λ (X0): the slices' relative fluctuations are those of "
                                      "their lots summed over a two-sided exponential window of this length, so "
                                      "neighbouring slices fluctuate together (a sub-shower spans several); 0: "
                                      "independent slices")
    track_growth_length: float = Field(0.0, ge=0, description="λ (X0): an incident e± or γ's leading charged tracks "
                                       "multiply as exp(t/λ) from its start until the profile's energy per depth "
                                       "overtakes theirs, and the profile in front of that depth is cut away (0: "
                                       "as many tracks as at the start, to the depth of maximum, over the whole "
                                       "profile)")
    alpha_scale: float = Field(gt=0, description="multiplies GFlash's homogeneous mean α")
    profile_spread_scale: float = Field(1.0, gt=0, description="multiplies GFlash's shower-to-shower spreads "
                                        "σ(ln T) and σ(ln α) of the energy profile")
    alpha_spread_ratio: float = Field(1.0, gt=0, description="multiplies σ(ln α) of the energy profile once more "
                                      "(after profile_spread_scale; GFlash: 1)")
    profile_correlation_shift: float = Field(0.0, ge=-1, le=1, description="added to GFlash's correlation ρ(ln y) of "
                                             "ln T and ln α (clipped to |ρ| ≤ 0.99; GFlash: 0)")
    radial_tau_coupling: float = Field(ge=0, le=1, description="how much of the shower's own fluctuation of T "
                                       "enters τ = t/T of the radial profile (GFlash: 1)")
    radial_alpha_coupling: float = Field(0.0, ge=0, description="λ: τ of the radial profile is t over the sampling "
                                         "T times ((α/(α − 1)) / (ᾱ/(ᾱ − 1)))^λ, the shower's profile centroid over "
                                         "the median profile's (0: GFlash, τ = t/T whatever α)")
    active_signal_scale: float = Field(1.0, gt=0, description="multiplies the MIP sampling fraction of an ``active`` "
                                       "readout (the signal in the active layers per unit deposit; 1: a MIP's)")
    track_length_spread: float = Field(0.0, ge=0, description="log-sd of a per-shower log-normal factor (mean 1) on "
                                       "the crossings of the active planes per unit deposit of an ``active`` readout: "
                                       "the shower's charged track length fluctuates as a whole (0: independent "
                                       "crossings)")
    crossing_obliquity: float = Field(1.0, ge=1, description="an ``active`` readout's mean path of a shower particle "
                                      "through one sampling period over the period (1/cos θ): a deposit e makes "
                                      "e / (this · e_x) crossings of the active planes, each with this times a normally "
                                      "incident MIP's signal, the sampling fraction kept (1: normal incidence)")
    azimuth_step: float = Field(0.7320508075688772, gt=0, lt=1, description="step (turns) of the per-shower "
                                "Kronecker sequence of the core spots' azimuths; it must not be tied to the radius "
                                "step √2 − 1 by a relation of small integers (√3 − 1 is: 5 (√2 − 1) + 4 (√3 − 1) "
                                "≈ 5, which fixes the four-fold azimuthal phase of a spot by its radius)")
    axis_wander: float = Field(ge=0, description="sd of the per-shower transverse wander of the shower's centre "
                               "of gravity, in Molière radii per X0 of depth at 1 GeV (falls as 1/√E)")
    core_radius_scale: float = Field(gt=0, description="multiplies GFlash's core radius R_C")
    tail_radius_scale: float = Field(gt=0, description="multiplies GFlash's tail radius R_T")
    radius_cutoff: float = Field(gt=0, description="largest radius (Molière radii) of GFlash's core and tail profiles")
    tail_growth_scale: float = Field(ge=0, description="multiplies k4, GFlash's growth of R_T with depth")
    independent_tail_radii: bool = Field(False, description="the tail component's spots draw their radii "
                                         "independently, not from the shower's Kronecker sequence (False: all "
                                         "radii stratified)")
    radial_spread_share: float = Field(0.0, ge=0, lt=1, description="share of core spots whose radius is drawn "
                                       "from a broad profile (importance-weighted: many light deposits off the axis); "
                                       "0: GFlash's profile alone")
    radial_spread_radius: float = Field(1.0, gt=0, description="R (Molière radii) of that broad profile "
                                        "2rR²/(r² + R²)², truncated at radius_cutoff")
    radial_spread_depth: float = Field(1.0, gt=0, description="the share falls as exp(−τ / this) with τ = t/T: "
                                       "the broad deposits are the early shower's")
    deep_tail_depth: float = Field(20.0, gt=0, description="depth (X0 from the shower's start) beyond which the "
                                   "profile's energy is the deep tail of deep_tail_decoupling and deep_tail_spread")
    deep_tail_decoupling: float = Field(0.0, ge=0, le=1, description="d: the deep tail's share of the energy is "
                                        "the profile's to the power 1 − d times the median profile's to the power d "
                                        "(0: GFlash, the tail follows the shower's own T and α)")
    deep_tail_spread: float = Field(0.0, ge=0, description="sd of the log of a per-shower factor A (log-normal, "
                                    "median 1) on the deep tail's share of the energy, independent of the profile "
                                    "(0: none)")
    halo_fraction: float = Field(ge=0, lt=1, description="share of the energy in the diffuse low-energy halo")
    halo_radius: float = Field(gt=0, description="mean radius of the halo deposits, in Molière radii")
    halo_depth: float = Field(gt=0, description="scale (X0) of the spread of halo depths in front of the profile's")
    halo_depth_forward: float = Field(gt=0, description="scale (X0) of the spread of halo depths behind the profile's")
    halo_spots_per_gev: float = Field(gt=0, description="halo deposits per GeV")
    halo_spot_exponent: float = Field(1.0, gt=0, description="γ of the mean halo count halo_spots_per_gev · E · "
                                      "(E / 10 GeV)^(γ − 1) (E in GeV; 1: proportional to the energy)")
    halo_count_spread: float = Field(0.0, ge=0, description="relative spread (sd / mean) at 1 GeV, falling as 1/√E, "
                                     "of a shower's number of halo deposits beyond Poisson (gamma mixture); the halo "
                                     "energy stays the same (0: Poisson)")
    halo_flight_share: float = Field(0.0, ge=0, le=1, description="share of the halo deposits whose depth offset "
                                     "and radius come from one isotropic flight (0: independent draws)")
    halo_energy_spread: float = Field(0.0, ge=0, description="relative spread (sd / mean) of the energy of one halo "
                                      "deposit, gamma-distributed (0: all equal; 1: exponential)")


class PionTune(BaseModel):
    """Charged pions: interaction, MIP track with δ-rays, EM and hadronic parts (docs/PHYSICS.md §5)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    lambda_scale: float = Field(gt=0, description="pion interaction length over the nuclear λ_int of the spec")
    f_em_exponent: float = Field(gt=0, description="m of ⟨f_em⟩ = 1 − E^(m − 1) (Groom's power law)")
    f_em_concentration: float = Field(gt=0, description="α + β of the beta distribution of f_em")
    e_over_h: float = Field(ge=1, description="e/h of the hadronic component")
    pi0_extra_showers: float = Field(ge=0, description="mean number of π⁰ showers beyond the first (Poisson)")
    secondary_pt: float = Field(gt=0, description="mean transverse momentum (GeV) of a π⁰ shower off the pion axis")
    hadron_radius: float = Field(gt=0, description="R of the hadronic lateral profile 2rR²/(r²+R²)², in λ_int")
    hadron_depth_spread: float = Field(gt=0, description="scale (λ_int) of the Laplace spread of hadronic deposits in depth")
    hadron_backward_spread: float | None = Field(None, gt=0, description="scale (λ_int) of that spread behind the "
                                                 "deposit's depth (then two exponentials, continuous at 0); None: "
                                                 "hadron_depth_spread (a Laplace spread)")
    hadron_spots_per_gev: float = Field(gt=0, description="hadronic-component spots per visible GeV")
    pi0_spot_copies: int = Field(1, ge=1, le=64, description="n: the π⁰ sub-showers draw 1/n of their core and halo "
                                 "spots and deposit each n times, at azimuths k/n of a turn apart with 1/n of its "
                                 "energy (speed: the same deposits from 1/n the draws; 1: every deposit drawn); a power "
                                 "of 2, so that the turns fall on the readout's table of azimuths")
    track_step_spread: float = Field(gt=0, description="relative spread of a track step's deposit (Landau stand-in)")
    track_loss_scale: float = Field(1.0, gt=0, description="mean energy loss of the pion track over the mixture's "
                                    "minimum-ionising loss (relativistic rise; 1: minimum-ionising)")
    delta_ray_radius: float = Field(gt=0, description="mean radius (mm) of the track's δ-ray deposits")
    track_delta_cut: float = Field(0.0, ge=0, description="T_cut (MeV): the track's δ-rays above it are drawn one "
                                   "by one from the Bethe 1/T² spectrum (a Landau-like loss with its long tail), "
                                   "below it a steady loss of variance ξ x T_cut; 0: a gamma-distributed loss per "
                                   "step of relative width track_step_spread")
    delta_ray_photon_path: float = Field(30.0, gt=0, description="mean flight (mm) of the soft photons the track's "
                                         "δ-rays radiate (with track_delta_cut > 0)")
    soft_photon_share: float = Field(0.0, ge=0, lt=1, description="share of the visible hadronic energy carried by "
                                     "soft photons of the nuclear break-up (isotropic, many small deposits)")
    soft_photon_energy: float = Field(1.0, gt=0, description="mean energy (MeV) of one soft-photon deposit")
    soft_photon_path: float = Field(40.0, gt=0, description="mean flight (mm) of a soft photon before it deposits")
    soft_photon_far_share: float = Field(0.0, ge=0, le=1, description="share of the soft photons that fly "
                                         "``soft_photon_far_path`` instead (the capture photons of neutrons that "
                                         "travelled far from the cascade before slowing down)")
    soft_photon_far_path: float = Field(200.0, gt=0, description="mean flight (mm) of those far soft photons")
    soft_photon_depth_spread: float = Field(0.0, ge=0, description="scale (λ_int) of the Laplace spread in depth of "
                                            "the soft photons' origins (0: on the cascade's profile)")
    delta_ray_share: float = Field(ge=0, le=1, description="share of the track's energy loss carried by δ-rays "
                                   "(the rest is deposited on the track)")
    track_photon_share: float = Field(0.0, ge=0, lt=1, description="share of the track's energy loss that leaves "
                                      "as soft photons (δ-ray bremsstrahlung; energy and flight as the cascade's)")
    leading_share: float = Field(0.0, ge=0, lt=1, description="mean share of the energy at the first interaction "
                                 "that a leading hadron carries on to a second one (1 − inelasticity; 0: one "
                                 "interaction takes all)")
    leading_share_concentration: float = Field(2.0, gt=0, description="α + β of the beta distribution of that share")
    quasi_elastic_share: float = Field(0.0, ge=0, lt=1, description="probability that a pion's first interaction is "
                                       "quasi-elastic (a local deposit of nuclear fragments; the pion goes on; 0: none)")
    quasi_elastic_energy: float = Field(200.0, gt=0, description="mean visible energy (MeV, exponential) of that "
                                        "local deposit")
    quasi_elastic_radius: float = Field(5.0, gt=0, description="mean radius (mm, exponential) of the local deposit")

    @model_validator(mode="after")
    def _track_shares_fit(self) -> PionTune:
        if self.delta_ray_share + self.track_photon_share > 1:
            msg = "delta_ray_share + track_photon_share exceed 1 (the track's loss would be negative)"
            raise ValueError(msg)
        if self.pi0_spot_copies & (self.pi0_spot_copies - 1):
            msg = f"pi0_spot_copies must be a power of 2 (1, 2, 4, … 64), not {self.pi0_spot_copies}"
            raise ValueError(msg)
        return self


class Tune(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    em: EmTune
    pion: PionTune
    sources: dict[str, str]


@functools.cache
def _tunes() -> dict[str, dict]:
    return yaml.safe_load(TUNES_FILE.read_text())


def tune_names() -> list[str]:
    return sorted(_tunes())


@functools.cache
def load_tune(name: str) -> Tune:
    """The tune ``name`` of ``tunes.yaml``; an unknown name or a malformed entry is a :class:`SpecError`."""
    tunes = _tunes()
    if name not in tunes:
        msg = f"unknown shower tune {name!r}{did_you_mean(name, tunes, listing='tunes')}"
        raise SpecError(msg)
    entry, sources = tunes[name], {}
    parts = {}
    for part in ("em", "pion"):
        parts[part] = {}
        for key, item in (entry.get(part) or {}).items():
            parts[part][key] = item["value"]
            sources[f"{part}.{key}"] = item["source"]
    try:
        return Tune(name=name, em=EmTune(**parts["em"]), pion=PionTune(**parts["pion"]), sources=sources)
    except ValidationError as err:
        msg = f"{TUNES_FILE}: tune {name!r} is malformed: {err}"
        raise SpecError(msg) from None
