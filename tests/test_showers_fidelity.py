"""The parametric showers against the shipped Geant4 validation samples (issue 12).

Truth: the Geant4 11.4 samples shipped in ``samples/geant4`` (made by physgen's ``geant4``
simulator). A subsample of them against as many parametric showers at the same incident energies,
measured as ``benchmarks/bench_fidelity.py`` does. The issue's targets (e+, γ: every shower-shape
⟨S²⟩ ≤ 0.05 and classifier AUC ≤ 0.75; π+ AUC ≤ 0.85) are NOT met yet (README, fidelity table).
These tests guard the measured level with ~35 % headroom on ⟨S²⟩ and +0.05 on the AUC. With the importance-
sampled radii of the young shower, 46 spots per GeV and the longer backward halo (2026-11-30, same seeds and
settings): e+ mean ⟨S²⟩ 0.030, worst 0.049 (layer-2 fraction), AUC 0.80; γ 0.044, 0.11 (layer-2 fraction),
0.745 (with 52 spots per GeV: e+ 0.028, 0.050, 0.753; γ 0.039, 0.077, 0.772: at these sample sizes the AUC
scatters by ±0.03); π+, whose π⁰ showers share the EM tune, with the π+ model of the same day: 0.054, 0.160
(layer-1 sparsity), 0.80. Before, measured here
(this test's seeds, 15 classifier epochs, ⟨S²⟩ on 30 equal-population bins of the Geant4 sample; the
CaloGAN tune with the halo count spread and the pion track's relativistic rise, 2026-11-30, showers in
batches of 16): e+ mean ⟨S²⟩ 0.028, worst 0.062 (layer-2 sparsity), AUC 0.86; γ 0.047, 0.093 (layer-2
sparsity), 0.828; π+ 0.077, 0.26 (layer-1 sparsity), 0.862 (batches of 32: e+ 0.032, 0.068, 0.854; γ 0.044,
0.096, 0.831; π+ 0.077, 0.27, 0.867); ILD (its own tune, unchanged) 0.067, 0.27 (outermost radial bin), 0.98.
π+ since the track's soft photons and the soft photons' depth spread (2026-11-30, its spec's batches of 32):
0.051, 0.143 (layer-1 sparsity), 0.847 (the guards were 0.105 / 0.37 / 0.92). Before
these two constants: e+ 0.031, 0.064, 0.85; γ 0.046, 0.089, 0.85; π+ 0.096, 0.27, 0.875 (the γ and π+
guards were 0.065 / 0.9 and 0.13 / 0.93). The tune before that (one joint fit for CaloGAN and ILD) gave e+
0.052, 0.146, 0.93; γ 0.067, 0.18, 0.86; π+ 0.091, 0.28, 0.91; the untuned GFlash model mean ⟨S²⟩ 0.16,
layer-0 widths and layer-2 sparsity 0.3–0.8, AUC ≈ 1. With 1000 + 1000 showers on 30 bins, ⟨S²⟩ of two
samples of one distribution is ≈ 0.015 (500 + 500: 0.03).
"""

from __future__ import annotations

import numpy as np
import pytest

from physgen.sim import build_simulator
from physgen.sim.showers._fidelity import fidelity, shower_columns, simulated_columns
from physgen.store import open_store, resolve_dataset

geant4 = pytest.importorskip("physgen.sim.geant4", reason="the geant4 simulator and its shipped samples")

CASES = {  # parametric spec: (shipped Geant4 sample, showers compared, mean ⟨S²⟩ below, every ⟨S²⟩ below, AUC below)
    "calogan_eplus": ("geant4_calogan_eplus", 1000, 0.04, 0.068, 0.85),
    "calogan_gamma": ("geant4_calogan_gamma", 500, 0.06, 0.13, 0.82),
    "calogan_piplus": ("geant4_calogan_piplus", 1000, 0.07, 0.2, 0.9),
    "ild_photons_50gev": ("geant4_ild_photons_50gev", 500, 0.05, 0.1, 0.8),  # ild24: 0.033, 0.057, 0.67; ild22: 0.034, 0.066, 0.68; ild20: 0.036, 0.062, 0.68; ild19: 0.039, 0.082, 0.76
}


def _shipped_and_parametric(spec: str, sample: str, n: int, seed: int):
    """Shower-shape columns of the first ``n`` showers of a shipped Geant4 sample and of as many parametric
    showers at the same incident energies, with those energies."""
    try:
        url = geant4.validation_sample(sample)
    except Exception:  # noqa: BLE001 - sample not shipped in this checkout
        pytest.skip(f"no shipped Geant4 sample {sample}")
    reference = open_store(url).isel(event=slice(0, n)).load()
    sim = build_simulator(resolve_dataset(f"specs/datasets/{spec}.yaml"))
    energy = reference[sim.options.energy_condition].values.astype(np.float64)
    return shower_columns(reference), simulated_columns(sim, energy, seed=seed), energy


@pytest.mark.parametrize("spec", CASES)
def test_parametric_showers_stay_close_to_geant4(spec, torch_one_thread):
    sample, n, mean_max, s2_max, auc_max = CASES[spec]
    reference, generated, _ = _shipped_and_parametric(spec, sample, n, seed=3)
    result = fidelity(reference, generated, seed=0, epochs=15)
    assert np.mean(list(result.s2.values())) < mean_max, result.s2
    over = {k: round(v, 3) for k, v in result.s2.items() if v > s2_max}
    assert not over, over
    assert result.auc < auc_max, result.auc


def _hit_count_scatter(columns: dict[str, np.ndarray], energy: np.ndarray) -> tuple[float, float]:
    """Mean layer-0 hit count (cells > 0 of the 3 × 96 strips) of showers above 10 GeV, and its sd around a
    linear fit in ln(layer-0 energy) and ln(incident energy): the scatter a classifier sees at given energies."""
    above = energy >= 10.0
    hits = columns["sparsity_calogan_0"][above] * 288
    fit = np.stack([np.ones(above.sum()), np.log(columns["layer_energy_0"][above]), np.log(energy[above])], axis=1)
    residual = hits - fit @ np.linalg.lstsq(fit, hits, rcond=None)[0]
    return float(hits.mean()), float(residual.std())


def test_layer0_hit_count_scatters_as_in_geant4():
    """Geant4's strip layer has as many hits as the model at given layer-0 and incident energy, and they scatter
    as much (shipped geant4_calogan_eplus, 10-100 GeV: 124 hits, sd 9.4 around the fit; with Poisson halo
    deposits the model's sd was 6.2, the halo_count_spread of tunes.yaml brings it to Geant4's)."""
    reference, generated, energy = _shipped_and_parametric("calogan_eplus", "geant4_calogan_eplus", 2000, seed=5)
    mean_g4, scatter_g4 = _hit_count_scatter(reference, energy)
    mean_param, scatter_param = _hit_count_scatter(generated, energy)
    assert mean_param == pytest.approx(mean_g4, rel=0.1)
    assert 0.8 < scatter_param / scatter_g4 < 1.25, (scatter_param, scatter_g4)


def test_punch_through_pions_deposit_what_geant4_does():
    """Pions that cross the 2.7 λ_int CaloGAN stack without showering (total deposit < 400 MeV) leave the
    track's ionisation: Geant4 (shipped geant4_calogan_piplus) a median 334 MeV in all three layers, 240 in layer 1.
    A minimum-ionising track gives 269 (PDG ⟨dE/dx⟩_min of Pb and LAr); the relativistic rise of a GeV pion's
    loss (PDG 34.2.5) is the tune's track_loss_scale. They light a mean 6.0 of the 144 layer-1 cells in Geant4
    (the track's four around the axis and the odd cell beside them, 4 to 9 from the 10 % to the 90 % quantile):
    the track's soft photons (the tune's track_photon_share); without them the model lit 3.6."""
    reference, generated, _ = _shipped_and_parametric("calogan_piplus", "geant4_calogan_piplus", 2000, seed=6)
    medians, lit = [], []
    for columns in (reference, generated):
        total = columns["layer_energy_0"] + columns["layer_energy_1"] + columns["layer_energy_2"]
        medians.append(np.median(total[total < 400.0]))
        lit.append(np.mean(columns["sparsity_calogan_1"][total < 400.0]) * 144)
    assert medians[1] == pytest.approx(medians[0], rel=0.05), medians
    assert lit[1] == pytest.approx(lit[0], rel=0.15), lit
