"""Z/γ* → μμ events with pileup and a parametric CMS-like detector (paper 002, docs/PHYSICS.md §7).

Per event (``simulate``):

1. Hard process: Pythia 8 at √s = 13 TeV, ``WeakSingleBoson:ffbar2gmZ`` with Z → μμ only and
   m̂ > ``m_hat_min``.
2. Pileup: n ~ Poisson(``pileup_mean``) minimum-bias events (``SoftQCD:nonDiffractive``, a second
   Pythia instance) overlaid on the hard event. Minimum bias is drawn with replacement from a
   pool of ``pileup_pool_size`` events, generated once per process from ``pileup_seed`` (so every
   chunk of every run sees the same pool), each overlaid copy rotated by a random φ so repeated
   draws are not identical.
3. Particle-flow candidates: every visible final-state particle with |η| < ``calorimeter_max_abs_eta``,
   its energy smeared with the resolution of the sub-detector that measures it (the Delphes CMS
   card's formulas, the detector paper 002 used): charged particles inside the tracker
   (|η| < ``tracker_max_abs_eta``) by ``track_resolution``, photons by ``ecal_resolution``, neutral
   hadrons and charged particles outside the tracker by ``hcal_resolution``. Charged candidates
   inside the tracker know their vertex (hard or pileup); the others do not.
4. Reconstruction, as CMS does it:

   * muons: final-state muons with |η| < ``muon_max_abs_eta``, pT smeared by σ/pT = √(a² + (b pT)²)
     per |η| bin (pT in GeV, b per GeV: the relative resolution of the Delphes CMS card's
     ``MuonMomentumSmearing``, which draws log-normally; a Gaussian here, the same at σ/pT ≤ 3 %),
     then found with probability ``muon_efficiency`` if their smeared pT exceeds ``muon_min_pt``
     (the card's ``MuonEfficiency`` acts after the smearing); the two leading ones in smeared pT are
     the event's muons;
   * selection (paper 002's public dataset, as its authors' code made it, github.com/bth5032/DY-GAN:
     ``delphes/convert.py`` keeps opposite-charge pairs, the notebooks keep generator-level
     M_ll > 50 GeV): at least two reconstructed muons, of opposite charges if ``opposite_charge``,
     and generator-level M_ll (``m_ll_true``: the two hardest final-state muons of the hard event,
     after photon radiation) above ``generator_m_ll_min``; generation continues until ``n`` events
     are kept. There is no window on the reconstructed M_ll (nor, by its numbers, in the authors'
     file: their notebooks print 89.43 ± 11.90 GeV for it, an RMS no 50–150 GeV window reaches here).
     This muon reconstruction applied to 50 000 Pythia events (19 000 selected) gives a mean of
     89.42 ± 0.10 GeV and an RMS of 13.5 GeV, but half of its variance comes from the 0.5 % of
     events above 150 GeV, so it is not a stable number; in 60–120 GeV the mean is 89.53 ± 0.05 and
     the RMS 6.77 ± 0.07 GeV, the generator level's 6.90 ± 0.04 less a little acceptance (paper 002's
     text quotes 89.6 and 7.7 GeV without a range: 55–125 GeV would give 7.8);
   * isolation of each of the two leading muons in ΔR < ``isolation_cone`` over candidates with
     pT > ``isolation_min_pt``, relative to the muon pT, per class: charged from the hard vertex,
     charged from pileup vertices, photons, neutral hadrons. ``mu*_iso`` is the pileup-corrected
     sum with the Δβ correction of CMS: charged(hard) + max(0, photons + neutral − Δβ · charged(PU)),
     Δβ = ``isolation_delta_beta`` = 0.5, the neutral-to-charged ratio of pileup energy (CMS muon
     paper, JINST 13 (2018) P06015, Sec. 6.2; the same definition is Delphes' muon isolation);
   * jets: anti-kT R = 0.4 (FastJet) of the candidates without muons and without charged pileup
     candidates (charged-hadron subtraction, CHS), with FastJet's Voronoi jet areas (passive areas,
     deterministic: the ghosts of active areas come from a process-wide random generator that
     FastJet's Python bindings cannot seed, so events would depend on what the process clustered
     before); each jet's four-momentum minus ρ·A (``fastjet.Subtractor``), ρ the
     median pT density of the same CHS candidates from a ``GridMedianBackgroundEstimator`` in each
     |η| range of ``rho_ranges`` (cells of ``rho_grid_spacing``; the Delphes CMS pileup card's
     ranges and spacing); the five leading corrected jets above ``jet_min_pt`` with |η| <
     ``jet_max_abs_eta`` = 2.5 are kept (0 if absent). Beyond the tracker CHS cannot act and CMS needs
     a pileup-jet identification (not modelled): measured here with 20 pileup interactions, jets at
     2.5 < |η| < 5 add 0.3 per event of which almost none exist without pileup;
   * MET = −Σ p⃗T of the reconstructed muons and every other candidate, pileup included (the
     particle-flow MET of CMS and of Delphes' CMS card); nothing is added to it. Its resolution in
     Z → μμ events was compared with CMS's 13 TeV parametrisation versus ΣE_T (``pf_sum_et``, the
     scalar pT sum of the candidates other than the muons): σ(u∥) = 2.0 + 0.64 √ΣE_T and
     σ(u⊥) = −1.5 + 0.68 √ΣE_T GeV (CMS-PAS-JME-17-001, Table 3, as transcribed in Rivet's
     ``MET_SMEAR_CMS_RUN2``, ``include/Rivet/Tools/ExptSmearingFunctions.hh``). Over 2700 events with
     0, 20 and 40 pileup interactions (ΣE_T up to 4400 GeV) the candidates' own resolutions and the
     pileup give σ(u⊥) = −0.4 + 0.65 √ΣE_T and σ(u∥) = −0.3 + 0.65 √ΣE_T: the √ΣE_T terms agree with
     CMS within 5 %, so there is nothing to calibrate there (an extra isotropic term would spoil u⊥);
     what is missing is the constant ≈ 2 GeV of CMS's u∥, the response of the hard recoil along q⃗T,
     so σ(u∥) is 7–10 % low with pileup (README's reference-physics table);
   * nVTX = 1 + Binomial(n_pileup, ``vertex_efficiency``): 1 by default, as in the Delphes card paper
     002 used, whose ``Vertex`` branch is ``PileUpMerger/vertices``, one vertex per interaction
     (Delphes 3.4.2, ``modules/PileUpMerger.cc``); a CMS-like vertex-finding inefficiency is a value
     below 1. ``nvtx_smeared`` = nVTX + N(0, 0.5) (paper 002, Sec. 3).
5. Both muons and MET are rotated in φ so that the leading muon has p_y = 0, p_x > 0.

The stored schema (``zmumu_reco``) is the 17 features of ``zmumu17`` plus extra variables
(integer nVTX, number of pileup interactions, ΣE_T of the candidates, per-class isolation,
generator-level M_ll, weight).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from physgen.sim._base import Simulator, register_simulator
from physgen.sim._pythia import (
    PythiaGenerator,
    check_acceptance,
    event_weights,
    fastjet_module,
    final_state,
    pythia_seed,
    pythia_version,
)

__all__ = ["MUON_MASS", "ZmumuSimulator"]

MUON_MASS = 0.1056583755  # GeV (PDG)


class ResolutionBin(BaseModel):
    """σ(pT)/pT = √(a² + (b pT)²) for |η| up to ``max_abs_eta``."""

    model_config = ConfigDict(extra="forbid")
    max_abs_eta: float = Field(gt=0)
    a: float = Field(ge=0)
    b: float = Field(ge=0, description="per GeV")


class CalorimeterResolution(BaseModel):
    """σ(E) = √((c E)² + s² E + n²) (E in GeV) for |η| up to ``max_abs_eta``."""

    model_config = ConfigDict(extra="forbid")
    max_abs_eta: float = Field(gt=0)
    constant: float = Field(ge=0, description="c")
    stochastic: float = Field(ge=0, description="s (GeV^½)")
    noise: float = Field(0.0, ge=0, description="n (GeV)")


# Delphes 3 CMS card (cards/delphes_card_CMS.tcl, "based on arXiv:1405.6569" for tracks); the ECAL
# barrel/endcap η shape factors (1 + 0.64 η², 2.16 + 5.6 (|η| − 2)²) are taken at their |η|-bin
# averages over their |η| bins (1.48 and 2.63) because the bins here hold constants.
_CMS_MUON_RESOLUTION = [ResolutionBin(max_abs_eta=0.5, a=0.01, b=1e-4),
                        ResolutionBin(max_abs_eta=1.5, a=0.015, b=1.5e-4),
                        ResolutionBin(max_abs_eta=2.5, a=0.025, b=3.5e-4)]
_CMS_TRACK_RESOLUTION = [ResolutionBin(max_abs_eta=0.5, a=0.06, b=1.3e-3),
                         ResolutionBin(max_abs_eta=1.5, a=0.10, b=1.7e-3),
                         ResolutionBin(max_abs_eta=2.5, a=0.25, b=3.1e-3)]
_CMS_ECAL_RESOLUTION = [CalorimeterResolution(max_abs_eta=1.5, constant=0.0118, stochastic=0.163, noise=0.59),
                        CalorimeterResolution(max_abs_eta=2.5, constant=0.021, stochastic=0.289, noise=1.05),
                        CalorimeterResolution(max_abs_eta=5.0, constant=0.107, stochastic=2.08)]
_CMS_HCAL_RESOLUTION = [CalorimeterResolution(max_abs_eta=3.0, constant=0.050, stochastic=1.50),
                        CalorimeterResolution(max_abs_eta=5.0, constant=0.130, stochastic=2.70)]


class Threshold(BaseModel):
    """A calorimeter deposit is kept if E > ``energy_min`` and E > ``significance_min`` · σ(E)."""

    model_config = ConfigDict(extra="forbid")
    energy_min: float = Field(ge=0, description="GeV")
    significance_min: float = Field(ge=0)


def _ordered_bins(name: str, bins: list, reach: float) -> None:
    edges = [b.max_abs_eta for b in bins]
    if not edges or edges != sorted(edges) or edges[-1] < reach:
        msg = f"{name} bins must be ordered in max_abs_eta and reach {reach}, got {edges}"
        raise ValueError(msg)


class ZmumuOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sqrt_s: float = Field(13000.0, gt=0, description="centre-of-mass energy (GeV)")
    m_hat_min: float = Field(60.0, ge=0, description="minimum dimuon invariant mass at generation (GeV)")
    pileup_mean: float = Field(20.0, ge=0, description="mean number of minimum-bias interactions")
    pileup_pool_size: int = Field(1000, gt=0, description="minimum-bias events in the reusable pool")
    pileup_seed: int = Field(20, ge=0, description="seed of the minimum-bias pool")
    generator_m_ll_min: float = Field(
        0.0, ge=0, description="keep events whose generator-level M_ll (m_ll_true) exceeds this (GeV)")
    opposite_charge: bool = Field(False, description="keep events whose two muons have opposite charges")
    muon_min_pt: float = Field(10.0, ge=0)
    muon_max_abs_eta: float = Field(2.4, gt=0)
    muon_efficiency: float = Field(0.95, ge=0, le=1)
    muon_resolution: list[ResolutionBin] = Field(default_factory=lambda: list(_CMS_MUON_RESOLUTION))
    track_resolution: list[ResolutionBin] = Field(default_factory=lambda: list(_CMS_TRACK_RESOLUTION))
    ecal_resolution: list[CalorimeterResolution] = Field(default_factory=lambda: list(_CMS_ECAL_RESOLUTION))
    hcal_resolution: list[CalorimeterResolution] = Field(default_factory=lambda: list(_CMS_HCAL_RESOLUTION))
    ecal_threshold: Threshold = Field(default_factory=lambda: Threshold(energy_min=0.5, significance_min=2.0))
    hcal_threshold: Threshold = Field(default_factory=lambda: Threshold(energy_min=1.0, significance_min=1.0))
    isolation_cone: float = Field(0.3, gt=0)
    isolation_min_pt: float = Field(0.5, ge=0)
    isolation_delta_beta: float = Field(
        0.5, ge=0, description="Δβ: share of the charged pileup pT removed from the neutral isolation")
    jet_radius: float = Field(0.4, gt=0)
    jet_min_pt: float = Field(20.0, ge=0, description="after the ρ·A subtraction (GeV)")
    jet_max_abs_eta: float = Field(2.5, gt=0, description="jets inside the tracker, where CHS works")
    rho_ranges: list[tuple[float, float]] = Field(default_factory=lambda: [(-5.0, -2.5), (-2.5, 2.5), (2.5, 5.0)],
                                                  description="η ranges with their own ρ")
    rho_grid_spacing: float = Field(1.0, gt=0, description="cell size (η and φ) of the grid-median ρ")
    calorimeter_max_abs_eta: float = Field(5.0, gt=0)
    tracker_max_abs_eta: float = Field(2.5, ge=0, description="charged candidates inside know their vertex")
    vertex_efficiency: float = Field(1.0, ge=0, le=1, description="chance a pileup vertex is reconstructed")
    nvtx_smearing: float = Field(0.5, ge=0)
    pythia_settings: list[str] = Field(default_factory=list, description="extra Pythia lines (hard process)")

    @model_validator(mode="after")
    def _bins_cover_their_detectors(self):
        _ordered_bins("muon_resolution", self.muon_resolution, self.muon_max_abs_eta)
        _ordered_bins("track_resolution", self.track_resolution, self.tracker_max_abs_eta)
        _ordered_bins("ecal_resolution", self.ecal_resolution, self.calorimeter_max_abs_eta)
        _ordered_bins("hcal_resolution", self.hcal_resolution, self.calorimeter_max_abs_eta)
        ranges = sorted(self.rho_ranges)
        if any(lo >= hi for lo, hi in ranges) or any(a[1] > b[0] for a, b in zip(ranges, ranges[1:])):
            msg = f"rho_ranges must be non-empty, non-overlapping [low, high] η ranges, got {self.rho_ranges}"
            raise ValueError(msg)
        return self


@lru_cache(maxsize=2)
def _pileup_pool(settings: tuple[str, ...], size: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Visible final-state particles of ``size`` minimum-bias events: (offsets, columns)."""
    generator = PythiaGenerator(list(settings), what="pileup")
    generator.start(seed)
    parts, counts = [], []
    while len(counts) < size:
        batch = generator.batch(min(200, size - len(counts)))
        event, cols = final_state(batch)
        counts.extend(np.bincount(event, minlength=len(batch)).tolist())
        parts.append(cols)
    columns = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate([[0], np.cumsum(counts)]), columns


def _true_mass(p: dict[str, np.ndarray]) -> float:
    """Generator-level M_ll: the mass of the two hardest final-state muons of the hard event (NaN if fewer)."""
    truth = np.flatnonzero((np.abs(p["id"]) == 13) & p["hard"])
    truth = truth[np.argsort(-p["pt"][truth])][:2]
    if len(truth) < 2:
        return np.nan
    four = np.array([p["e"][truth].sum(), p["px"][truth].sum(), p["py"][truth].sum(), p["pz"][truth].sum()])
    return float(np.sqrt(max(four[0] ** 2 - (four[1:] ** 2).sum(), 0.0)))


def _relative_resolution(bins: list[ResolutionBin], eta: np.ndarray, pt: np.ndarray) -> np.ndarray:
    """σ(pT)/pT = √(a² + (b pT)²) of the |η| bin of each particle."""
    k = np.minimum(np.searchsorted([b.max_abs_eta for b in bins], np.abs(eta)), len(bins) - 1)
    a, b = np.array([x.a for x in bins])[k], np.array([x.b for x in bins])[k]
    return np.sqrt(a**2 + (b * pt) ** 2)


def _calorimeter_resolution(bins: list[CalorimeterResolution], eta: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """σ(E)/E = √((c E)² + s² E + n²)/E of the |η| bin of each particle."""
    k = np.minimum(np.searchsorted([b.max_abs_eta for b in bins], np.abs(eta)), len(bins) - 1)
    c, s, n = (np.array([getattr(x, f) for x in bins])[k] for f in ("constant", "stochastic", "noise"))
    e = np.maximum(energy, 1e-9)
    return np.sqrt((c * e) ** 2 + s**2 * e + n**2) / e


@register_simulator
class ZmumuSimulator(Simulator):
    """Z/γ* → μμ with pileup and a parametric detector; see the module docstring."""

    name = "zmumu"
    Options = ZmumuOptions
    parallel_by_default = True

    def __init__(self, dataset):
        super().__init__(dataset)
        fastjet = fastjet_module()
        self._fj = fastjet
        o, source = self.options, dataset.dataset.source
        self.hard = PythiaGenerator(self._hard_settings(), what=f"{source}: hard process")
        self.pileup = PythiaGenerator(self._pileup_settings(), what=f"{source}: pileup")  # checks settings now
        self.jet_definition = fastjet.JetDefinition(fastjet.antikt_algorithm, o.jet_radius)
        self.area_definition = fastjet.AreaDefinition(fastjet.VoronoiAreaSpec(1.0))
        self.rho_estimators = [fastjet.GridMedianBackgroundEstimator(
            fastjet.RectangularGrid(lo, hi, o.rho_grid_spacing, o.rho_grid_spacing)) for lo, hi in o.rho_ranges]
        self._charge: dict[int, float] = {}

    def _hard_settings(self) -> list[str]:
        o = self.options
        return [f"Beams:eCM = {o.sqrt_s}", "WeakSingleBoson:ffbar2gmZ = on", "23:onMode = off",
                "23:onIfAny = 13", f"PhaseSpace:mHatMin = {o.m_hat_min}", *o.pythia_settings]

    def _pileup_settings(self) -> list[str]:
        return [f"Beams:eCM = {self.options.sqrt_s}", "SoftQCD:nonDiffractive = on"]

    def simulate(self, n_events, seed):
        o = self.options
        states = seed.generate_state(2, np.uint64)
        rng = np.random.default_rng(states[0])
        offsets, pool = _pileup_pool(tuple(self.pileup.settings), o.pileup_pool_size, pythia_seed(o.pileup_seed))
        self.hard.start(pythia_seed(states[1]))
        kept: list[dict[str, float]] = []
        generated = 0
        while len(kept) < n_events:
            check_acceptance(generated, len(kept), self.hard.what)
            batch = self.hard.batch(int(np.clip(2 * (n_events - len(kept)), 10, 100)))
            generated += len(batch)
            weights = event_weights(batch)
            event, hard = final_state(batch)
            for k in range(len(batch)):
                if len(kept) == n_events:
                    break
                particles = self._overlay({c: v[event == k] for c, v in hard.items()}, offsets, pool, rng)
                muons = self._muons(particles, rng)
                if muons is not None and self._selected(particles, muons[0]):
                    flow = self._candidates(particles, muons[0], rng)
                    kept.append({**self._reconstruct(particles, *muons, flow, rng), "weight": weights[k]})
        return {key: np.array([r[key] for r in kept]) for key in kept[0]}

    def _overlay(self, hard, offsets, pool, rng) -> dict[str, np.ndarray]:
        """Hard-event particles plus Poisson(pileup_mean) pool events, each rotated by a random φ."""
        n_pileup = rng.poisson(self.options.pileup_mean)
        picks = rng.integers(0, len(offsets) - 1, n_pileup)
        index = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in picks] or [np.zeros(0, int)])
        turn = np.repeat(rng.uniform(-np.pi, np.pi, n_pileup), np.diff(offsets)[picks])
        pu = {c: v[index] for c, v in pool.items()}
        cos, sin = np.cos(turn), np.sin(turn)
        pu["px"], pu["py"] = cos * pu["px"] - sin * pu["py"], sin * pu["px"] + cos * pu["py"]
        pu["phi"] = (pu["phi"] + turn + np.pi) % (2 * np.pi) - np.pi
        out = {c: np.concatenate([hard[c], pu[c]]) for c in hard}
        out["hard"] = np.r_[np.ones(len(hard["id"]), bool), np.zeros(len(index), bool)]
        out["charge"] = self._charges(out["id"])
        out["n_pileup"] = n_pileup
        return out

    def _charges(self, ids: np.ndarray) -> np.ndarray:
        """Electric charge (units of e) of each PDG id, from Pythia's particle table."""
        unique, inverse = np.unique(ids, return_inverse=True)
        for pid in unique.tolist():
            if pid not in self._charge:
                self._charge[pid] = self.hard.particle_data.charge(pid)
        return np.array([self._charge[i] for i in unique.tolist()])[inverse]

    def _muons(self, p: dict[str, np.ndarray], rng: np.random.Generator):
        """The two leading reconstructed muons: (indices, smeared (px, py, pz)), or None if fewer than two."""
        o = self.options
        candidates = np.flatnonzero((np.abs(p["id"]) == 13) & (np.abs(p["eta"]) < o.muon_max_abs_eta))
        sigma = _relative_resolution(o.muon_resolution, p["eta"][candidates], p["pt"][candidates])
        scale = np.maximum(1 + sigma * rng.standard_normal(len(candidates)), 1e-3)
        # the pT threshold acts on the measured pT, as the Delphes card's MuonEfficiency follows its smearing
        found = (p["pt"][candidates] * scale > o.muon_min_pt) & (rng.random(len(candidates)) < o.muon_efficiency)
        if found.sum() < 2:
            return None
        candidates, scale = candidates[found], scale[found]
        order = np.argsort(-p["pt"][candidates] * scale)[:2]
        muons, scale = candidates[order], scale[order]
        return muons, np.stack([p["px"][muons] * scale, p["py"][muons] * scale, p["pz"][muons] * scale], axis=1)

    def _selected(self, p: dict[str, np.ndarray], muons: np.ndarray) -> bool:
        """The event selection: muons of opposite charges and generator-level M_ll, where asked for."""
        o = self.options
        if o.opposite_charge and p["charge"][muons[0]] == p["charge"][muons[1]]:
            return False
        return o.generator_m_ll_min == 0 or _true_mass(p) > o.generator_m_ll_min

    def _candidates(self, p: dict[str, np.ndarray], muons: np.ndarray,
                    rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Particle-flow candidates other than the reconstructed muons, energies smeared per sub-detector.

        Calorimeter energies are smeared log-normally (mean kept, always positive, as Delphes does) and
        dropped below the calorimeter thresholds (``ecal_threshold``, ``hcal_threshold``: an energy and a
        significance E/σ(E), the Delphes CMS card's tower thresholds applied per particle).
        Columns: ``px``, ``py``, ``pz``, ``e``, ``pt``, ``eta``, ``phi``, ``kind`` (0 track, 1 photon,
        2 neutral hadron or charged outside the tracker), ``pileup_track`` (a charged candidate inside the
        tracker from a pileup vertex: removed from jets by CHS, counted apart in the isolation).
        """
        o = self.options
        keep = np.abs(p["eta"]) < o.calorimeter_max_abs_eta
        keep[muons] = False
        eta, pt, energy = p["eta"][keep], p["pt"][keep], p["e"][keep]
        track = (p["charge"][keep] != 0) & (np.abs(eta) < o.tracker_max_abs_eta)
        photon = ~track & (p["id"][keep] == 22)
        kind = np.where(track, 0, np.where(photon, 1, 2))
        scale = np.ones(len(eta))
        scale[track] = np.maximum(1 + _relative_resolution(o.track_resolution, eta[track], pt[track])
                                  * rng.standard_normal(int(track.sum())), 1e-3)
        measured = track.copy()
        for k, bins, floor in ((1, o.ecal_resolution, o.ecal_threshold), (2, o.hcal_resolution, o.hcal_threshold)):
            sel = kind == k
            sigma = _calorimeter_resolution(bins, eta[sel], energy[sel])
            # log-normal with mean 1 and relative width sigma (energies stay positive, as in Delphes)
            width = np.sqrt(np.log1p(sigma**2))
            scale[sel] = np.exp(width * rng.standard_normal(int(sel.sum())) - width**2 / 2)
            smeared = energy[sel] * scale[sel]
            measured[sel] = (smeared > floor.energy_min) & (smeared > floor.significance_min * sigma * energy[sel])
        index, scale = np.flatnonzero(keep)[measured], scale[measured]
        out = {c: p[c][index] * scale for c in ("px", "py", "pz", "e", "pt")}
        out.update(eta=eta[measured], phi=p["phi"][index], kind=kind[measured],
                   pileup_track=track[measured] & ~p["hard"][index])
        return out

    def _reconstruct(self, p: dict[str, np.ndarray], muons: np.ndarray, mu: np.ndarray,
                     flow: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, float]:
        """The stored variables of one event from its muons (indices, momenta) and candidates."""
        o = self.options
        mu_e = np.sqrt((mu**2).sum(axis=1) + MUON_MASS**2)
        mu_pt = np.hypot(mu[:, 0], mu[:, 1])
        mu_eta = np.arcsinh(mu[:, 2] / mu_pt)
        mu_phi = np.arctan2(mu[:, 1], mu[:, 0])
        # -- isolation per class, then the Δβ-corrected sum
        classes = {"charged": (flow["kind"] == 0) & ~flow["pileup_track"], "charged_pileup": flow["pileup_track"],
                   "photon": flow["kind"] == 1, "neutral": flow["kind"] == 2}
        d_eta = flow["eta"][None, :] - mu_eta[:, None]
        d_phi = (flow["phi"][None, :] - mu_phi[:, None] + np.pi) % (2 * np.pi) - np.pi
        in_cone = (d_eta**2 + d_phi**2 < o.isolation_cone**2) & (flow["pt"] > o.isolation_min_pt)[None, :]
        iso = {name: (in_cone & sel[None, :]) @ flow["pt"] / mu_pt for name, sel in classes.items()}
        corrected = iso["charged"] + np.maximum(
            iso["photon"] + iso["neutral"] - o.isolation_delta_beta * iso["charged_pileup"], 0.0)
        # -- jets and particle-flow MET
        jets = self._jets(flow)
        sum_et = flow["pt"].sum()
        met = -(mu[:, :2].sum(axis=0) + [flow["px"].sum(), flow["py"].sum()])
        # -- vertices
        nvtx = 1 + rng.binomial(p["n_pileup"], o.vertex_efficiency)
        nvtx_smeared = nvtx + o.nvtx_smearing * rng.standard_normal()
        # -- rotate so that the leading muon has p_y = 0
        c, s = np.cos(-mu_phi[0]), np.sin(-mu_phi[0])
        rot = np.array([[c, -s], [s, c]])
        mu_t, met = mu[:, :2] @ rot.T, rot @ met
        jet_pt = np.zeros(5)
        jet_pt[: min(5, len(jets))] = jets[:5]
        record = {
            "mu1_px": mu_t[0, 0], "mu1_pz": mu[0, 2], "mu1_e": mu_e[0],
            "mu2_px": mu_t[1, 0], "mu2_py": mu_t[1, 1], "mu2_pz": mu[1, 2], "mu2_e": mu_e[1],
            "nvtx_smeared": nvtx_smeared, "met_px": met[0], "met_py": met[1],
            "mu1_iso": corrected[0], "mu2_iso": corrected[1],
            **{f"jet{i + 1}_pt": jet_pt[i] for i in range(5)},
            "nvtx": nvtx, "n_pileup": p["n_pileup"], "pf_sum_et": sum_et, "m_ll_true": _true_mass(p),
        }
        for name, values in iso.items():
            record[f"mu1_iso_{name}"], record[f"mu2_iso_{name}"] = values
        return record

    def _jets(self, flow: dict[str, np.ndarray]) -> np.ndarray:
        """pT of the pileup-corrected anti-kT jets above ``jet_min_pt`` within |η| < ``jet_max_abs_eta``, decreasing.

        CHS (no charged pileup candidates), FastJet Voronoi areas, and the four-momentum subtraction
        p − ρ·A with ρ the grid median of the CHS candidates in the jet's η range (jets outside every
        range are not corrected).
        """
        fj, o = self._fj, self.options
        chs = ~flow["pileup_track"]
        particles = [fj.PseudoJet(*four) for four in zip(*(flow[c][chs].tolist() for c in ("px", "py", "pz", "e")))]
        sequence = fj.ClusterSequenceArea(particles, self.jet_definition, self.area_definition)
        jets = [jet for jet in sequence.inclusive_jets(o.jet_min_pt) if abs(jet.eta()) < o.jet_max_abs_eta]
        corrected = []
        if jets:
            for estimator in self.rho_estimators:
                estimator.set_particles(particles)
            for jet in jets:
                region = [k for k, (lo, hi) in enumerate(o.rho_ranges) if lo <= jet.eta() < hi]
                rho = self.rho_estimators[region[0]].rho() if region else 0.0
                corrected.append(fj.Subtractor(rho)(jet).pt())
        pt = np.array(corrected)
        return np.sort(pt[pt > o.jet_min_pt])[::-1]

    def producer(self):
        return {"kind": "simulator", "name": self.name, "pythia8mc": pythia_version(),
                "fastjet": self._fj.__version__, "options": self.options.model_dump(mode="json"),
                "pythia_settings": {"hard": self.hard.all_settings,
                                    "pileup": self.pileup.all_settings}}
