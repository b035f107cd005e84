"""Physics checks of the parametric shower simulator (docs/PHYSICS.md §2–5); small N, seeds explicit."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from physgen.errors import SpecError
from physgen.sim import build_simulator
from physgen.sim.showers import CellReadout, EmTune, PionTune, load_tune, tune_names
from physgen.store import resolve_dataset

DATASETS = ["calogan_eplus", "calogan_gamma", "calogan_piplus", "calogan_conditional_eplus", "ild_photons_50gev"]
CALOGAN_LAYERS = ("layer_0", "layer_1", "layer_2")


def _simulator(name: str, **options):
    sim = build_simulator(resolve_dataset(f"specs/datasets/{name}.yaml"))
    for key, value in options.items():
        setattr(sim.options, key, value)
    return sim


def _fixed(n: int, energy: float, **extra: float) -> dict[str, np.ndarray]:
    return {"energy": np.full(n, energy)} | {k: np.full(n, v) for k, v in extra.items()}


def _calogan_total(cells: np.ndarray, overflow: np.ndarray) -> np.ndarray:
    return cells.sum(1) + overflow.sum(1)


@pytest.mark.parametrize("name", DATASETS)
def test_every_dataset_fits_its_schema(name):
    sim = _simulator(name)
    batch = sim.simulate(7, np.random.SeedSequence(3))
    assert sim.dataset.schema.check_batch(batch) == 7
    cells = [v for k, v in batch.items() if k in (*CALOGAN_LAYERS, "energy") and v.ndim > 1]
    assert all(np.all(c >= 0) for c in cells) and sum(c.sum() for c in cells) > 0


def test_response_is_linear_in_energy():
    sim = _simulator("calogan_eplus")
    rng = np.random.default_rng(1)
    energies = [5.0, 20.0, 50.0, 100.0]
    response = [np.mean(_calogan_total(*sim.showers(rng, _fixed(100, e)))) / (1000 * e) for e in energies]
    assert np.ptp(response) / np.mean(response) < 0.02, response
    assert 0.95 < np.mean(response) < 1.0  # total deposit; a little leaks out of 31 X0


def test_resolution_falls_like_stochastic_plus_constant():
    """Active-medium (LAr) energy of the CaloGAN stack: σ/E = a/√E ⊕ b."""
    sim = _simulator("calogan_eplus")
    geometry = sim.readout.geometry.model_copy(update={"readout": "active"})
    sim.readout = CellReadout(geometry, sim.stack)
    rng = np.random.default_rng(2)
    energies = np.array([2.0, 5.0, 10.0, 25.0, 50.0, 100.0])
    rel = []
    for e in energies:  # 1000 showers: σ/E known to ±2.2 %; with 300 (±4 %) one energy alone could leave the 20 % band
        total = _calogan_total(*sim.showers(rng, _fixed(1000, e)))
        rel.append(total.std() / total.mean())
    rel = np.array(rel)
    a2, b2 = np.polyfit(1.0 / energies, rel**2, 1)  # (σ/E)² = a²/E + b²
    assert np.all(np.diff(rel) < 0), rel
    assert 0.04**2 < a2 < 0.25**2 and b2 < 0.03**2, (a2, b2)
    fit = np.sqrt(a2 / energies + max(b2, 0.0))
    assert np.max(np.abs(rel - fit) / fit) < 0.2, (rel, fit)


def _mean_depth_x0(sim, energy: float, n: int, seed: int) -> float:
    """Energy-weighted mean depth (X0) of the spots: the shower's centre of gravity."""
    spots = sim._spots(np.random.default_rng(seed), np.full(n, energy * 1000), np.ones(n))
    depth = sim.stack.from_mm(spots.path, np.ones(len(spots)), "X0")
    return float(np.sum(depth * spots.energy) / spots.energy.sum())


def test_shower_depth_grows_like_ln_e_and_photons_start_later():
    electrons, photons = _simulator("calogan_eplus"), _simulator("calogan_gamma")
    energies = np.array([2.0, 10.0, 50.0, 100.0])
    # 1000 showers each: the photon-electron shift is known to ±0.07 X0 (300 gave ±0.13, a seed's draw 0.74-1.05 X0)
    depth_e = np.array([_mean_depth_x0(electrons, e, 1000, 4) for e in energies])
    depth_g = np.array([_mean_depth_x0(photons, e, 1000, 5) for e in energies])
    slope, _ = np.polyfit(np.log(energies), depth_e, 1)
    assert 0.8 < slope < 1.2, slope  # t_max ≈ ln(E/E_c) − 0.5: one X0 per e-fold of energy
    assert np.all(np.abs(depth_e - np.polyval(np.polyfit(np.log(energies), depth_e, 1), np.log(energies))) < 0.3)
    shift = depth_g - depth_e
    # ≈ 9/7 X0 conversion depth, less the pair's earlier maximum: PDG 34.5, C_γ − C_e = 1.0 X0. The model gives
    # 0.81 ± 0.03 X0 at 2 GeV (5 seeds of 1000 showers, main's tune and the 2026-11-30 em17 tune alike: 20 % short
    # of PDG's, known) and 0.88-1.0 above 10 GeV; the bound was 0.8, which 300 showers passed or failed by their draw
    assert np.all((0.75 < shift) & (shift < 1.8)), shift


def test_pions_deposit_less_and_later_than_positrons():
    depth_edges = resolve_dataset("specs/datasets/calogan_eplus.yaml").schema.coords["layer"][1]["depth_edges_mm"]
    centres = np.convolve(depth_edges, [0.5, 0.5], "valid")
    out = {}
    for name in ("calogan_eplus", "calogan_piplus"):
        sim = _simulator(name)
        batch = sim.simulate(300, np.random.SeedSequence(6))
        per_layer = np.stack([batch[k].sum((1, 2)) for k in CALOGAN_LAYERS], axis=1)
        out[name] = per_layer.sum(1) / (1000 * batch["energy"]), per_layer @ centres / per_layer.sum(1)
    (resp_e, depth_e), (resp_pi, depth_pi) = out["calogan_eplus"], out["calogan_piplus"]
    assert resp_pi.mean() < 0.6 * resp_e.mean(), (resp_pi.mean(), resp_e.mean())
    assert depth_pi.mean() > depth_e.mean() + 30, (depth_pi.mean(), depth_e.mean())
    assert np.mean(resp_pi < 0.05) > 0.15  # punch-through: the stack is only 1.3 λ_int deep


def test_lateral_containment_follows_the_moliere_radius():
    sim = _simulator("calogan_eplus")
    spots = sim._spots(np.random.default_rng(7), np.full(200, 50_000.0), np.ones(200))
    r_m = sim.stack.front.moliere_radius
    inside = [spots.energy[spots.radius < k * r_m].sum() / spots.energy.sum() for k in (1, 2)]
    assert 0.85 < inside[0] < 0.95, inside  # ≈ 90 % within 1 R_M
    assert inside[1] > 0.93, inside  # ≈ 95 % within 2 R_M


def test_normal_incidence_at_centre_is_mirror_symmetric_and_impact_point_moves_it():
    sim = _simulator("calogan_eplus")
    batch = sim.simulate(400, np.random.SeedSequence(8))
    for name in ("layer_0", "layer_1"):
        mean = batch[name].mean(0)
        for axis in (0, 1):
            assert np.abs(mean - np.flip(mean, axis)).sum() / mean.sum() < 0.05, (name, axis)
    x = resolve_dataset("specs/datasets/calogan_eplus.yaml").schema.coords["layer_0_x"][0]
    cells, _ = sim.showers(np.random.default_rng(9), _fixed(100, 50.0, x0=20.0))
    layer_0 = cells[:, :288].reshape(100, 3, 96).sum(1)
    assert 18 < np.mean(layer_0 @ x / layer_0.sum(1)) < 22


def test_ild_photons_hit_count_and_visible_energy():
    sim = _simulator("ild_photons_50gev")
    batch = sim.simulate(40, np.random.SeedSequence(10))
    cells = batch["energy"]
    hits = (cells > 0).sum((1, 2, 3))
    assert 300 < hits.mean() < 1500, hits.mean()  # Geant4: ≈ 780 hits above 0.1 MeV
    assert cells[cells > 0].min() >= 0.1
    visible = cells.sum((1, 2, 3)) / 50_000
    assert 0.02 < visible.mean() < 0.035  # between the sampling fractions of the two W thicknesses
    assert np.all(batch["incident_energy"] == 50)


def test_leading_tracks_cross_every_active_plane_they_reach():
    """A converted photon's e+e− pair crosses each Si plane behind the conversion: an ``active`` readout counts its
    two crossings exactly (Poisson crossings of mean 2 left e^−2 = 13.5 % of the planes empty)."""
    from physgen.sim.showers._gflash import leading_tracks

    sim, n = _simulator("ild_photons_50gev"), 200
    tracks = leading_tracks(sim.stack, np.arange(n), np.zeros(n), np.full(n, 26.0), np.full(n, 2.0))  # planes 0-9
    zero = np.zeros(n)
    cells, _ = sim.readout.deposit(np.random.default_rng(3), tracks, n, zero, zero, zero, zero)
    planes = cells.reshape(n, 30, -1).sum(2)[:, :10]
    assert np.mean(planes == 0) < 0.01
    per_crossing = sim.stack.mip_loss[0] * sim.stack.period[0] * sim.stack.sampling_fraction[0] * sim.readout.signal_scale
    assert planes.mean() == pytest.approx(2 * per_crossing, rel=0.03)


def test_determinism_per_seed():
    sim = _simulator("calogan_conditional_eplus")
    a, b, c = (sim.simulate(50, np.random.SeedSequence(s)) for s in (11, 11, 12))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["layer_1"], c["layer_1"])


def _spec(tmp_path, body: str) -> str:
    path = tmp_path / "custom.yaml"
    path.write_text("kind: dataset\nname: custom\n" + body)
    return str(path)


@pytest.mark.parametrize("particle", ["e-", "pi+"])
def test_any_voxel_detector_oblique_incidence(tmp_path, particle):
    """The same model fills the ILD voxel spec at an angle; deposits shift along +x with θ, φ = 0."""
    spec = _spec(tmp_path, f"""simulator: {{name: showers, options: {{particle: {particle}}}}}
detector: ild_ecal_30
conditions:
  energy: {{distribution: fixed, value: 20, units: GeV}}
  theta: {{distribution: fixed, value: 20, units: degree}}
""")
    sim = build_simulator(resolve_dataset(spec))
    cells = sim.simulate(30, np.random.SeedSequence(13))["energy"]
    assert cells.shape == (30, 30, 30, 30)
    x = resolve_dataset(spec).schema.coords["x"][0]
    per_layer_x = cells.sum((0, 2)) @ x / np.maximum(cells.sum((0, 2, 3)), 1e-9)  # centroid in x per layer
    late = cells.sum((0, 2, 3)) > 0
    slope = np.polyfit(np.flatnonzero(late), per_layer_x[late], 1)[0]
    assert slope > 0  # the shower axis moves to +x with depth
    assert cells.sum((1, 2, 3)).mean() < 0.05 * 20_000  # only the silicon energy is read out


@pytest.mark.parametrize(("body", "message"), [
    ("simulator: {name: showers, options: {particle: e+}}\ndetector: jet_image_25x25\n"
     "conditions: {energy: {distribution: fixed, value: 1, units: GeV}}\n", "layered or voxel calorimeter"),
    ("simulator: {name: showers, options: {particle: e+}}\ndetector: calogan_lar3\n"
     "conditions: {x0: {distribution: fixed, value: 1, units: mm}}\n", "incident energy 'energy'"),
    ("simulator: {name: showers, options: {particle: e+}}\ndetector: calogan_lar3\nfeatures: calo_conditions\n"
     "conditions: {energy: {distribution: fixed, value: 1, units: GeV}}\n", "no condition of the same name"),
    ("simulator: {name: showers, options: {particle: e+}}\ndetector: calogan_lar3\n"
     "conditions: {energy: {distribution: fixed, value: 1, units: mm}}\n", "GeV-compatible"),
    ("simulator: {name: showers, options: {particle: muon}}\ndetector: calogan_lar3\n"
     "conditions: {energy: {distribution: fixed, value: 1, units: GeV}}\n", "simulator.options.particle"),
    ("simulator: {name: showers, options: {particle: e+, tune: geant}}\ndetector: calogan_lar3\n"
     "conditions: {energy: {distribution: fixed, value: 1, units: GeV}}\n", "unknown shower tune 'geant'; did you mean 'geant4'"),
])
def test_bad_specs_fail_before_simulating(tmp_path, body, message):
    with pytest.raises(SpecError, match=message):
        build_simulator(resolve_dataset(_spec(tmp_path, body)))


@pytest.mark.parametrize(("condition", "message"), [
    ("energy: {distribution: normal, mean: 0.5, std: 1, units: GeV}", "incident energies <= 0"),
    ("energy: {distribution: fixed, value: 5, units: GeV}\n  theta: {distribution: fixed, value: 2, units: rad}",
     "polar angles outside"),
])
def test_conditions_outside_the_model_domain_are_spec_errors(tmp_path, condition, message):
    spec = _spec(tmp_path, f"simulator: {{name: showers, options: {{particle: e+}}}}\ndetector: calogan_lar3\n"
                           f"conditions:\n  {condition}\n")
    with pytest.raises(SpecError, match=message):
        build_simulator(resolve_dataset(spec)).simulate(50, np.random.SeedSequence(0))


def test_every_tuned_constant_says_where_it_comes_from():
    """tunes.yaml: each constant of each tune has a value and a source (a paper or the fit that made it)."""
    assert "geant4" in tune_names()
    for name in tune_names():
        tune = load_tune(name)
        fields = {f"em.{k}" for k in EmTune.model_fields} | {f"pion.{k}" for k in PionTune.model_fields}
        assert set(tune.sources) == fields, name
        assert all(len(source) > 10 for source in tune.sources.values()), tune.sources


@pytest.mark.parametrize("entry, message", [
    ("em: {spots_per_gev: {value: -1, source: typo}}", "spots_per_gev"),
    ("pion: {delta_ray_share: {value: 0.98, source: typo}, track_photon_share: {value: 0.05, source: typo}}",
     "track_photon_share exceed 1"),
])
def test_a_malformed_tune_is_a_spec_error(tmp_path, monkeypatch, entry, message):
    from physgen.sim.showers import _tune

    good = yaml.safe_load(_tune.TUNES_FILE.read_text())["geant4"]
    broken = {part: {k: v for k, v in good[part].items()} for part in ("em", "pion")}
    for part, values in yaml.safe_load(entry).items():
        broken[part].update(values)
    bad = tmp_path / "tunes.yaml"
    bad.write_text(yaml.safe_dump({"broken": broken}, allow_unicode=True))
    monkeypatch.setattr(_tune, "TUNES_FILE", bad)
    _tune._tunes.cache_clear()
    _tune.load_tune.cache_clear()
    try:
        with pytest.raises(SpecError, match=f"(?s)tune 'broken' is malformed.*{message}"):
            _tune.load_tune("broken")
    finally:
        _tune._tunes.cache_clear()
        _tune.load_tune.cache_clear()


@pytest.mark.parametrize("shape", [0.3, 0.6165, 1.3, 2.08, 3.5])
def test_tabulated_gamma_variates_follow_the_gamma_distribution(shape):
    """The hadronic depths are drawn from tabulated standard-gamma quantiles (one uniform draw and an
    interpolation each, in place of a gamma variate): against the exact gamma distribution (scipy.stats.gamma)
    over the Bock profile's range of shapes (a = 0.6165 at 1 GeV, 2.08 at 100 GeV), its quantiles into the
    tail beyond the table (to 1 % or 10⁻³ λ_int) and 2·10⁵ draws."""
    from scipy import stats

    from physgen.sim.showers._hadronic import _gamma_quantiles, _gamma_variates, _tabulated_gamma

    table, tail, row, weight = _gamma_quantiles(np.array([shape]))
    for u in (0.01, 0.3, 0.5, 0.9, 0.999, 0.9999, 0.99999):
        exact = stats.gamma(shape).ppf(u)
        assert _tabulated_gamma(table, tail, row[0], weight[0], u) == pytest.approx(exact, rel=0.01, abs=1e-3)
    draws = _gamma_variates(np.random.default_rng(8), table, tail, row, weight, np.zeros(200_000, dtype=np.int64))
    assert stats.kstest(draws, stats.gamma(shape).cdf).pvalue > 1e-3
    assert draws.mean() == pytest.approx(shape, abs=4 * np.sqrt(shape / len(draws)))
