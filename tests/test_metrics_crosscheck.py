"""physgen's metrics against the field's reference implementations on the same inputs.

The reference packages are the optional ``crosscheck`` extra (``pip install -e ".[crosscheck]"``):
JetNet (FPD, KPD, W1), energyflow (event EMD; its ``wasserstein`` backend needs numpy 1, so it
skips on numpy 2) and the authors' ``prdc``. Each test skips cleanly when its package is missing.
The CaloChallenge's high-level features and ⟨S²⟩ are checked in the default suite against the
challenge's definitions (test_metrics.py, test_observables_calochallenge.py): its code is not a package.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from physgen.metrics import event_emd, fpd, kpd, precision_recall_density_coverage, wasserstein_1d_batches


def _jetnet():
    pytest.importorskip("jetnet", reason="JetNet is in the optional crosscheck extra")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import jetnet.evaluation.gen_metrics as gen_metrics
        except ImportError as exc:  # energyflow's compiled backend on an incompatible numpy
            pytest.skip(f"jetnet.evaluation does not import here: {exc}")
    return gen_metrics


@pytest.fixture(scope="module")
def features():
    """Two samples of four features in different units (one with a large offset, as energies in MeV)."""
    rng = np.random.default_rng(0)
    scale, offset = np.array([1.0, 10.0, 100.0, 0.1]), np.array([0.0, 5.0, 5e4, 1.0])
    real = rng.normal(size=(3000, 4)) * scale + offset
    gen = rng.normal(0.05, 1.05, size=(2500, 4)) * scale + offset
    return real, gen


def test_fpd_matches_jetnet(features):
    gen_metrics = _jetnet()
    options = {"min_samples": 500, "max_samples": 2000, "num_batches": 5, "num_points": 5}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "recommended number of samples is 50,000"
        value, error = gen_metrics.fpd(*features, **options)
        same_value, _ = gen_metrics.fpd(features[0], features[0], **options)
    ours = fpd(*features, **options)
    assert ours.value == pytest.approx(value, rel=1e-6) and ours.error == pytest.approx(error, rel=1e-6)
    assert fpd(features[0], features[0], **options).value == pytest.approx(same_value, rel=1e-6, abs=1e-15)


def test_kpd_matches_jetnet(features):
    gen_metrics = _jetnet()
    value, error = gen_metrics.kpd(*features, num_batches=6, batch_size=800)
    ours = kpd(*features, num_batches=6, batch_size=800)
    assert ours.value == pytest.approx(value, rel=1e-6) and ours.error == pytest.approx(error, rel=1e-6)


def test_w1_batches_match_jetnet_w1p(features, monkeypatch):
    """JetNet draws W1 batches from a module generator; seeded alike, the draws and numbers agree."""
    gen_metrics = _jetnet()
    real, gen = features
    monkeypatch.setattr(gen_metrics, "rng", np.random.default_rng(3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        means, stds = gen_metrics.w1p(real[:, None, :], gen[:, None, :], exclude_zeros=False, num_eval_samples=1000,
                                      num_batches=5)
    for i in range(real.shape[1]):
        ours = wasserstein_1d_batches(real[:, i], gen[:, i], num_eval_samples=1000, num_batches=5, seed=3)
        assert ours.value == pytest.approx(means[i], rel=1e-12) and ours.error == pytest.approx(stds[i], rel=1e-12)


def test_event_emd_matches_energyflow():
    pytest.importorskip("energyflow", reason="energyflow is in the optional crosscheck extra")
    try:
        from energyflow.emd import emd
        emd(np.array([[1.0, 0.0, 0.0]]), np.array([[1.0, 0.1, 0.0]]))
    except ImportError as exc:
        pytest.skip(f"energyflow's EMD backend does not load here: {exc}")
    rng = np.random.default_rng(1)
    eta = phi = np.round(np.arange(8) * 0.1 - 0.35, 10)
    for _ in range(5):
        a, b = (rng.exponential(1.0, (8, 8)) * (rng.random((8, 8)) < 0.3) for _ in range(2))
        as_particles = [np.array([[x[i, j], eta[i], phi[j]] for i, j in zip(*np.nonzero(x))]) for x in (a, b)]
        assert event_emd(a, b, eta, phi, R=0.4) == pytest.approx(emd(*as_particles, R=0.4), rel=1e-8)


def test_prdc_matches_the_authors_package():
    prdc = pytest.importorskip("prdc", reason="prdc is in the optional crosscheck extra")
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(600, 5)), rng.normal(0.3, 1.1, size=(500, 5))
    expected = prdc.compute_prdc(real, fake, nearest_k=5)
    ours = precision_recall_density_coverage(real, fake, k=5, standardise=False)
    for name in ("precision", "recall", "density", "coverage"):
        assert getattr(ours, name) == pytest.approx(expected[name], rel=1e-12), name
