"""Invariants of observables and metrics, checked with hypothesis."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from physgen.metrics import emd_2d, ks_statistic, separation_power, wasserstein_1d
from physgen.observables import compute, observable_names
from physgen.testing._observable_strategies import as_dataset, image_dataset, images, layer_cells, samples, weights_for

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PAD = 3
MASS_ROUNDING = 1e-3
"""GeV: √(E² − p²) of a (nearly) massless jet of ≤ 3 TeV loses ~√ε·E to rounding."""


def _observe(image: np.ndarray, names=("jet_mass", "jet_pt")) -> xr.Dataset:
    return compute(image_dataset(image), list(names)).compute()


def _close(a: xr.Dataset, b: xr.Dataset, rtol=1e-6, atol=1e-6):
    for name in a.data_vars:
        np.testing.assert_allclose(a[name].values, b[name].values, rtol=rtol, atol=atol, err_msg=name)


# ------------------------------------------------------------------ jet images
@FAST
@given(images(), st.integers(-PAD, PAD), st.integers(-PAD, PAD))
def test_mass_and_pt_invariant_under_translations(image, d_eta, d_phi):
    padded = np.pad(image, ((0, 0), (PAD, PAD), (PAD, PAD)))  # room to move without leaving the grid
    moved = np.roll(padded, (d_eta, d_phi), axis=(1, 2))
    _close(_observe(padded), _observe(moved), atol=MASS_ROUNDING)


@FAST
@given(images())
def test_mass_and_pt_invariant_under_flips_of_a_centred_image(image):
    for axis in (1, 2):
        _close(_observe(image), _observe(np.flip(image, axis=axis).copy()), atol=MASS_ROUNDING)


@FAST
@given(images(max_active=1))
def test_single_pixel_has_zero_mass(image):
    np.testing.assert_allclose(_observe(image).jet_mass, 0.0, atol=1e-5 * image.max())


@FAST
@given(st.integers(0, 8), st.integers(0, 8), st.integers(0, 8), st.integers(0, 8), st.floats(1, 500), st.floats(1, 500))
def test_two_pixel_mass_formula(i1, j1, i2, j2, pt1, pt2):
    image = np.zeros((1, 9, 9))
    image[0, i1, j1] += pt1
    image[0, i2, j2] += pt2
    ds = image_dataset(image)
    d_eta, d_phi = ds.eta.values[i1] - ds.eta.values[i2], ds.phi.values[j1] - ds.phi.values[j2]
    expected = np.sqrt(max(2 * pt1 * pt2 * (np.cosh(d_eta) - np.cos(d_phi)), 0.0)) if (i1, j1) != (i2, j2) else 0.0
    assert _observe(image, ["jet_mass"]).jet_mass.item() == pytest.approx(expected, rel=1e-6, abs=1e-4)


@settings(max_examples=15, deadline=None)
@given(images(max_active=8))
def test_tau21_between_zero_and_one(image):
    tau = _observe(image, ["tau_21", "tau_1", "tau_2"])
    assert np.all((tau.tau_21 >= 0) & (tau.tau_21 <= 1 + 1e-12))
    assert np.all(tau.tau_2 <= tau.tau_1 + 1e-12)


# ------------------------------------------------------------------ calorimeters
CALO_SHAPES = {"layer_0": (3, 96), "layer_1": (12, 12), "layer_2": (12, 6)}


@st.composite
def calo_events(draw, n: int = 2) -> dict[str, np.ndarray]:
    out = {name: draw(layer_cells((n, *shape))) for name, shape in CALO_SHAPES.items()}
    out["overflow"] = np.zeros((n, 3), np.float32)
    return out


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(calo_events(), st.randoms(use_true_random=False))
def test_total_is_sum_of_layers_and_layer_energy_ignores_cell_order(arrays, random):
    ds = as_dataset("calogan_lar3", arrays)
    obs = compute(ds, ["layer_energy", "total_energy", "sparsity_calogan"]).compute()
    np.testing.assert_allclose(obs.total_energy, obs.layer_energy.sum("layer"), rtol=1e-12)
    shuffled = {}
    for name, cells in arrays.items():
        flat = cells.reshape(len(cells), -1).copy()
        for row in flat:
            random.shuffle(row)
        shuffled[name] = flat.reshape(cells.shape)
    permuted = compute(as_dataset("calogan_lar3", shuffled), ["layer_energy", "sparsity_calogan"]).compute()
    np.testing.assert_allclose(permuted.layer_energy, obs.layer_energy, rtol=1e-12)
    np.testing.assert_allclose(permuted.sparsity_calogan, obs.sparsity_calogan)


CALO_NAMES = [n for n in observable_names(as_dataset("calogan_lar3", {k: np.zeros((1, *s), np.float32)
                                                                       for k, s in CALO_SHAPES.items()}))]


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(calo_events(n=5), st.integers(1, 5), st.booleans())
def test_numpy_and_dask_of_any_chunking_agree(arrays, event_chunk, chunk_cells):
    ds = as_dataset("calogan_lar3", arrays)
    chunks = {"event": event_chunk} | ({"layer_0_x": 7, "layer_1_y": 5} if chunk_cells else {})
    eager = compute(ds, CALO_NAMES).compute()
    lazy = compute(ds.chunk(chunks), CALO_NAMES)
    assert all(v.chunks is not None for v in lazy.data_vars.values())
    _close(eager, lazy.compute(), rtol=1e-12, atol=1e-9)


@settings(max_examples=8, deadline=None)
@given(images(max_events=5), st.integers(1, 5))
def test_jet_observables_numpy_equals_dask(image, event_chunk):
    names = ["jet_pt", "jet_mass", "tau_1", "tau_2", "tau_21", "n_active_pixels", "average_image"]
    ds = image_dataset(image)
    _close(compute(ds, names).compute(), compute(ds.chunk({"event": event_chunk, "eta": 4}), names).compute(),
           rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ metrics
@FAST
@given(samples(), samples())
def test_separation_power_bounds_symmetry_identity(a, b):
    s = separation_power(a, b)
    assert 0.0 <= s <= 1.0 + 1e-12
    assert separation_power(a, a) == pytest.approx(0.0, abs=1e-12)
    # the binning is the reference's; on one fixed binning the measure is symmetric
    edges = np.linspace(min(a.min(), b.min()) - 1, max(a.max(), b.max()) + 1, 21)
    assert separation_power(a, b, bins=edges) == pytest.approx(separation_power(b, a, bins=edges))
    span = a.max() - a.min()
    far = a + 2 * span + 1
    assert separation_power(a, far, bins=np.linspace(a.min(), far.max(), 51)) == pytest.approx(1.0)


@FAST
@given(samples(), samples(), samples(), st.floats(-50, 50))
def test_wasserstein_is_a_metric_and_shift_gives_c(a, b, c, shift):
    assert wasserstein_1d(a, a) == pytest.approx(0.0, abs=1e-9)
    assert wasserstein_1d(a, b) == pytest.approx(wasserstein_1d(b, a))
    assert wasserstein_1d(a, c) <= wasserstein_1d(a, b) + wasserstein_1d(b, c) + 1e-9
    assert wasserstein_1d(a, a + shift) == pytest.approx(abs(shift), abs=1e-7)


positive_hist = st.lists(st.floats(0.0, 10.0), min_size=16, max_size=16).filter(lambda v: sum(v) > 0.1).map(
    lambda v: np.asarray(v).reshape(4, 4))


@FAST
@given(positive_hist, positive_hist, positive_hist)
def test_emd_2d_is_a_metric(h1, h2, h3):
    assert emd_2d(h1, h1) == pytest.approx(0.0, abs=1e-9)
    assert emd_2d(h1, h2) == pytest.approx(emd_2d(h2, h1), abs=1e-9)
    assert emd_2d(h1, h3) <= emd_2d(h1, h2) + emd_2d(h2, h3) + 1e-7


@FAST
@given(samples(min_size=5, max_size=40).flatmap(lambda a: st.tuples(st.just(a), weights_for(a))), samples())
def test_unit_weights_equal_unweighted(a_and_w, b):
    a, _ = a_and_w
    ones_a, ones_b = np.ones_like(a), np.ones_like(b)
    assert separation_power(a, b, weights_a=ones_a, weights_b=ones_b) == pytest.approx(separation_power(a, b))
    assert wasserstein_1d(a, b, weights_a=ones_a, weights_b=ones_b) == pytest.approx(wasserstein_1d(a, b))
    assert ks_statistic(a, b, weights_a=ones_a, weights_b=ones_b) == pytest.approx(ks_statistic(a, b))


@FAST
@given(samples(min_size=5, max_size=40).flatmap(lambda a: st.tuples(st.just(a), weights_for(a))))
def test_weights_scale_free(a_and_w):
    """Weighted metrics depend only on relative weights."""
    a, w = a_and_w
    b = a[::-1] + 1.0
    assert ks_statistic(a, b, weights_a=w) == pytest.approx(ks_statistic(a, b, weights_a=7.5 * w))
    assert separation_power(a, b, weights_a=w) == pytest.approx(separation_power(a, b, weights_a=7.5 * w))
