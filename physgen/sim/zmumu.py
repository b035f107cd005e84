"""Z/γ* → μμ events with pileup and a parametric CMS-like detector (paper 002, docs/PHYSICS.md §7).

Per event (``simulate``):

1. Hard process: Pythia 8 at √s = 13 TeV, ``WeakSingleBoson:ffbar2gmZ`` with Z → μμ only and
   m̂ > ``m_hat_min``.
2. Pileup: n ~ Poisson(``pileup_mean``) minimum-bias events (``SoftQCD:nonDiffractive``, a second
   Pythia instance) overlaid on the hard event. Minimum bias is drawn with replacement from a
   pool of ``pileup_pool_size`` events, generated once per process from ``pileup_seed`` (so every
   chunk of every run sees the same pool), each overlaid copy rotated by a random φ so repeated
   draws are not identical.
3. Detector, with the Delphes CMS card's parameters (docs/PHYSICS.md §7):

   * muons: final-state muons with pT > ``muon_min_pt`` and |η| < ``muon_max_abs_eta``, each found
     with probability ``muon_efficiency``; pT smeared by a Gaussian of σ/pT = √(a² + (b pT)²)
     per |η| bin; events with fewer than two reconstructed muons are rejected (generation
     continues until ``n`` events are kept);
   * isolation of each of the two leading muons: Σ pT of the other visible particles with
     pT > ``isolation_min_pt`` in ΔR < ``isolation_cone``, relative to the muon pT, split into
     charged particles, photons and neutral hadrons; ``mu*_iso`` is their sum;
   * jets: anti-kT R = 0.4 of the visible non-muon particles with |η| < ``calorimeter_max_abs_eta``,
     charged pileup particles inside the tracker removed (charged-hadron subtraction); the five
     leading pT > ``jet_min_pt`` are kept (0 where absent);
   * MET = −(Σ p⃗T of the reconstructed muons and of every other visible particle with
     |η| < ``calorimeter_max_abs_eta``: the particle-flow candidates of Delphes' CMS card) plus a
     Gaussian resolution term of σ = ``met_resolution`` · √ΣET per component (ΣET: scalar pT sum
     of those particles), so MET grows with pileup;
   * nVTX = 1 + Binomial(n_pileup, ``vertex_efficiency``); ``nvtx_smeared`` = nVTX + N(0, 0.5).
4. Both muons and MET are rotated in φ so that the leading muon has p_y = 0, p_x > 0.

The stored schema (``zmumu_reco``) is the 17 features of ``zmumu17`` plus extra variables
(integer nVTX, number of pileup interactions, per-class isolation, generator-level M_ll, weight).
"""

from __future__ import annotations

from functools import lru_cache

import awkward as ak
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

__all__ = ["ZmumuSimulator"]

MUON_MASS = 0.1056583755  # GeV (PDG)


class ResolutionBin(BaseModel):
    """σ(pT)/pT = √(a² + (b pT)²) for |η| up to ``max_abs_eta``."""

    model_config = ConfigDict(extra="forbid")
    max_abs_eta: float = Field(gt=0)
    a: float = Field(ge=0)
    b: float = Field(ge=0, description="per GeV")


_CMS_MUON_RESOLUTION = [ResolutionBin(max_abs_eta=0.5, a=0.01, b=1e-4),
                        ResolutionBin(max_abs_eta=1.5, a=0.015, b=1.5e-4),
                        ResolutionBin(max_abs_eta=2.5, a=0.025, b=3.5e-4)]


class ZmumuOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sqrt_s: float = Field(13000.0, gt=0, description="centre-of-mass energy (GeV)")
    m_hat_min: float = Field(60.0, ge=0, description="minimum dimuon invariant mass at generation (GeV)")
    pileup_mean: float = Field(20.0, ge=0, description="mean number of minimum-bias interactions")
    pileup_pool_size: int = Field(1000, gt=0, description="minimum-bias events in the reusable pool")
    pileup_seed: int = Field(20, ge=0, description="seed of the minimum-bias pool")
    muon_min_pt: float = Field(10.0, ge=0)
    muon_max_abs_eta: float = Field(2.4, gt=0)
    muon_efficiency: float = Field(0.95, ge=0, le=1)
    muon_resolution: list[ResolutionBin] = Field(default_factory=lambda: list(_CMS_MUON_RESOLUTION))
    isolation_cone: float = Field(0.3, gt=0)
    isolation_min_pt: float = Field(0.5, ge=0)
    jet_radius: float = Field(0.4, gt=0)
    jet_min_pt: float = Field(20.0, ge=0)
    calorimeter_max_abs_eta: float = Field(5.0, gt=0)
    tracker_max_abs_eta: float = Field(2.5, ge=0, description="charged pileup removed from jets inside this |η|")
    met_resolution: float = Field(0.5, ge=0, description="MET σ per component / √ΣET (GeV^½)")
    vertex_efficiency: float = Field(1.0, ge=0, le=1, description="chance a pileup vertex is reconstructed")
    nvtx_smearing: float = Field(0.5, ge=0)
    pythia_settings: list[str] = Field(default_factory=list, description="extra Pythia lines (hard process)")

    @model_validator(mode="after")
    def _resolution_covers_muons(self):
        edges = [b.max_abs_eta for b in self.muon_resolution]
        if edges != sorted(edges) or not edges or edges[-1] < self.muon_max_abs_eta:
            msg = (f"muon_resolution bins must be ordered in max_abs_eta and reach muon_max_abs_eta "
                   f"{self.muon_max_abs_eta}, got {edges}")
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


@register_simulator
class ZmumuSimulator(Simulator):
    """Z/γ* → μμ with pileup and a parametric detector; see the module docstring."""

    name = "zmumu"
    Options = ZmumuOptions

    def __init__(self, dataset):
        super().__init__(dataset)
        fastjet = fastjet_module()
        self._fj = fastjet
        o, source = self.options, dataset.dataset.source
        self.hard = PythiaGenerator(self._hard_settings(), what=f"{source}: hard process")
        self.pileup = PythiaGenerator(self._pileup_settings(), what=f"{source}: pileup")  # checks settings now
        self.jet_definition = fastjet.JetDefinition(fastjet.antikt_algorithm, o.jet_radius)
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
            found = []  # (event, particles, muons): events with two reconstructed muons
            for k in range(len(batch)):
                particles = self._overlay({c: v[event == k] for c, v in hard.items()}, offsets, pool, rng)
                muons = self._muons(particles, rng)
                if muons is not None:
                    found.append((k, particles, muons))
            found = found[: n_events - len(kept)]
            if not found:
                continue
            for (k, particles, muons), jets in zip(found, self._jets([f[1] for f in found]), strict=True):
                kept.append({**self._reconstruct(particles, *muons, jets, rng), "weight": weights[k]})
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
        is_muon = np.abs(p["id"]) == 13
        candidates = np.flatnonzero(is_muon & (p["pt"] > o.muon_min_pt) & (np.abs(p["eta"]) < o.muon_max_abs_eta))
        found = candidates[rng.random(len(candidates)) < o.muon_efficiency]
        if len(found) < 2:
            return None
        bins = np.searchsorted([b.max_abs_eta for b in o.muon_resolution], np.abs(p["eta"][found]))
        a = np.array([b.a for b in o.muon_resolution])[bins]
        b = np.array([b.b for b in o.muon_resolution])[bins]
        pt_true = p["pt"][found]
        scale = np.maximum(1 + np.sqrt(a**2 + (b * pt_true) ** 2) * rng.standard_normal(len(found)), 1e-3)
        order = np.argsort(-pt_true * scale)[:2]
        muons, scale = found[order], scale[order]
        return muons, np.stack([p["px"][muons] * scale, p["py"][muons] * scale, p["pz"][muons] * scale], axis=1)

    def _reconstruct(self, p: dict[str, np.ndarray], muons: np.ndarray, mu: np.ndarray, jets: np.ndarray,
                     rng: np.random.Generator) -> dict[str, float]:
        """The stored variables of one event from its muons (indices, momenta) and jets ((px, py) by pT)."""
        o = self.options
        truth = np.flatnonzero((np.abs(p["id"]) == 13) & p["hard"])
        truth = truth[np.argsort(-p["pt"][truth])][:2]
        mu_e = np.sqrt((mu**2).sum(axis=1) + MUON_MASS**2)
        mu_pt = np.hypot(mu[:, 0], mu[:, 1])
        # -- isolation per class
        charge = p["charge"]
        others = np.ones(len(p["id"]), bool)
        others[muons] = False
        others &= p["pt"] > o.isolation_min_pt
        classes = {"charged": charge != 0, "photon": p["id"] == 22, "neutral": (charge == 0) & (p["id"] != 22)}
        d_eta = p["eta"][None, :] - p["eta"][muons][:, None]
        d_phi = (p["phi"][None, :] - p["phi"][muons][:, None] + np.pi) % (2 * np.pi) - np.pi
        in_cone = (d_eta**2 + d_phi**2 < o.isolation_cone**2) & others[None, :]
        iso = {name: (in_cone & sel[None, :]) @ p["pt"] / mu_pt for name, sel in classes.items()}
        # -- MET: minus the reconstructed muons and particle-flow candidates, plus resolution ~ √ΣET
        flow = np.abs(p["eta"]) < o.calorimeter_max_abs_eta
        flow[muons] = False
        sum_et = p["pt"][flow].sum() + mu_pt.sum()
        met = -(mu[:, :2].sum(axis=0) + [p["px"][flow].sum(), p["py"][flow].sum()])
        met = met + o.met_resolution * np.sqrt(sum_et) * rng.standard_normal(2)
        # -- vertices
        nvtx = 1 + rng.binomial(p["n_pileup"], o.vertex_efficiency)
        nvtx_smeared = nvtx + o.nvtx_smearing * rng.standard_normal()
        # -- rotate so that the leading muon has p_y = 0
        phi1 = np.arctan2(mu[0, 1], mu[0, 0])
        c, s = np.cos(-phi1), np.sin(-phi1)
        rot = np.array([[c, -s], [s, c]])
        mu_t, met = mu[:, :2] @ rot.T, rot @ met
        jet_pt = np.zeros(5)
        jet_pt[: min(5, len(jets))] = np.hypot(jets[:5, 0], jets[:5, 1])
        m_true = np.nan
        if len(truth) == 2:
            four = np.array([p["e"][truth].sum(), p["px"][truth].sum(), p["py"][truth].sum(), p["pz"][truth].sum()])
            m_true = np.sqrt(max(four[0] ** 2 - (four[1:] ** 2).sum(), 0.0))
        record = {
            "mu1_px": mu_t[0, 0], "mu1_pz": mu[0, 2], "mu1_e": mu_e[0],
            "mu2_px": mu_t[1, 0], "mu2_py": mu_t[1, 1], "mu2_pz": mu[1, 2], "mu2_e": mu_e[1],
            "nvtx_smeared": nvtx_smeared, "met_px": met[0], "met_py": met[1],
            "mu1_iso": sum(v[0] for v in iso.values()), "mu2_iso": sum(v[1] for v in iso.values()),
            **{f"jet{i + 1}_pt": jet_pt[i] for i in range(5)},
            "nvtx": nvtx, "n_pileup": p["n_pileup"], "m_ll_true": m_true,
        }
        for name, values in iso.items():
            record[f"mu1_iso_{name}"], record[f"mu2_iso_{name}"] = values
        return record

    def _jets(self, events: list[dict[str, np.ndarray]]) -> list[np.ndarray]:
        """Per event, (px, py) of the anti-kT jets above ``jet_min_pt`` ordered by pT.

        Inputs: visible non-muon particles with |η| < ``calorimeter_max_abs_eta``, without the
        charged pileup particles inside the tracker (|η| < ``tracker_max_abs_eta``), which a CMS-like
        detector removes by vertex association (charged-hadron subtraction). One FastJet call
        clusters the whole batch.
        """
        o = self.options
        columns = {"px": [], "py": [], "pz": [], "E": []}
        counts = []
        for p in events:
            charged_pileup = ~p["hard"] & (p["charge"] != 0) & (np.abs(p["eta"]) < o.tracker_max_abs_eta)
            keep = (np.abs(p["id"]) != 13) & (np.abs(p["eta"]) < o.calorimeter_max_abs_eta) & ~charged_pileup
            for name, column in (("px", "px"), ("py", "py"), ("pz", "pz"), ("E", "e")):
                columns[name].append(p[column][keep])
            counts.append(int(keep.sum()))
        inputs = ak.unflatten(ak.zip({k: np.concatenate(v) for k, v in columns.items()}), counts)
        jets = self._fj.ClusterSequence(inputs, self.jet_definition).inclusive_jets(o.jet_min_pt)
        px, py = ak.to_list(jets.px), ak.to_list(jets.py)
        out = []
        for jx, jy in zip(px, py, strict=True):
            xy = np.array([jx, jy], dtype=np.float64).reshape(2, -1).T
            out.append(xy[np.argsort(-np.hypot(xy[:, 0], xy[:, 1]), kind="stable")])
        return out

    def producer(self):
        return {"kind": "simulator", "name": self.name, "pythia8mc": pythia_version(),
                "fastjet": self._fj.__version__, "options": self.options.model_dump(mode="json"),
                "pythia_settings": {"hard": self.hard.all_settings,
                                    "pileup": self.pileup.all_settings}}
