"""The soft photons of π± cascades drawn cell by cell (physgen/sim/showers/_photon_cells.py) against the
photon-by-photon draw they replace at normal incidence, and the pieces of that draw against known answers."""

from __future__ import annotations

import textwrap

import numba
import numpy as np
import pytest
from scipy import stats
from scipy.special import exp1

from physgen.sim import build_simulator
from physgen.sim.showers._hadronic import _soft_photon_cells, _soft_photons
from physgen.sim.showers._photon_cells import _compound_poisson, _layer_radial, _poisson
from physgen.store import resolve_dataset


@pytest.fixture(scope="module")
def piplus():
    return build_simulator(resolve_dataset("specs/datasets/calogan_piplus.yaml"))


def test_a_photon_stays_in_its_slab_as_the_exponential_integral_says():
    """Known answer: a photon emitted isotropically in the middle of a slab of half-thickness D, absorbed after an
    exponential flight of mean L, stays in it with probability ∫ e^(−ρ/L)/L · min(1, D/ρ) dρ
    = 1 − e^(−x) + x E₁(x), x = D/L (|cos θ| ≤ D/ρ has probability D/ρ for a uniform cos θ)."""
    half, path = 30.0, 80.0
    radii = np.array([0.0, 10.0, 50.0, 5000.0])
    radial, beyond = _layer_radial(np.array([half]), np.array([0.0, 2 * half]), radii, path)
    x = half / path
    assert radial.sum() + beyond.sum() == pytest.approx(1.0 - np.exp(-x) + x * exp1(x), rel=2e-3)
    # within 10 mm of the axis: every photon that flies less than 10 mm, and a share of the longer ones
    assert radial[0, 0, 0] > 1.0 - np.exp(-10.0 / path)


@numba.njit
def _poisson_many(rng, mean, n):
    out = np.empty(n, dtype=np.int64)
    for i in range(n):
        out[i] = _poisson(rng, mean)
    return out


@pytest.mark.parametrize("mean", [0.02, 0.8, 4.0, 25.0, 40.0])
def test_poisson_by_inversion_follows_the_poisson_distribution(mean):
    """Known answer: the Poisson pmf (scipy.stats.poisson); a χ² test on 20 000 draws, below (inversion) and above
    (the generator's own) the switch at 30."""
    draws = _poisson_many(np.random.default_rng(11), mean, 20000)
    k = np.arange(int(3 * mean) + 10)
    expected = stats.poisson.pmf(k, mean) * len(draws)
    observed = np.bincount(draws, minlength=len(k))[:len(k)]
    used = expected > 5
    assert stats.chi2.sf(np.sum((observed[used] - expected[used]) ** 2 / expected[used]), used.sum() - 1) > 1e-3


def test_compound_poisson_cells_count_and_share_the_energy():
    """Known answer: a slot of expected count λ is lit with probability 1 − e^(−λ); the photons of a cascade
    (landed and leaked, Poisson of mean N) share its energy E, so a slot of expected count λ holds E·λ/N on average."""
    n = 20000
    rows = np.tile([0.25, 0.75], (n, 1))  # two origin rows mixed: expected counts 0.5, 3.0 and 0
    probability = np.array([[0.02, 0.6, 0.0], [0.06, 0.2, 0.0]])
    cascade, slot, energy = _compound_poisson(np.random.default_rng(1), rows, probability, np.full(n, 10.0),
                                              np.full(n, 20.0))
    lit = np.bincount(slot, minlength=3) / n
    assert lit[0] == pytest.approx(1 - np.exp(-0.5), abs=0.015) and lit[1] == pytest.approx(1 - np.exp(-3.0), abs=0.01)
    assert lit[2] == 0
    per_slot = np.bincount(slot, energy, minlength=3) / n
    assert per_slot[1] == pytest.approx(20.0 * 3.0 / 10.0, rel=0.03)


def test_compound_poisson_mixes_origin_rows_as_the_matrix_product():
    """The kernel sums each cascade's origin rows itself (no BLAS): with dyadic rows and probabilities (exact in
    floating point) its draws are those of cascades whose rows are premixed by ``rows @ probability``."""
    rng = np.random.default_rng(5)
    rows = rng.integers(0, 5, (40, 6)) / 16.0
    probability = rng.integers(0, 9, (6, 30)) / 256.0
    photons, energy = np.full(40, 50.0), np.full(40, 75.0)
    mixed = _compound_poisson(np.random.default_rng(2), rows, probability, photons, energy)
    premixed = _compound_poisson(np.random.default_rng(2), np.eye(40), rows @ probability, photons, energy)
    assert len(mixed[0]) > 100
    for got, want in zip(mixed, premixed):
        np.testing.assert_array_equal(got, want)


@pytest.fixture(scope="module")
def two_sections(tmp_path_factory):
    """Pions in a YAML-only calorimeter of two sampling sections (fine Pb/LAr, then coarse Fe/scintillator: the
    depth maps in mm and λ_int are not proportional) with two readout layers, hit off the centre of its grid."""
    specs = tmp_path_factory.mktemp("specs")
    for kind in ("detectors", "datasets"):
        (specs / kind).mkdir()
    (specs / "detectors" / "pb_fe.yaml").write_text(textwrap.dedent("""\
        kind: detector
        name: pb_fe
        geometry:
          type: layered
          readout: total
          overflow: true
          transverse_size: [800 mm, 800 mm]
          materials:
            - {name: Pb, Z: 82, A: 207.2, density: 11.35 g/cm^3, X0: 0.5612 cm, moliere_radius: 1.602 cm,
               critical_energy: 7.43 MeV, lambda_int: 17.59 cm}
            - {name: LAr, Z: 18, A: 39.95, density: 1.396 g/cm^3, X0: 14.00 cm, moliere_radius: 9.043 cm,
               critical_energy: 32.84 MeV, lambda_int: 85.77 cm}
            - {name: Fe, Z: 26, A: 55.85, density: 7.874 g/cm^3, X0: 1.757 cm, moliere_radius: 1.719 cm,
               critical_energy: 21.68 MeV, lambda_int: 16.77 cm}
            - {name: Scint, Z: 5.6, A: 11.2, density: 1.06 g/cm^3, X0: 41.3 cm, moliere_radius: 9.59 cm,
               critical_energy: 93.11 MeV, lambda_int: 70.7 cm}
          sections:
            - {periods: 30, absorber: Pb, absorber_thickness: 2 mm, active: LAr, active_thickness: 4 mm}
            - {periods: 20, absorber: Fe, absorber_thickness: 20 mm, active: Scint, active_thickness: 5 mm}
          layers:
            - {name: front, depth: 0 mm, thickness: 180 mm, cells: [10, 10], cell_size: [30 mm, 30 mm]}
            - {name: back, depth: 180 mm, thickness: 500 mm, cells: [6, 6], cell_size: [80 mm, 80 mm]}
        """))
    (specs / "datasets" / "pb_fe_pions.yaml").write_text(textwrap.dedent("""\
        kind: dataset
        name: pb_fe_pions
        simulator: {name: showers, options: {particle: pi+}}
        detector: pb_fe
        conditions:
          energy: {distribution: fixed, value: 20, units: GeV}
          x0: {distribution: fixed, value: 25, units: mm}
        """))
    return build_simulator(resolve_dataset(str(specs / "datasets" / "pb_fe_pions.yaml")))


@pytest.mark.parametrize(("calorimeter", "x0", "start", "shape", "energy"), [
    ("piplus", 0.0, 0.3, 1.2, 800.0), ("piplus", 0.0, 1.0, 0.7, 300.0), ("two_sections", 25.0, 0.4, 1.5, 800.0)])
def test_cell_draw_matches_the_photon_by_photon_draw(request, calorimeter, x0, start, shape, energy):
    """The table draw has the photon-by-photon draw's distribution: per-layer mean energy, mean number of lit cells
    and overflow, and each cell's mean energy, agree within the statistical errors of 600 cascades each."""
    sim = request.getfixturevalue(calorimeter)
    pion, n = sim.tune.pion, 600
    table = sim._photon_cells({"energy": np.ones(1), "x0": np.full(1, x0)})
    args = (np.arange(n), np.full(n, start), np.full(n, shape), np.full(n, 0.85), np.full(n, energy))
    zero = np.zeros(n)
    photons = _soft_photons(np.random.default_rng(2), sim.stack, *args, np.ones(n), pion)
    cells = _soft_photon_cells(np.random.default_rng(3), sim.stack, table, *args, pion)
    (a, a_over), (b, b_over) = (sim.readout.deposit(np.random.default_rng(1), p, n, zero + x0, zero, zero, zero)
                                for p in (photons, cells))
    layers = [(o, o + ny * nx) for o, ny, nx in zip(sim.readout.offset, sim.readout.ny, sim.readout.nx)]
    for lo, hi in layers:
        for x, y in ((a[:, lo:hi].sum(1), b[:, lo:hi].sum(1)), ((a[:, lo:hi] > 0).sum(1), (b[:, lo:hi] > 0).sum(1))):
            assert abs(x.mean() - y.mean()) < 4 * np.sqrt((x.var() + y.var()) / n) + 1e-9
    for x, y in zip(a_over.T, b_over.T):
        assert abs(x.mean() - y.mean()) < 4 * np.sqrt((x.var() + y.var()) / n) + 1e-9
    error = np.sqrt((a.var(0) + b.var(0)) / n)
    pull = (a.mean(0) - b.mean(0))[error > 0] / error[error > 0]
    assert np.sqrt(np.mean(pull**2)) < 1.25  # 1 for equal distributions (a few hundred lit cells)


def test_table_only_for_normal_incidence_on_one_impact_point(piplus):
    n = 4
    assert piplus._photon_cells({"energy": np.ones(n)}) is piplus._photon_cells({"energy": np.ones(n)})
    assert piplus._photon_cells({"energy": np.ones(n), "theta": np.full(n, 0.1)}) is None
    assert piplus._photon_cells({"energy": np.ones(n), "x0": np.arange(n, dtype=float)}) is None
    shifted = piplus._photon_cells({"energy": np.ones(n), "x0": np.full(n, 20.0)})
    assert shifted is not None and not np.array_equal(shifted.probability, piplus._photon_cells(
        {"energy": np.ones(n)}).probability)


def test_pion_showers_are_deterministic_per_seed(piplus):
    """The cell draw is part of the seed: same seed, same cells; a fresh simulator (its table made anew) too."""
    energy = {"energy": np.array([5.0, 40.0, 90.0])}
    a, b = (piplus.showers(np.random.default_rng(7), energy)[0] for _ in range(2))
    fresh = build_simulator(resolve_dataset("specs/datasets/calogan_piplus.yaml")).showers(np.random.default_rng(7),
                                                                                          energy)[0]
    assert np.array_equal(a, b) and np.array_equal(a, fresh)
