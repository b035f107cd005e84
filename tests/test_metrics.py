"""Metrics on cases with known answers, and the named dataset metrics on synthetic stores."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from physgen.errors import PhysgenError
from physgen.metrics import (
    classifier_test, dilution, effective_sample_size, emd_2d, emd_minimax_score, fpd, get_metric, kpd, ks_statistic,
    metric_names, separation_power, separation_power_hist, wasserstein_1d, weighted_mean_error,
)
from physgen.store import open_store
from physgen.testing._observable_strategies import make_store


@pytest.fixture(scope="module")
def zstores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zm")
    make = lambda name, seed, d: open_store(make_store(folder / name, features="zmumu17", n_events=1500,  # noqa: E731
                                                       seed=seed, chunk_events=1500, distortion=d))
    return make("a.zarr", 1, 0.0), make("b.zarr", 2, 0.0), make("c.zarr", 3, 1.0)


def test_separation_power_known_values():
    assert separation_power_hist([1, 0], [0, 1]) == pytest.approx(1.0)
    assert separation_power_hist([1, 1], [1, 1]) == pytest.approx(0.0)
    # p = (0.5, 0.5), q = (1, 0): ½ [(0.5)²/1.5 + 0.5²/0.5] = 1/3
    assert separation_power_hist([1, 1], [2, 0]) == pytest.approx(1 / 3)
    rng = np.random.default_rng(1)
    a = rng.normal(size=1000)
    assert separation_power(a, a + 100) == pytest.approx(1.0)
    weighted = separation_power([0.0, 1.0], [0.0, 1.0], bins=np.array([-0.5, 0.5, 1.5]), weights_b=[3.0, 1.0])
    assert weighted == pytest.approx(separation_power_hist([1, 1], [3, 1]))


def test_wasserstein_and_ks_match_scipy_and_shifts():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=500), rng.normal(0.3, 1.2, size=400)
    assert wasserstein_1d(a, a + 2.5) == pytest.approx(2.5)
    assert ks_statistic(a, b) == pytest.approx(scipy.stats.ks_2samp(a, b).statistic)
    w = rng.uniform(0.5, 2, 400)
    assert wasserstein_1d(a, b, weights_b=w) == pytest.approx(scipy.stats.wasserstein_distance(a, b, None, w))
    # weighting a sample by an integer duplicates its events
    assert ks_statistic(a, [0.0, 1.0], weights_b=[2.0, 1.0]) == pytest.approx(ks_statistic(a, [0.0, 0.0, 1.0]))


def test_emd_2d_moves_a_delta_by_the_bin_index_distance():
    h_a, h_b = np.zeros((6, 6)), np.zeros((6, 6))
    h_a[0, 0], h_b[3, 4] = 1.0, 1.0
    assert emd_2d(h_a, h_b) == pytest.approx(5.0)
    h_c = np.zeros((6, 6))
    h_c[0, 0] = h_c[0, 2] = 0.5
    assert emd_2d(h_a, h_c) == pytest.approx(1.0)  # half the mass moves two bins


def test_emd_minimax_is_the_worse_class():
    rng = np.random.default_rng(3)
    same = (rng.normal(80, 5, 2000), rng.uniform(0, 1, 2000))
    shifted = (same[0] + 10, same[1])
    ref = {0: same, 1: same}
    assert emd_minimax_score(ref, {0: same, 1: same}) == pytest.approx(0.0)
    assert emd_minimax_score(ref, {0: same, 1: shifted}) > 2.0


def test_classifier_test_known_cases():
    rng = np.random.default_rng(4)
    same = classifier_test(rng.normal(size=(600, 3)), rng.normal(size=(600, 3)), epochs=8, seed=1)
    apart = classifier_test(rng.normal(size=(600, 3)), rng.normal(6, 1, size=(600, 3)), epochs=8, seed=1)
    assert abs(same.auc - 0.5) < 0.08 and same.jsd < 0.05
    assert apart.auc > 0.99 and apart.jsd > 0.9
    with pytest.raises(PhysgenError, match="differ in length"):
        classifier_test(np.zeros((50, 2)), np.zeros((50, 3)))


def test_fpd_extrapolates_to_the_gaussian_value():
    rng = np.random.default_rng(5)
    real, gen = rng.normal(size=(4000, 2)), rng.normal(size=(4000, 2)) + np.array([1.0, 0.0])
    estimate = fpd(real, gen, min_samples=1000, max_samples=4000, num_batches=4, num_points=5)
    assert estimate.value == pytest.approx(1.0, abs=0.1)  # |Δμ|² = 1 for unit covariances
    null = fpd(real, rng.normal(size=(4000, 2)), min_samples=1000, max_samples=4000, num_batches=4, num_points=5)
    assert abs(null.value) < 0.02


def test_kpd_zero_for_same_distribution_positive_otherwise():
    rng = np.random.default_rng(6)
    real = rng.normal(size=(3000, 3))
    same = kpd(real, rng.normal(size=(3000, 3)), num_batches=5, batch_size=1000)
    different = kpd(real, rng.normal(0.5, 1, size=(3000, 3)), num_batches=5, batch_size=1000)
    assert abs(same.value) < 0.1
    assert different.value > 10 * abs(same.value)


def test_effective_sample_size_and_dilution():
    assert effective_sample_size(np.ones(100)) == pytest.approx(100)
    assert effective_sample_size([1.0, 0.0, 0.0, 1.0]) == pytest.approx(2)
    rng = np.random.default_rng(7)
    x = rng.normal(size=20000)
    assert dilution(x, x) == pytest.approx(1.0)
    # a quarter of the events carry all the weight: N_eff = N/4, so r ≈ 2
    w = (rng.uniform(size=x.size) < 0.25).astype(float)
    assert dilution(x, x, w) == pytest.approx(2.0, rel=0.05)
    assert weighted_mean_error(x) == pytest.approx(x.std() / np.sqrt(x.size), rel=1e-3)
    assert np.isnan(dilution(np.ones(10), x[:10]))  # a constant reference has no uncertainty to compare with


def test_metrics_reject_bad_samples():
    with pytest.raises(PhysgenError, match="NaN"):
        separation_power([0.0, np.nan], [1.0])
    with pytest.raises(PhysgenError, match="expected 2 weights"):
        ks_statistic([0.0, 1.0], [0.0, 1.0], weights_b=[1.0])
    with pytest.raises(PhysgenError, match="did you mean 'ks_sum'"):
        get_metric("ks_summ")


def test_named_metrics_small_for_two_seeds_large_for_a_distortion(zstores):
    a, b, c = zstores
    assert {"ks_sum", "emd_minimax", "s2_mean", "w1_mean", "fpd", "kpd", "c2st_auc", "c2st_jsd"} <= set(metric_names())
    for name in ("ks_sum", "s2_mean", "w1_mean"):
        same, distorted = get_metric(name)(a, b), get_metric(name)(a, c)
        assert distorted > 2 * same, name
    assert get_metric("ks_sum")(a, a) == 0.0
    # paper 002's score: M_ll, φ_miss, Iso1 only
    names = ["m_ll", "phi_miss", "mu1_iso"]
    assert get_metric("ks_sum")(a, c) == pytest.approx(get_metric("ks_sum")(a, c, names=names))
    assert get_metric("c2st_auc")(a, c, names=["m_ll"], epochs=5) > get_metric("c2st_auc")(a, b, names=["m_ll"], epochs=5)


def test_emd_minimax_on_jet_stores(tmp_path):
    make = lambda name, seed, d: open_store(make_store(tmp_path / name, detector="jet_image_25x25",  # noqa: E731
                                                       features="jet_image_features", n_events=1000, seed=seed,
                                                       chunk_events=1000, distortion=d))
    a, b, c = make("a.zarr", 1, 0.0), make("b.zarr", 2, 0.0), make("c.zarr", 3, 1.5)
    same, distorted = get_metric("emd_minimax")(a, b, bins=10), get_metric("emd_minimax")(a, c, bins=10)
    assert distorted > 1.5 * same


def test_kpd_and_fpd_do_not_depend_on_feature_offsets_or_fixed_columns():
    """Energies in MeV (large means) and a fixed condition column must not dominate or break KPD/FPD."""
    from physgen.metrics import fpd, kpd

    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(4000, 2)), rng.normal(0.3, 1.0, size=(4000, 2))
    shifted = [np.column_stack([x * 1e3 + 5e4, np.zeros(len(x))]) for x in (a, b)]
    assert kpd(*shifted, seed=1).value == pytest.approx(kpd(a, b, seed=1).value, rel=1e-6)
    assert fpd(*shifted, seed=1).value == pytest.approx(fpd(a, b, seed=1).value, rel=1e-6)
