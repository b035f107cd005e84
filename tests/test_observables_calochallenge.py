"""CaloChallenge (event, voxel) stores: the high-level features against the challenge's own definitions
(code/HighLevelFeatures.py and XMLHandler.py of the Fast Calorimeter Simulation Challenge 2022), written
out here from its binning file, on the same showers."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.observables import compute, default_observables
from physgen.testing._observable_strategies import as_dataset

PIONS_BINNING = {  # code/binning_dataset_1_pions.xml: layer id → (r_edges in mm, n_bin_alpha)
    0: ([0, 5, 10, 30, 50, 100, 200, 400, 600], 1),
    1: ([0, 1, 4, 7, 10, 15, 30, 50, 90, 150, 200], 10),
    2: ([0, 5, 10, 20, 30, 50, 80, 130, 200, 300, 400], 10),
    3: ([0, 50, 100, 200, 400, 600], 1),
    12: ([0, 10, 20, 30, 50, 80, 100, 130, 160, 200, 250, 300, 350, 400, 1000, 2000], 10),
    13: ([0, 10, 20, 30, 50, 80, 100, 130, 160, 200, 250, 300, 350, 400, 600, 1000, 2000], 10),
    14: ([0, 50, 100, 150, 200, 250, 300, 400, 600, 1000, 2000], 1),
}


def _challenge_features(showers: np.ndarray) -> dict[str, dict[int, np.ndarray]]:
    """The challenge's features per layer id: voxels α-major then r within a layer; r at the bin middle,
    α at the middle of n equal bins of [−π, π]; η = r cos α, φ = r sin α; moments over ΣE + 1e-16."""
    out: dict[str, dict[int, np.ndarray]] = {k: {} for k in ("E", "EC_eta", "EC_phi", "W_eta", "W_phi", "EC_r", "W_r",
                                                            "sparsity")}
    start = 0
    for layer, (edges, n_alpha) in PIONS_BINNING.items():
        r_mid = [edges[i] + (edges[i + 1] - edges[i]) / 2 for i in range(len(edges) - 1)]
        alphas = np.linspace(-np.pi, np.pi, n_alpha + 1)
        alpha_mid = [alphas[i] + (alphas[i + 1] - alphas[i]) / 2 for i in range(n_alpha)]
        r = np.array([r_mid[i] for _ in range(n_alpha) for i in range(len(r_mid))])
        alpha = np.array([alpha_mid[j] for j in range(n_alpha) for _ in range(len(r_mid))])
        e = showers[:, start:start + r.size]
        start += r.size
        norm = e.sum(axis=-1) + 1e-16
        out["E"][layer] = e.sum(axis=-1)
        out["sparsity"][layer] = 1.0 - (e > 0).mean(axis=-1)
        for name, x in (("r", r), ("eta", r * np.cos(alpha)), ("phi", r * np.sin(alpha))):
            if name != "r" and n_alpha == 1:
                continue
            centre = (x * e).sum(axis=-1) / norm
            out[f"EC_{name}"][layer] = centre
            out[f"W_{name}"][layer] = np.sqrt(((x * x * e).sum(axis=-1) / norm - centre**2).clip(min=0.0))
    assert start == showers.shape[1]
    return out


@pytest.fixture(scope="module")
def showers():
    rng = np.random.default_rng(7)
    cells = rng.exponential(50.0, (30, 533)) * (rng.random((30, 533)) < 0.4)
    cells[0, :8] = 0.0  # an empty layer 0
    cells[1, :] = 0.0
    cells[1, 100] = 7.0  # one voxel in one layer
    return cells


def test_high_level_features_match_the_challenge(showers):
    ds = as_dataset("calochallenge_1_pions", {"showers": showers})
    ds = ds.assign(incident_energy=("event", np.full(len(showers), 2.0), {"units": "GeV"}))
    names = ["layer_energy", "total_energy", "total_over_incident", "centroid_eta", "centroid_phi", "width_eta",
             "width_phi", "centroid_r", "width_r", "sparsity_calochallenge", "sparsity_calogan"]
    obs = compute(ds, names).compute()
    expected = _challenge_features(showers)
    pairs = {"layer_energy": "E", "centroid_eta": "EC_eta", "centroid_phi": "EC_phi", "width_eta": "W_eta",
             "width_phi": "W_phi", "centroid_r": "EC_r", "width_r": "W_r", "sparsity_calochallenge": "sparsity"}
    for name, key in pairs.items():
        dim = "alpha_layer" if name.endswith(("eta", "phi")) else "layer"
        assert obs[name][dim].values.tolist() == list(expected[key]), name
        for layer, values in expected[key].items():
            np.testing.assert_allclose(obs[name].sel({dim: layer}).values, values, rtol=1e-12, atol=1e-12,
                                       err_msg=f"{name} layer {layer}")
    np.testing.assert_allclose(obs.total_energy, showers.sum(axis=-1), rtol=1e-12)
    np.testing.assert_allclose(obs.total_over_incident, showers.sum(axis=-1) / 2000.0, rtol=1e-12)  # MeV / (2 GeV)
    np.testing.assert_allclose(obs.sparsity_calogan, 1.0 - obs.sparsity_calochallenge, rtol=1e-12)
    assert obs.centroid_r.attrs["units"] == "mm" and obs.layer_energy.attrs["units"] == "MeV"


def test_default_columns_are_the_challenge_features():
    ds = as_dataset("calochallenge_1_photons", {"showers": np.ones((2, 368))})
    assert "centroid_eta" in default_observables(ds)  # no feature schema here: every per-event observable
    obs = compute(ds, ["centroid_eta", "layer_energy"])
    assert obs.centroid_eta.sizes["alpha_layer"] == 2 and obs.layer_energy.sizes["layer"] == 5  # layers 1, 2 binned in α


def test_evaluate_compares_the_challenge_features_of_stores(tmp_path):
    """Before issue 15 a CaloChallenge store was compared on its incident energy alone."""
    from physgen.metrics import Comparison, get_metric
    from physgen.store import open_store
    from physgen.testing._observable_strategies import make_store

    make = lambda name, seed, d: open_store(make_store(tmp_path / name, detector="calochallenge_1_photons",  # noqa: E731
                                                       features="calochallenge_conditions", n_events=300, seed=seed,
                                                       chunk_events=300, distortion=d))
    ref, same = make("a.zarr", 1, 0.0), make("b.zarr", 2, 0.0)
    other = same.assign(showers=same.showers * 1.2)  # a generator 20 % too hot
    columns, _ = Comparison(ref, same).columns()
    assert {"layer_energy_12", "centroid_eta_1", "width_phi_2", "width_r_2", "total_over_incident",
            "incident_energy"} <= set(columns)
    assert "sparsity_calochallenge_0" not in columns  # the synthetic voxels are never empty: 0 in both, left out
    s2 = get_metric("s2_mean")
    assert s2(ref, other).value > 2 * s2(ref, same).value
