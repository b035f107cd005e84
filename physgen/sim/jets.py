"""Jet images of boosted W bosons and QCD jets with Pythia 8 and FastJet (paper 000, docs/PHYSICS.md §1).

Per event (``simulate``):

1. Pythia 8 at √s = 14 TeV: signal W' → W Z with W → q q̄', Z → ν ν̄ (``Wprime:coup2WZ = 1`` is
   essential: its default 0 means no W' → W Z); background QCD 2 → 2 (``HardQCD:all``) in a
   pT-hat window. Both classes go into one store, told apart by ``signal`` (1 = W', 0 = QCD),
   shuffled within each chunk with a fixed signal fraction. With ``parton_veto`` in the spec, a
   Pythia user hook looks at each event before hadronisation and drops it when no parton-level
   anti-kT jet comes near the jet cuts (``physgen.sim._parton_veto``; measured loss of accepted
   jets 0.1-0.2 %). It is off by default: hadronisation is only ~25 % of Pythia's time for these
   events, the veto spares it for 16 % of W' and 35 % of QCD events, and the measured gain
   (×1.0 for the LAGAN selection, benchmarks/results/pythia.md) does not pay for any loss.
2. Calorimeter: the energy of every visible final-state particle (no neutrinos) summed in cells
   of the detector's pixel size (0.1 × 0.1 in η–φ; 2π/63 in φ so the cells close around the
   circle) for |η| < ``calorimeter_max_abs_eta``; each cell with E > 0 becomes a massless
   pseudo-jet at the cell centre with pT = E / cosh η.
3. anti-kT, R = 1.0; trimming (kT subjets R = 0.3, keep those with pT > 5 % of the jet pT).
   The leading trimmed jet is kept if 250 < pT < 300 GeV, |η| < 2 (and in the optional mass
   window); otherwise the event is rejected and generation continues until ``n`` are kept. One
   anti-kT call on the whole batch first skips the events without any jet above the pT cut
   (exact: trimming only lowers a jet's pT), so only the others pay for per-event trimming.
4. τ1, τ2 (β = 1, R0 = jet radius) with one-pass winner-take-all exclusive-kT axes, from the
   trimmed jet's constituent cells.
5. Image (paper 000 appendix B, "Pix+Trans+Rotation(Cubic)+Renorm"): constituents translated
   so the leading subjet is at the origin, pixelised (pT per pixel), rotated about the origin
   with cubic-spline interpolation so that the second subjet (else the principal axis) points
   to −π/2, negative/tiny interpolation residues (< ``pixel_threshold``) zeroed and the image
   rescaled to its summed pT before rotation, then flipped in η so the right half (η > 0)
   carries more pT than the left.

Choices, all in the dataset spec and recorded in the store's provenance (paper 000 and the
original generator, ``hep-lbdl/adversarial-jets`` ``generation/event-gen``): W' mass 800 GeV
(the original's default; 17 % of the W bosons then fall in the 250–300 GeV window, against 51 %
at 600 GeV); the public dataset's jet-mass window 60 < m < 100 GeV (its file name says
``Mass60-100``); QCD pT-hat window [125, 450] GeV with ``pt_hat_bias: 3``. The original generated
QCD with pT-hat in [100, 500] GeV; accepted QCD jets come from pT-hat ≈ 155–430 GeV and about a third
of them (weighted) from pT-hat < 200 GeV (hard initial-state radiation; benchmarks/results/jet_bias.md),
so a [200, 400] window — ~3× faster — sculpts the background; the shipped window holds them all.

Weighted QCD (``pt_hat_bias``; on in the LAGAN specs, off by default): Pythia draws pT-hat with its phase-space bias
(``PhaseSpace:bias2Selection``, weight (pT-hat / pT-hat min)^power) and gives each event the inverse
as its weight, stored in ``weight`` (normalised per chunk and class, see ``_generate``); the weighted
sample has the unbiased physics, and every consumer weighs it (metrics and snapshot selection weigh
the reference; training draws events ∝ weight). The bias does not apply to the 2 → 1 W' process. A
biased sample of n jets is worth its Kish effective size (Σw)²/Σw², so what counts is effective
jets per CPU second (benchmarks/bench_jet_bias.py): inside [200, 400] GeV the acceptance is already
peaked and the bias gains little; it pays in a pT-hat window wide enough to hold every accepted jet
(accepted QCD jets reach from pT-hat ≈ 140 GeV up to ≈ 430 GeV; about a third of them, weighted,
come from pT-hat < 200 GeV: benchmarks/results/jet_bias.md), where it is the affordable way to the
unsculpted background.

Image orientation (checked against the original code): physgen stores ``image[eta, phi]`` with
both coordinates increasing with the index. The original C++ filled ``Intensity[i·25 + j]`` with
i along η and j along φ; its Python then stored ``flipud(transpose(...))``, so the public LAGAN
arrays are ``image[row, col]`` with columns along η (increasing) and rows along φ (decreasing:
row 0 is φ = +1.2). The rotation puts the second subjet at −π/2, i.e. at negative φ (below the
centre in LAGAN's array), and the flip puts the larger pT at positive η (the right half). The
``lagan`` importer maps the axes (``physgen.io``); the images here need no mapping.
"""

from __future__ import annotations

from typing import Literal

import awkward as ak
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator
from scipy import ndimage

from physgen.errors import SpecError
from physgen.geometry import cell_edges
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
from physgen.specs import EtaPhiGrid

__all__ = ["JetImageSimulator", "rotate_image", "nsubjettiness"]


#: Default ``parton_veto`` margins. Measured on W' events (m_W' = 800 GeV) whose parton-level jets
#: and full-chain result were both recorded (benchmarks/parton_veto_study.py): the untrimmed
#: parton-level jet is never more than 10 GeV below the accepted trimmed jet's pT (0.5 % quantile
#: 4.6 GeV) nor more than 17 GeV below its mass (0.5 % quantile 5.8 GeV), and its |η| differs by
#: less than 0.2; the measured losses are in benchmarks/results/parton_veto.md.
PT_MARGIN, ETA_MARGIN, MASS_MARGIN = 25.0, 0.2, 20.0


def _window(name: str, window: tuple[float, float] | None) -> None:
    if window is not None and not 0 <= window[0] < window[1]:
        msg = f"{name} must be a non-empty window [low, high] with 0 <= low < high, got {list(window)}"
        raise ValueError(msg)


class PartonVetoMargins(BaseModel):
    """How far below/beyond the jet cuts a parton-level jet may be and still be hadronised
    (``physgen.sim._parton_veto``). The defaults lose 0.08 % of accepted W' jets and 0.18 % of QCD
    jets of the LAGAN selection (benchmarks/results/parton_veto.md)."""

    model_config = ConfigDict(extra="forbid")
    pt: float = Field(PT_MARGIN, ge=0, description="GeV below the lower jet-pT cut (untrimmed parton-level jet)")
    eta: float = Field(ETA_MARGIN, ge=0, description="beyond the |η| cut")
    mass: float = Field(MASS_MARGIN, ge=0, description="GeV below the mass window (untrimmed parton-level jet)")


class JetOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sqrt_s: float = Field(14000.0, gt=0, description="centre-of-mass energy (GeV)")
    process: Literal["signal", "background", "both"] = "both"
    signal_fraction: float = Field(0.5, ge=0, le=1, description="share of W' events when process is 'both'")
    wprime_mass: float = Field(800.0, gt=0, description="W' mass (GeV); 800 in paper 000")
    pt_hat: tuple[float, float] = Field((200.0, 400.0), description="QCD pT-hat window (GeV)")
    pt_hat_bias: float | None = Field(
        None, gt=0, description="QCD only: draw pT-hat with Pythia's phase-space bias (pT-hat / pT-hat min)^power "
                                "and weight each event by its inverse (the stored weight); null (default): unbiased")
    jet_pt: tuple[float, float] = Field((250.0, 300.0), description="trimmed-jet pT window (GeV)")
    max_abs_eta: float = Field(2.0, gt=0, description="|η| cut on the trimmed jet")
    mass_window: tuple[float, float] | None = Field(
        None, description="optional trimmed-jet mass window (GeV); the public LAGAN data used [60, 100]")
    jet_radius: float = Field(1.0, gt=0)
    trim_radius: float = Field(0.3, gt=0)
    trim_fraction: float = Field(0.05, ge=0, lt=1)
    calorimeter_max_abs_eta: float = Field(5.0, gt=0)
    pixel_threshold: float = Field(1e-3, ge=0, description="pixels below this pT (GeV) after rotation are zeroed")
    pythia_settings: list[str] = Field(default_factory=list, description="extra Pythia readString lines")
    parton_veto: PartonVetoMargins | None = Field(
        None, description="skip hadronisation of events whose parton-level jets cannot pass, with these margins "
                          "({} for the defaults); null (default): hadronise every event")

    @model_validator(mode="after")
    def _windows(self):
        _window("pt_hat", self.pt_hat)
        _window("jet_pt", self.jet_pt)
        _window("mass_window", self.mass_window)
        return self


def _wrap(dphi: np.ndarray) -> np.ndarray:
    return (dphi + np.pi) % (2 * np.pi) - np.pi


def nsubjettiness(pt, eta, phi, axes_eta, axes_phi, r0: float) -> float:
    """τ_N = Σ_k pT_k min_a ΔR_ak / (Σ_k pT_k R0), β = 1 (docs/PHYSICS.md §1)."""
    d_eta = eta[None, :] - np.asarray(axes_eta)[:, None]
    d_phi = _wrap(phi[None, :] - np.asarray(axes_phi)[:, None])
    return float(np.sum(pt * np.sqrt(d_eta**2 + d_phi**2).min(axis=0)) / (np.sum(pt) * r0))


def rotate_image(image: np.ndarray, angle: float, threshold: float) -> np.ndarray:
    """Rotate ``image[eta, phi]`` counter-clockwise by ``angle`` (rad) about its central pixel.

    Cubic-spline interpolation (paper 000 appendix B); interpolation residues below ``threshold``
    (negative overshoots included) are zeroed, then the summed intensity is restored.
    """
    c, s = np.cos(angle), np.sin(angle)
    matrix = np.array([[c, s], [-s, c]])  # output pixel o reads input at R(-angle) (o - centre) + centre
    centre = (np.array(image.shape) - 1) / 2
    rotated = ndimage.affine_transform(image, matrix, offset=centre - matrix @ centre, order=3, mode="constant")
    rotated[rotated < threshold] = 0.0
    total = rotated.sum()
    return rotated * (image.sum() / total) if total > 0 else rotated


@register_simulator
class JetImageSimulator(Simulator):
    """W' → W Z (signal) and QCD (background) jet images; see the module docstring."""

    name = "jets"
    Options = JetOptions
    parallel_by_default = True

    def __init__(self, dataset):
        super().__init__(dataset)
        fastjet = fastjet_module()
        self._fj = fastjet
        grid = dataset.detector_spec.geometry if dataset.detector_spec else None
        if not isinstance(grid, EtaPhiGrid) or not np.isclose(grid.cell_eta, grid.cell_phi):
            msg = f"{dataset.dataset.source}: the jets simulator needs an eta_phi_grid detector with square pixels"
            raise SpecError(msg)
        self.grid = grid
        o = self.options
        self.eta_edges = cell_edges(grid.n_eta, grid.cell_eta, grid.center[0])
        self.phi_edges = cell_edges(grid.n_phi, grid.cell_phi, grid.center[1])
        self.n_cal_eta = int(round(2 * o.calorimeter_max_abs_eta / grid.cell_eta))
        self.n_cal_phi = int(round(2 * np.pi / grid.cell_phi))
        self.cal_eta = cell_edges(self.n_cal_eta, 2 * o.calorimeter_max_abs_eta / self.n_cal_eta)
        self.cal_eta_centres = 0.5 * (self.cal_eta[1:] + self.cal_eta[:-1])
        self.cal_phi_centres = -np.pi + (np.arange(self.n_cal_phi) + 0.5) * 2 * np.pi / self.n_cal_phi
        self.antikt = fastjet.JetDefinition(fastjet.antikt_algorithm, o.jet_radius)
        self.trimmer = fastjet.Filter(fastjet.JetDefinition(fastjet.kt_algorithm, o.trim_radius),
                                      fastjet.SelectorPtFractionMin(o.trim_fraction))
        self.wta_kt = fastjet.JetDefinition(fastjet.kt_algorithm, fastjet.JetDefinition.max_allowable_R,
                                            fastjet.WTA_pt_scheme)
        source = dataset.dataset.source
        self.generators: dict[int, PythiaGenerator] = {}
        if o.process in ("signal", "both"):
            self.generators[1] = PythiaGenerator(self._signal_settings(), what=f"{source}: signal",
                                                 hooks=self._parton_veto())
        if o.process in ("background", "both"):
            self.generators[0] = PythiaGenerator(self._background_settings(), what=f"{source}: background",
                                                 hooks=self._parton_veto())

    def _parton_veto(self):
        """A fresh parton-level veto hook for one Pythia instance, or None when the spec turns it off."""
        o, margins = self.options, self.options.parton_veto
        if margins is None:
            return None
        from physgen.sim._parton_veto import PartonJetVeto  # imports pythia8mc

        return PartonJetVeto(radius=o.jet_radius, max_particle_eta=o.calorimeter_max_abs_eta,
                             min_pt=o.jet_pt[0] - margins.pt, max_abs_eta=o.max_abs_eta + margins.eta,
                             min_mass=None if o.mass_window is None else o.mass_window[0] - margins.mass)

    def _signal_settings(self) -> list[str]:
        o = self.options
        return [f"Beams:eCM = {o.sqrt_s}", "NewGaugeBoson:ffbar2Wprime = on", "Wprime:coup2WZ = 1",
                f"34:m0 = {o.wprime_mass}", "34:onMode = off", "34:onIfAny = 23 24",
                "24:onMode = off", "24:onIfAny = 1 2 3 4 5", "23:onMode = off", "23:onIfAny = 12 14 16",
                *o.pythia_settings]

    def _background_settings(self) -> list[str]:
        o = self.options
        bias = ([] if o.pt_hat_bias is None else
                ["PhaseSpace:bias2Selection = on", f"PhaseSpace:bias2SelectionPow = {o.pt_hat_bias}",
                 f"PhaseSpace:bias2SelectionRef = {o.pt_hat[0]}"])
        return [f"Beams:eCM = {o.sqrt_s}", "HardQCD:all = on", f"PhaseSpace:pTHatMin = {o.pt_hat[0]}",
                f"PhaseSpace:pTHatMax = {o.pt_hat[1]}", *bias, *o.pythia_settings]

    # -- generation ---------------------------------------------------------------------------

    def simulate(self, n_events, seed):
        states = seed.generate_state(3, np.uint64)
        rng = np.random.default_rng(states[0])
        o = self.options
        share = {"signal": 1.0, "background": 0.0, "both": o.signal_fraction}[o.process]
        n_signal = int(round(share * n_events))
        labels = rng.permutation(np.r_[np.ones(n_signal, np.int8), np.zeros(n_events - n_signal, np.int8)])
        out: dict[str, np.ndarray] = {}
        for label, state in ((1, states[1]), (0, states[2])):
            wanted = int(np.sum(labels == label))
            if wanted == 0:
                continue
            records = self._generate(self.generators[label], wanted, pythia_seed(state))
            for key, values in records.items():
                if key not in out:
                    out[key] = np.zeros((n_events, *values.shape[1:]), values.dtype)
                out[key][labels == label] = values
        out["signal"] = labels
        return out

    def _generate(self, generator: PythiaGenerator, n: int, seed: int) -> dict[str, np.ndarray]:
        """``n`` accepted jets from ``generator`` started with ``seed``, their weights scaled to average 1.

        Pythia's weights (1 unless ``pt_hat_bias``) are only known up to a constant, so each class's
        weights are normalised over the chunk's accepted jets of that class: the weighted share of W'
        jets then equals ``signal_fraction``, as the count does, and unit weights stay 1.
        """
        generator.start(seed)
        kept: list[dict] = []
        generated = 0
        while len(kept) < n:
            check_acceptance(generated, len(kept), generator.what)
            attempts = int(np.clip(3 * (n - len(kept)), 10, 100))
            batch = generator.batch(attempts)  # without the vetoed events
            generated += attempts
            weights = event_weights(batch)
            for k, cells in self._candidates(batch):
                jet = self._leading_jet(*cells)
                if jet is not None:
                    jet["weight"] = weights[k]
                    kept.append(jet)
                    if len(kept) == n:
                        break
        records = {key: np.stack([jet[key] for jet in kept]) for key in kept[0]}
        records["weight"] = records["weight"] / records["weight"].mean()
        return records

    def _candidates(self, batch):
        """Per event that can pass: (index in the batch, (η, φ, E) of its calorimeter cells with E > 0).

        One FastJet call clusters the cells of the whole batch with anti-kT; an event without an
        (untrimmed) jet above the lower pT cut cannot pass, because trimming only removes subjets
        within the jet radius (each with a positive pT projection on the jet axis), so it can only
        lower the jet pT. Only the other events go through the per-event trimming of ``_leading_jet``:
        the accepted sample is exactly the one without this shortcut.
        """
        event, eta, phi, energy = self._calorimeter(batch)
        pt = energy / np.cosh(eta)
        counts = np.bincount(event, minlength=len(batch))
        cells = ak.unflatten(ak.zip({"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": pt * np.sinh(eta),
                                     "E": energy}), counts)
        jets = self._fj.ClusterSequence(cells, self.antikt).inclusive_jets(self.options.jet_pt[0])
        hopeful = np.flatnonzero(ak.to_numpy(ak.num(jets)) > 0)
        starts = np.r_[0, np.cumsum(counts)]
        for k in hopeful.tolist():
            part = slice(starts[k], starts[k + 1])
            yield k, (eta[part], phi[part], energy[part])

    def _calorimeter(self, batch):
        """Calorimeter cells with E > 0 of a batch, ordered by event: (event, η, φ, E), vectorised."""
        event, p = final_state(batch)
        i_eta = np.searchsorted(self.cal_eta, p["eta"], side="right") - 1
        i_phi = np.floor((p["phi"] + np.pi) / (2 * np.pi) * self.n_cal_phi).astype(np.int64) % self.n_cal_phi
        inside = (i_eta >= 0) & (i_eta < self.n_cal_eta)
        n_cells = self.n_cal_eta * self.n_cal_phi
        flat = (event * n_cells + i_eta * self.n_cal_phi + i_phi)[inside]
        energy = np.bincount(flat, weights=p["e"][inside], minlength=len(batch) * n_cells)
        cell = np.flatnonzero(energy > 0)
        i_event, rest = np.divmod(cell, n_cells)
        ie, ip = np.divmod(rest, self.n_cal_phi)
        return i_event, self.cal_eta_centres[ie], self.cal_phi_centres[ip], energy[cell]

    def _leading_jet(self, eta, phi, energy) -> dict | None:
        """Kinematics, N-subjettiness and image of the leading trimmed jet, if it passes the cuts."""
        fj, o = self._fj, self.options
        pt = energy / np.cosh(eta)
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        cells = []
        for i, four in enumerate(zip(px.tolist(), py.tolist(), pz.tolist(), energy.tolist(), strict=True)):
            pj = fj.PseudoJet(*four)
            pj.set_user_index(i)
            cells.append(pj)
        sequence = fj.ClusterSequence(cells, self.antikt)
        leading = None
        for jet in fj.sorted_by_pt(sequence.inclusive_jets()):
            if leading is not None and jet.pt() <= leading.pt():
                break  # trimming only lowers pT: no later jet can lead
            trimmed = self.trimmer(jet)
            if leading is None or trimmed.pt() > leading.pt():
                leading = trimmed
        if leading is None:
            return None
        mass = max(leading.m(), 0.0)
        if not (o.jet_pt[0] < leading.pt() < o.jet_pt[1] and abs(leading.eta()) < o.max_abs_eta):
            return None
        if o.mass_window is not None and not o.mass_window[0] < mass < o.mass_window[1]:
            return None
        constituents = list(leading.constituents())
        index = np.array([c.user_index() for c in constituents])
        c_pt, c_eta, c_phi = pt[index], eta[index], phi[index]
        taus = self._taus(constituents, c_pt, c_eta, c_phi)
        subjets = [(s.eta(), s.phi_std()) for s in fj.sorted_by_pt(leading.pieces())]
        return {"image": self._image(c_pt, c_eta, c_phi, subjets), "jet_pt": leading.pt(),
                "jet_eta": leading.eta(), "jet_phi": leading.phi_std(), "jet_mass": mass,
                "tau_1": taus[0], "tau_2": taus[1], "tau_21": taus[1] / taus[0] if taus[0] > 0 else 0.0,
                "n_constituents": len(constituents)}

    def _taus(self, constituents, pt, eta, phi) -> tuple[float, float]:
        """(τ1, τ2) with one-pass WTA exclusive-kT axes; τ_N = 0 with ≤ N constituents."""
        sequence = self._fj.ClusterSequence(constituents, self.wta_kt)
        taus = []
        for n in (1, 2):
            if len(constituents) <= n:
                taus.append(0.0)
                continue
            axes = sequence.exclusive_jets(n)
            taus.append(nsubjettiness(pt, eta, phi, [a.eta() for a in axes], [a.phi_std() for a in axes],
                                      self.options.jet_radius))
        return taus[0], taus[1]

    def _image(self, pt, eta, phi, subjets) -> np.ndarray:
        """Translate, pixelise, rotate (second subjet or principal axis to −π/2), flip."""
        d_eta, d_phi = eta - subjets[0][0], _wrap(phi - subjets[0][1])
        image, _, _ = np.histogram2d(d_eta, d_phi, bins=(self.eta_edges, self.phi_edges), weights=pt)
        if len(subjets) > 1:
            axis = (subjets[1][0] - subjets[0][0], _wrap(subjets[1][1] - subjets[0][1]))
        elif len(pt) > 1:
            points = np.vstack([d_eta, d_phi])
            _, vectors = np.linalg.eigh(np.cov(points, aweights=pt))
            axis = vectors[:, -1]
            ahead = axis @ (points - np.average(points, axis=1, weights=pt)[:, None]) > 0
            if pt[ahead].sum() > pt[~ahead].sum():  # as the original: the lighter side goes down
                axis = -axis
        else:
            axis = (0.0, -1.0)
        image = rotate_image(image, -np.pi / 2 - np.arctan2(axis[1], axis[0]), self.options.pixel_threshold)
        half = self.grid.n_eta // 2
        if image[:half].sum() > image[-half:].sum():
            image = image[::-1]
        return image.astype(np.float32)

    def producer(self):
        return {"kind": "simulator", "name": self.name, "pythia8mc": pythia_version(),
                "fastjet": self._fj.__version__, "options": self.options.model_dump(mode="json"),
                "calorimeter": {"cell_eta": self.grid.cell_eta, "cell_phi": 2 * np.pi / self.n_cal_phi,
                                "n_eta": self.n_cal_eta, "n_phi": self.n_cal_phi},
                "pythia_settings": {("signal" if k else "background"): g.all_settings
                                    for k, g in self.generators.items()}}
