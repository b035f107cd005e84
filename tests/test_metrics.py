"""Metrics on cases with known answers (worked by hand or from the defining papers, in the comments),
the robustness of the reference binning to outliers, and the registry on synthetic stores."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from physgen.errors import PhysgenError
from physgen.metrics import (
    Comparison, chi2_test, classifier_test, column_values, coverage_mmd, default_metric_names, dilution,
    effective_sample_size, emd_2d, emd_minimax_score, event_emd, fpd, get_metric, kpd, ks_statistic, metric_names,
    precision_recall_density_coverage, quantile_edges, reference_edges, separation_power, separation_power_hist, wasserstein_1d,
    wasserstein_1d_batches, weighted_mean_error,
)
from physgen.store import open_store
from physgen.testing._observable_strategies import make_store


@pytest.fixture(scope="module")
def zstores(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zm")
    make = lambda name, seed, d: open_store(make_store(folder / name, features="zmumu17", n_events=1500,  # noqa: E731
                                                       seed=seed, chunk_events=1500, distortion=d))
    return make("a.zarr", 1, 0.0), make("b.zarr", 2, 0.0), make("c.zarr", 3, 1.0)


# ---------------------------------------------------------------- ⟨S²⟩ and χ² on the reference's binning
def test_separation_power_known_values():
    assert separation_power_hist([1, 0], [0, 1]) == pytest.approx(1.0)
    assert separation_power_hist([1, 1], [1, 1]) == pytest.approx(0.0)
    # p = (0.5, 0.5), q = (1, 0): ½ [(0.5)²/1.5 + 0.5²/0.5] = 1/3
    assert separation_power_hist([1, 1], [2, 0]) == pytest.approx(1 / 3)
    rng = np.random.default_rng(1)
    a = rng.normal(size=1000)
    # every generated value lands in the reference's last bin, which holds a fraction f of the reference:
    # ½ [(1 − f) + (1 − f)² / (1 + f)]; f = 1/50 on equal-population bins (1000 distinct values, 20 per bin)
    s2_disjoint = lambda f: 0.5 * ((1 - f) + (1 - f) ** 2 / (1 + f))  # noqa: E731
    assert separation_power(a, a + 100) == pytest.approx(s2_disjoint(1 / 50))
    f = np.histogram(a, bins=50)[0][-1] / a.size
    assert separation_power(a, a + 100, binning="reference_width") == pytest.approx(s2_disjoint(f))
    assert separation_power(a, a + 100, binning="calochallenge") != separation_power(a, a + 100)
    weighted = separation_power([0.0, 1.0], [0.0, 1.0], bins=np.array([-0.5, 0.5, 1.5]), weights_b=[3.0, 1.0])
    assert weighted == pytest.approx(separation_power_hist([1, 1], [3, 1]))


def test_separation_power_binning_conventions_by_hand():
    """Edges (−0.5, 1.5, 3.5) from the reference {0, 1, 2, 3}: p = (½, ½). A generated 100 falls in the
    last bin with reference binning, q = (2/5, 3/5): ½ [0.1²/0.9 + 0.1²/1.1] = 0.0101…; the challenge
    drops it, q = (½, ½), S² = 0."""
    ref, gen, edges = [0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 2.0, 3.0, 100.0], np.array([-0.5, 1.5, 3.5])
    assert separation_power(ref, gen, bins=edges) == pytest.approx(0.5 * (0.01 / 0.9 + 0.01 / 1.1))
    assert separation_power(ref, gen, bins=edges, binning="calochallenge") == pytest.approx(0.0, abs=1e-15)
    # the reference's maximum is inside its last bin (numpy's closed last bin), not in the overflow
    assert reference_edges([0.0, 4.0], 2).tolist() == [0.0, 2.0, 4.0]
    assert separation_power([0.0, 4.0], [4.0, 0.0], bins=2, binning="calochallenge") == 0.0
    with pytest.raises(PhysgenError, match="unknown binning 'root'"):
        separation_power(ref, gen, binning="root")


def test_equal_population_edges():
    """The default binning's edges are the reference's quantiles: 1…8 in four bins of two values each;
    a sample with at most ``bins`` distinct values gets one bin per value (n_jets = 0, 1, 2 stays three
    bins, not merged by repeated quantiles); a constant sample one unit-wide bin."""
    assert quantile_edges(np.arange(1.0, 9.0), 4).tolist() == [1.0, 2.75, 4.5, 6.25, 8.0]
    assert np.histogram(np.arange(1.0, 9.0), quantile_edges(np.arange(1.0, 9.0), 4))[0].tolist() == [2, 2, 2, 2]
    n_jets = np.array([0] * 60 + [1] * 30 + [2] * 10, dtype=float)
    assert quantile_edges(n_jets, 50).tolist() == [0.0, 0.5, 1.5, 2.0]
    assert quantile_edges([3.0, 3.0], 10).tolist() == [2.5, 3.5]
    # point mass at 0 (empty layer) beside a continuum: the zeros fill the first bin, the rest equal shares
    rng = np.random.default_rng(0)
    mixed = np.concatenate([np.zeros(300), rng.exponential(size=700)])
    counts = np.histogram(mixed, quantile_edges(mixed, 10))[0]
    assert counts[0] >= 300 and np.all(np.abs(counts[1:] - 100) <= 1)
    # a weighted reference (biased generation) gets equal shares of the weighted distribution per bin
    x = rng.exponential(size=20_000)
    w = np.exp(x / 2)
    shares = np.histogram(x, quantile_edges(x, 10, w), weights=w)[0] / w.sum()
    assert np.allclose(shares, 0.1, atol=0.01)
    assert quantile_edges(x, 10, np.ones_like(x)).tolist() == quantile_edges(x, 10).tolist()
    # χ² of equal-population bins keeps large expected counts: two samples of one distribution give χ²/ndf ≈ 1
    values = [chi2_test(rng.exponential(size=2000), rng.exponential(size=2000)).chi2_per_ndf for _ in range(20)]
    assert 0.8 < np.mean(values) < 1.2


def _challenge_separation_power(reference, generated, bins):
    """The Fast Calorimeter Simulation Challenge 2022's number, as its code/evaluate_plotting_helper.py
    computes it: plt.hist(..., density=True) (np.histogram, the bins from the reference's hist), then
    ``_separation_power``: h·Δbin, ½ Σ (h1 − h2)² / (h1 + h2 + 1e-16)."""
    counts_ref, edges = np.histogram(reference, bins=bins, density=True)
    counts_gen, _ = np.histogram(generated, bins=edges, density=True)
    h1, h2 = counts_ref * np.diff(edges), counts_gen * np.diff(edges)
    return 0.5 * np.sum((h1 - h2) ** 2 / (h1 + h2 + 1e-16))


@pytest.mark.parametrize("bins", [40, np.linspace(0.5, 1.5, 101), np.linspace(0.0, 1.0, 21)])
def test_calochallenge_binning_reproduces_the_challenge_numbers(bins):
    rng = np.random.default_rng(11)
    reference = rng.gamma(30, 1 / 30, 5000)  # E_tot/E_inc-like around 1, with tails beyond fixed ranges
    generated = np.concatenate([rng.gamma(25, 1 / 25, 4000), [-3.0, 40.0]])
    expected = _challenge_separation_power(reference, generated, bins)
    got = separation_power(reference, generated, bins=bins, binning="calochallenge")
    assert got == pytest.approx(expected, rel=1e-12)
    assert expected > 1e-3  # a real difference, not two zeros


def test_one_outlier_moves_s2_by_one_events_weight_not_the_binning():
    """Issue 15: with a binning spanning both samples, one generated event at 20× the maximum in 2000
    cut ⟨S²⟩ by ≈ 95 %. On the reference's edges it moves one event's worth of probability: |ΔS²| ≤ 1/N
    (the bound for moving one of N events between two bins), the size of S²'s own sampling noise; on
    equal-population edges that bin is as full as any other, and ⟨S²⟩ moves < 1 % (the issue's target)."""
    n, changes = 2000, []
    for seed in range(10):
        rng = np.random.default_rng(seed)
        reference, generated = rng.gamma(4, 100, n), rng.gamma(4, 100, n)
        outlier = generated.copy()
        outlier[0] = 20 * reference.max()
        before, after = separation_power(reference, generated), separation_power(reference, outlier)
        assert abs(after - before) <= 1 / n
        changes.append(abs(after - before) / before)
        union = np.linspace(min(reference.min(), outlier.min()), max(reference.max(), outlier.max()), 51)
        assert separation_power(reference, outlier, bins=union) < 0.2 * before  # the old, union binning
    assert np.mean(changes) < 0.01


def test_emd_minimax_grid_is_the_references():
    """One generated jet at 20× the heaviest reference mass changes EMD-minimax by < 0.5 % on average
    (it moves 1/1000 of one class's mass to the last mass bin) instead of squeezing the grid."""
    changes = []
    for seed in range(5):
        rng = np.random.default_rng(seed)
        ref = {c: (rng.normal(80, 8, 1000), rng.beta(4, 6, 1000)) for c in (0, 1)}
        gen = {c: (rng.normal(80, 8, 1000), rng.beta(4, 6, 1000)) for c in (0, 1)}
        before = emd_minimax_score(ref, gen)
        gen[1][0][0] = 20 * ref[1][0].max()
        changes.append(abs(emd_minimax_score(ref, gen) - before) / before)
    assert np.mean(changes) < 0.005


def test_chi2_test_known_values():
    """Counts (10, 20) vs (20, 10): Σ (N₁n₂ − N₂n₁)² / (N₁²n₂ + N₂²n₁) = 2 × 300²/27000 = 20/3, ndf = 1
    (Gagunashvili, arXiv:physics/0605123); a common factor on the weights changes nothing."""
    ref = np.repeat([0.0, 1.0], [10, 20])
    gen = np.repeat([0.0, 1.0], [20, 10])
    edges = np.array([-0.5, 0.5, 1.5])
    test = chi2_test(ref, gen, bins=edges)
    assert test.chi2 == pytest.approx(20 / 3) and test.ndf == 1
    assert test.p_value == pytest.approx(scipy.stats.chi2.sf(20 / 3, 1))
    assert chi2_test(ref, gen, bins=edges, weights_b=np.full(30, 2.5)).chi2 == pytest.approx(20 / 3)
    rng = np.random.default_rng(0)
    same = [chi2_test(rng.normal(size=4000), rng.normal(size=4000), bins=20).chi2_per_ndf for _ in range(20)]
    assert np.mean(same) == pytest.approx(1.0, abs=0.15)  # E[χ²/ndf] = 1 under the null hypothesis


# ---------------------------------------------------------------- transport distances, KS
def test_wasserstein_and_ks_match_scipy_and_shifts():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=500), rng.normal(0.3, 1.2, size=400)
    assert wasserstein_1d(a, a + 2.5) == pytest.approx(2.5)
    assert ks_statistic(a, b) == pytest.approx(scipy.stats.ks_2samp(a, b).statistic)
    w = rng.uniform(0.5, 2, 400)
    assert wasserstein_1d(a, b, weights_b=w) == pytest.approx(scipy.stats.wasserstein_distance(a, b, None, w))
    # weighting a sample by an integer duplicates its events
    assert ks_statistic(a, [0.0, 1.0], weights_b=[2.0, 1.0]) == pytest.approx(ks_statistic(a, [0.0, 0.0, 1.0]))


def test_wasserstein_batches_value_and_spread():
    """{0, 1} (½ each) against {0}: W1 of a batch is its fraction of ones, mean ½ and standard deviation
    √(¼/n) over batches of n (binomial)."""
    a, b = np.repeat([0.0, 1.0], 500), np.zeros(100)
    estimate = wasserstein_1d_batches(a, b, num_eval_samples=2500, num_batches=200, seed=1)
    assert estimate.value == pytest.approx(0.5, abs=0.003)
    assert estimate.error == pytest.approx(np.sqrt(0.25 / 2500), rel=0.15)
    shifted = wasserstein_1d_batches(np.zeros(10), np.full(10, 2.5), num_eval_samples=50, num_batches=3)
    assert (shifted.value, shifted.error) == (2.5, 0.0)


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


def test_event_emd_known_values():
    """Komiske et al. (arXiv:1902.02346): Σ f θ/R + |ΔΣpT|. Pixels at η = 0, 0.3, 0.9 (φ = 0)."""
    eta, phi = np.array([0.0, 0.3, 0.9]), np.array([0.0])
    one = np.array([[1.0], [0.0], [0.0]])
    assert event_emd(one, np.array([[0.0], [1.0], [0.0]]), eta, phi) == pytest.approx(0.3)
    assert event_emd(one, np.array([[0.0], [1.0], [0.0]]), eta, phi, R=0.4) == pytest.approx(0.75)
    assert event_emd(one, 2 * one, eta, phi) == pytest.approx(1.0)  # pT created: |1 − 2|
    # 1 unit moves 0.3 to the middle pixel; the extra 0.5 at η = 0.9 is created: 0.3 + 0.5
    assert event_emd(one, np.array([[0.0], [1.0], [0.5]]), eta, phi) == pytest.approx(0.8)


def test_coverage_mmd_of_identical_and_shifted_jets():
    """Two kinds of one-pixel jets, 0.3 apart. Identical samples: MMD 0; generated all of one kind:
    half the reference jets are 0.3 away (MMD ≈ 0.15) and only that kind is ever closest."""
    eta, phi = np.array([0.0, 0.3]), np.array([0.0])
    kinds = np.array([[[1.0], [0.0]], [[0.0], [1.0]]])
    reference = kinds[np.arange(200) % 2]
    same = coverage_mmd(reference, reference, eta, phi, num_eval_samples=40, num_batches=3)
    assert same.mmd == 0.0
    one_kind = coverage_mmd(reference, kinds[np.zeros(200, dtype=int)], eta, phi, num_eval_samples=40,
                            num_batches=5)
    assert one_kind.mmd == pytest.approx(0.15, abs=0.05)
    assert one_kind.coverage == pytest.approx(1 / 40)  # every generated jet picks the same reference jet


# ---------------------------------------------------------------- FPD, KPD, PRDC, classifier
def test_fpd_extrapolates_to_the_gaussian_value():
    rng = np.random.default_rng(5)
    real, gen = rng.normal(size=(4000, 2)), rng.normal(size=(4000, 2)) + np.array([1.0, 0.0])
    options = {"min_samples": 1000, "max_samples": 4000, "num_batches": 4, "num_points": 5, "normalise": False}
    assert fpd(real, gen, **options).value == pytest.approx(1.0, abs=0.1)  # |Δμ|² = 1 for unit covariances
    null = fpd(real, rng.normal(size=(4000, 2)), **options)
    assert 0 <= null.value < 0.02
    assert fpd(real, real, **options).value >= 0  # JetNet's bounded fit: never negative, even for one sample


def test_kpd_known_value_of_two_gaussians():
    """MMD² with k(x, y) = (xy + 1)⁴ between N(0, 1) and N(½, 1), from the Gaussian moments:
    E k(x, x') = 16, E k(y, y') = 42.7539…, E k(x, y) = 22.1875 → 14.3789…"""
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(20000, 1)), rng.normal(0.5, 1, size=(20000, 1))
    estimate = kpd(x, y, normalise=False, num_batches=8, batch_size=1500)
    assert abs(estimate.value - 14.37890625) < 3 * estimate.error
    same = kpd(x, rng.normal(size=(20000, 1)), normalise=False, num_batches=8, batch_size=1500)
    assert abs(same.value) < 3 * same.error + 0.05


def test_standardised_conventions_ignore_offsets_and_fixed_columns():
    """Energies in MeV (large means) and a fixed condition column must not dominate or break KPD/FPD."""
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(1000, 2)), rng.normal(0.3, 1.0, size=(1000, 2))
    shifted = [np.column_stack([x * 1e3 + 5e4, np.zeros(len(x))]) for x in (a, b)]
    options = {kpd: {"num_batches": 4}, fpd: {"num_batches": 4, "num_points": 4}}
    for metric in (kpd, fpd):
        assert metric(*shifted, seed=1, convention="standardised", **options[metric]).value == pytest.approx(
            metric(a, b, seed=1, convention="standardised", **options[metric]).value, rel=1e-6)
    with pytest.raises(PhysgenError, match="unknown FPD/KPD convention"):
        kpd(a, b, convention="jetnett")


def test_precision_recall_density_coverage_by_hand():
    """k = 1. Reference {0, 1, 2, 10}: ball radii 1, 1, 1, 8. Generated {0.5, 20}: radii 19.5 each.
    0.5 lies in the balls of 0 and 1, 20 in none: precision ½, density 2/2 = 1; the balls of 0 and 1
    hold a generated point: coverage ½; every reference point is within 19.5 of a generated one:
    recall 1 (Naeem et al. 2020, eqs. 3–6)."""
    result = precision_recall_density_coverage(np.array([[0.0], [1.0], [2.0], [10.0]]), np.array([[0.5], [20.0]]),
                                               k=1, chunk=3)
    assert (result.precision, result.recall, result.density, result.coverage) == (0.5, 1.0, 1.0, 0.5)
    rng = np.random.default_rng(0)
    same = precision_recall_density_coverage(rng.normal(size=(2000, 3)), rng.normal(size=(2000, 3)))
    assert same.precision > 0.9 and same.recall > 0.9 and same.coverage > 0.9
    assert same.density == pytest.approx(1.0, abs=0.1)
    far = precision_recall_density_coverage(rng.normal(size=(500, 3)), rng.normal(5, 1, size=(500, 3)))
    assert far.precision < 0.05 and far.coverage < 0.05


def test_classifier_test_known_cases():
    rng = np.random.default_rng(4)
    same = classifier_test(rng.normal(size=(600, 3)), rng.normal(size=(600, 3)), epochs=8, seed=1)
    apart = classifier_test(rng.normal(size=(600, 3)), rng.normal(6, 1, size=(600, 3)), epochs=8, seed=1)
    assert abs(same.auc - 0.5) < 0.08 and same.jsd < 0.05
    assert apart.auc > 0.99 and apart.jsd > 0.9
    with pytest.raises(PhysgenError, match="differ in length"):
        classifier_test(np.zeros((50, 2)), np.zeros((50, 3)))


def test_weighted_classifier_test_compares_the_physical_distributions():
    """A reference drawn from N(0, 1) and weighted by exp(μx − μ²/2) stands for N(μ, 1) (the likelihood ratio
    of two unit Gaussians): against a sample of N(μ, 1) the weighted test finds nothing to separate, the
    same reference read unweighted is separable (AUC Φ(μ/√2) = 0.64 for μ = 0.5)."""
    rng = np.random.default_rng(11)
    mu = 0.5
    reference, generated = rng.normal(size=(4000, 1)), rng.normal(mu, 1, size=(4000, 1))
    weights = np.exp(mu * reference[:, 0] - mu**2 / 2)
    weighted = classifier_test(reference, generated, reference_weights=weights, epochs=6, seed=2)
    unweighted = classifier_test(reference, generated, epochs=6, seed=2)
    assert abs(weighted.auc - 0.5) < 0.04 and weighted.jsd < 0.03
    assert unweighted.auc > 0.6
    with pytest.raises(PhysgenError, match="reference event weights must be finite"):
        classifier_test(reference, generated, reference_weights=-weights)


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
    with pytest.raises(PhysgenError, match="increasing"):
        separation_power([0.0], [1.0], bins=np.array([1.0, 0.0]))


# ---------------------------------------------------------------- the registry on stores
def test_every_metric_cites_its_source_and_ideal():
    for name in metric_names():
        metric = get_metric(name)
        assert metric.source and metric.description, name
    assert get_metric("c2st_auc").ideal == 0.5 and get_metric("coverage").ideal == 1.0
    assert get_metric("ks_sum").options == [] and "names" in get_metric("ks_sum_columns").options


def test_named_metrics_small_for_two_seeds_large_for_a_distortion(zstores):
    a, b, c = zstores
    assert {"ks_sum", "ks_sum_columns", "emd_minimax", "s2_mean", "chi2_ndf_mean", "w1_mean", "fpd", "kpd",
            "precision", "recall", "density", "coverage", "emd_mmd", "emd_coverage", "c2st_auc",
            "c2st_jsd"} <= set(metric_names())
    same_pair, distorted_pair = Comparison(a, b), Comparison(a, c)
    for name in ("ks_sum", "ks_sum_columns", "s2_mean", "chi2_ndf_mean"):
        metric = get_metric(name)
        assert metric.distance(metric.evaluate(distorted_pair)) > 2 * metric.distance(metric.evaluate(same_pair)), name
    assert get_metric("ks_sum")(a, a).value == 0.0
    # paper 002's score is M_ll, φ_miss, Iso1 only; ks_sum_columns covers every default column
    ks = column_values(distorted_pair, "ks", ["m_ll", "phi_miss", "mu1_iso"])
    assert get_metric("ks_sum").evaluate(distorted_pair).value == pytest.approx(sum(v.value for v in ks.values()))
    assert get_metric("ks_sum_columns").evaluate(distorted_pair).value > get_metric("ks_sum").evaluate(distorted_pair).value
    w1 = get_metric("w1_mean")(a, c, names=["m_ll"], num_eval_samples=2000)
    assert w1.value > 0 and 0 < w1.error < w1.value
    auc = get_metric("c2st_auc")
    assert auc.distance(auc(a, c, names=["m_ll"], epochs=5)) > auc.distance(auc(a, b, names=["m_ll"], epochs=5))


def test_default_columns_leave_out_labels_weights_and_constants(tmp_path):
    store = open_store(make_store(tmp_path / "j.zarr", detector="jet_image_25x25", features="jet_image_features",
                                  n_events=200, seed=1, chunk_events=200))
    names = default_metric_names(store)
    assert "signal" not in names and "weight" not in names and {"jet_mass", "tau_21", "jet_eta"} <= set(names)
    fixed = store.assign(jet_eta=store.jet_eta * 0 + 0.5)  # a fixed value in both samples tells nothing
    ref, _ = Comparison(fixed, fixed).columns()
    assert "jet_eta" not in ref and "jet_mass" in ref


def test_emd_minimax_on_jet_stores(tmp_path):
    make = lambda name, seed, d: open_store(make_store(tmp_path / name, detector="jet_image_25x25",  # noqa: E731
                                                       features="jet_image_features", n_events=1000, seed=seed,
                                                       chunk_events=1000, distortion=d))
    a, b, c = make("a.zarr", 1, 0.0), make("b.zarr", 2, 0.0), make("c.zarr", 3, 1.5)
    same, distorted = get_metric("emd_minimax")(a, b, bins=10), get_metric("emd_minimax")(a, c, bins=10)
    assert distorted.value > 1.5 * same.value
    mmd = get_metric("emd_mmd")
    assert mmd(a, c, num_eval_samples=20, num_batches=2).value > mmd(a, b, num_eval_samples=20, num_batches=2).value
    with pytest.raises(PhysgenError, match="does not apply"):
        get_metric("emd_mmd")(open_store(make_store(tmp_path / "z.zarr", features="zmumu17", n_events=50)),
                              open_store(make_store(tmp_path / "y.zarr", features="zmumu17", n_events=50)))
