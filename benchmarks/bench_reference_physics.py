"""Reference physics of the Pythia datasets against the papers: the numbers behind the README's table.

Simulates the shipped ``jets_wprime_qcd`` (LAGAN selection) and ``zmumu`` datasets (with and without
pileup) serially and measures, with the stored variables:

* jets: median trimmed-jet mass of W and of QCD jets, mean τ21 of each (paper 000, Fig. 6);
* Z → μμ: M_ll mean and RMS in 60–120 GeV (paper 002: 89.6 and 7.7 GeV), jets above 20 GeV per event
  with 20 and with 0 pileup interactions, share of leading muons with isolation < 0.1, and the MET
  resolution: the RMS of the recoil component perpendicular to the dimuon (σ(u⊥)) and of MET_x, with
  σ_PU from a fit of σ²(u⊥) = σ_c² + (N_vtx / 0.7) σ_PU² over N_vtx bins (CMS's parametrisation,
  JINST 10 (2015) P02006).

    python benchmarks/bench_reference_physics.py [--jets 400] [--zmumu 1000]

Writes benchmarks/results/reference_physics.json and .md.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import yaml

from _benchio import write_results
from physgen.sim import build_simulator
from physgen.store import resolve_dataset

DATASETS = Path(__file__).resolve().parents[1] / "specs" / "datasets"


def _simulate(spec: str, events: int, seed: int, folder: Path | None = None, **options) -> dict[str, np.ndarray]:
    path = DATASETS / spec
    if options:
        data = yaml.safe_load(path.read_text())
        data["simulator"]["options"].update(options)
        path = folder / "specs" / "datasets" / spec  # a clean tree: names resolve to shipped specs
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(data))
    return build_simulator(resolve_dataset(str(path))).simulate(events, np.random.SeedSequence(seed))


def _m_ll(r):
    e = r["mu1_e"] + r["mu2_e"]
    px, py, pz = r["mu1_px"] + r["mu2_px"], r["mu2_py"], r["mu1_pz"] + r["mu2_pz"]
    return np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0))


def _jets_per_event(r):
    return float(np.mean((np.stack([r[f"jet{i}_pt"] for i in range(1, 6)], axis=1) > 20).sum(axis=1)))


def _u_perp(r):
    """Recoil u = −(MET + q_T) projected perpendicular to the dimuon q_T."""
    qx, qy = r["mu1_px"] + r["mu2_px"], r["mu2_py"]
    ux, uy = -(r["met_px"] + qx), -(r["met_py"] + qy)
    return (ux * qy - uy * qx) / np.maximum(np.hypot(qx, qy), 1e-9)


def _sigma_pu(r) -> tuple[float, float]:
    """(σ_c, σ_PU) from σ²(u⊥) = σ_c² + (N_vtx / 0.7) σ_PU² fitted over N_vtx bins of ≥ 30 events."""
    u, nvtx = _u_perp(r), r["nvtx"]
    x, y, w = [], [], []
    for v in np.unique(nvtx):
        sel = nvtx == v
        if sel.sum() >= 30:
            x.append(v / 0.7)
            y.append(np.var(u[sel]))
            w.append(sel.sum())
    slope, intercept = np.polyfit(x, y, 1, w=np.sqrt(w))
    return float(np.sqrt(max(intercept, 0))), float(np.sqrt(max(slope, 0)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jets", type=int, default=400)
    parser.add_argument("--zmumu", type=int, default=1000)
    args = parser.parse_args()
    jets = _simulate("jets_wprime_qcd.yaml", args.jets, 21)
    w = jets["signal"] == 1
    with tempfile.TemporaryDirectory() as tmp:
        z20 = _simulate("zmumu.yaml", args.zmumu, 22)
        z0 = _simulate("zmumu.yaml", args.zmumu // 2, 23, Path(tmp), pileup_mean=0)
    m = _m_ll(z20)
    window = (m > 60) & (m < 120)
    sigma_c, sigma_pu = _sigma_pu(z20)
    n_w, n_q, n_z = int(w.sum()), int((~w).sum()), int(window.sum())
    rows = [
        {"quantity": "W jet mass, median (GeV)", "physgen": f"{np.median(jets['jet_mass'][w]):.1f} ({n_w} jets)",
         "paper": "peak near 80 (m_W = 80.4, PDG)", "source": "paper 000 Fig. 6 and text"},
        {"quantity": "QCD jet mass in 60–100 GeV, median (GeV)",
         "physgen": f"{np.median(jets['jet_mass'][~w]):.1f} ({n_q} jets)", "paper": "falling across the window",
         "source": "paper 000 Fig. 6 (no number in the text)"},
        {"quantity": "⟨τ21⟩ W / QCD", "physgen": f"{jets['tau_21'][w].mean():.2f} / {jets['tau_21'][~w].mean():.2f}",
         "paper": "W lower than QCD", "source": "paper 000 Fig. 6 (no number in the text)"},
        {"quantity": "M_ll mean in 60–120 GeV (GeV)",
         "physgen": f"{m[window].mean():.2f} ± {m[window].std() / np.sqrt(n_z):.2f} ({n_z} events)", "paper": "89.6",
         "source": "paper 002 Sec. 4 (M_Z in the loss)"},
        {"quantity": "M_ll RMS in 60–120 GeV (GeV)", "physgen": f"{m[window].std():.2f}", "paper": "7.7",
         "source": "paper 002 Sec. 4 (σ_MZ in the loss)"},
        {"quantity": "jets (pT > 20 GeV, η within ±2.5) per event, 20 / 0 pileup",
         "physgen": f"{_jets_per_event(z20):.2f} / {_jets_per_event(z0):.2f}", "paper": "within 0.3 of each other",
         "source": "issue 13 target (CMS-like CHS + ρ·A)"},
        {"quantity": "leading muons with isolation < 0.1, 20 / 0 pileup",
         "physgen": f"{np.mean(z20['mu1_iso'] < 0.1):.3f} / {np.mean(z0['mu1_iso'] < 0.1):.3f}", "paper": "≥ 0.90",
         "source": "issue 13 target (Δβ isolation, CMS JINST 13 (2018) P06015)"},
        {"quantity": "⟨nVTX⟩ at 20 pileup", "physgen": f"{z20['nvtx'].mean():.1f}", "paper": "1 + 0.7 × 20 = 15",
         "source": "CMS JINST 10 (2015) P02006 (vertex efficiency 0.7)"},
        {"quantity": "MET resolution σ(u⊥) / σ(MET_x), 20 pileup (GeV)",
         "physgen": f"{np.std(_u_perp(z20)):.1f} / {np.std(z20['met_px']):.1f}", "paper": "—",
         "source": "emerges from the Delphes CMS card resolutions; no CMS number read"},
        {"quantity": "σ_c, σ_PU of σ²(u⊥) = σ_c² + N_vtx/0.7 σ_PU² (GeV)",
         "physgen": f"{sigma_c:.1f}, {sigma_pu:.2f}", "paper": "—", "source": "CMS JINST 10 (2015) P02006 (form)"},
    ]
    notes = [f"Serial runs of the shipped specs: {args.jets} LAGAN-selection jets (half W'), {args.zmumu} Z → μμ events "
             f"with 20 pileup and {args.zmumu // 2} without; fixed seeds.",
             "The jet mass is the stored trimmed-jet mass (from the calorimeter cells, before pixelisation)."]
    write_results("reference_physics", rows, ["quantity", "physgen", "paper", "source"], notes)


if __name__ == "__main__":
    main()
