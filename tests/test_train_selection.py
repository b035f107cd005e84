"""Snapshot selection through physgen.metrics' registry: every shipped model spec's selection metric and
options score a generated sample, paper 002's KS sum is (M_ll, φ_miss, Iso1), bad options fail early."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr

from physgen.errors import SpecError
from physgen.metrics import ks_statistic
from physgen.models import dimuon_mass
from physgen.observables import compute
from physgen.specs import SpecRegistry
from physgen.store import open_store
from physgen.train import selection, train
from _train_stores import jet_image_store, model_spec, toy_store, zmumu_store

SELECTING = sorted(name for kind, name in SpecRegistry.default().names()
                   if kind == "model" and SpecRegistry.default().get(kind, name).spec.training.selection is not None)


def _halves(store: str) -> tuple[xr.Dataset, dict[str, np.ndarray]]:
    """First half of a store as the reference dataset, second half as "generated" arrays."""
    ds = open_store(store)
    half = ds.sizes["event"] // 2
    reference = ds.isel(event=slice(0, half)).compute()
    other = ds.isel(event=slice(half, 2 * half)).compute()
    return reference, {k: other[k].values for k in reference.data_vars}


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("selection")
    out = {"zmumu": zmumu_store(tmp, events=4096)}
    for name in ("toy_bimodal_1d", "toy_circle_8", "toy_grid_5x5"):
        out[name] = toy_store(tmp, name, 4000)
    for name, events in (("calogan_eplus", 600), ("calogan_gamma", 600), ("calogan_piplus", 600),
                         ("calogan_conditional_eplus", 600), ("ild_photons_50gev", 600)):
        out[name] = toy_store(tmp, name, events)
    out["jets_wprime_qcd"] = jet_image_store(tmp, events=600)
    return out


def test_every_shipped_selection_is_one_of_the_registered_metrics():
    assert {"toy_gan_bimodal_1d", "toy_gan_circle_8", "toy_gan_grid_5x5", "zmumu_gan17", "zmumu_gan7"} <= set(SELECTING)


@pytest.mark.parametrize("name", SELECTING)
def test_shipped_selection_scores_a_sample(stores, name):
    """Same-distribution halves score low; a generator off by one standard deviation in every
    variable scores much worse, with the spec's metric and options as they ship."""
    spec = SpecRegistry.default().get("model", name).spec
    reference, same = _halves(stores[spec.dataset])
    inputs = spec.data.inputs
    names = inputs + spec.data.conditions + spec.data.labels  # what the training loop scores
    shifted = same | {k: same[k] + same[k].std() for k in inputs}
    good = selection.score(spec.training.selection, reference[names], {k: same[k] for k in names})
    bad = selection.score(spec.training.selection, reference[names], {k: shifted[k] for k in names})
    if spec.training.selection.metric == "emd_minimax":  # an EMD in (GeV, τ21) histogram units: no absolute scale
        assert np.isfinite(good) and bad > 3 * good
        return
    assert np.isfinite(good) and good < 0.15 * len(inputs)
    assert bad > good + 0.3


def test_zmumu_ks_sum_is_papers_selection(stores):
    """Paper 002: the KS sum of M_ll − M_Z, φ_miss and Iso1 (a shift by M_Z leaves KS unchanged)."""
    reference, same = _halves(stores["zmumu"])
    generated = selection.generated_dataset(reference, same | {"mu1_iso": same["mu1_iso"] * 1.3})
    expected = sum(ks_statistic(r, g) for r, g in (
        (compute(reference, ["m_ll"])["m_ll"] - 91.1876, compute(generated, ["m_ll"])["m_ll"] - 91.1876),
        (compute(reference, ["phi_miss"])["phi_miss"], compute(generated, ["phi_miss"])["phi_miss"]),
        (reference["mu1_iso"], generated["mu1_iso"])))
    spec = SpecRegistry.default().get("model", "zmumu_gan17").spec
    assert selection.score(spec.training.selection, reference, generated.data_vars) == pytest.approx(expected)
    assert expected > 0.1  # the isolation change is seen


def test_torch_dimuon_mass_is_the_m_ll_observable(stores):
    ds = open_store(stores["zmumu"]).isel(event=slice(0, 500)).compute()
    torch_m = dimuon_mass({k: torch.from_numpy(ds[k].values.astype(np.float64)) for k in ds.data_vars})
    np.testing.assert_allclose(torch_m.numpy(), compute(ds, ["m_ll"])["m_ll"].values, rtol=1e-9)


def test_wrong_selection_options_fail_before_training(stores, tmp_path):
    spec = model_spec(tmp_path, "toy_gan_bimodal_1d", training={
        "selection": {"metric": "ks_sum_columns", "options": {"variables": ["x"]}}})
    with pytest.raises(SpecError, match=r"unknown key 'training\.selection\.options\.variables'; it takes names"):
        train(spec, stores["toy_bimodal_1d"], tmp_path / "run", steps=5, device="cpu", progress=False)
    assert not (tmp_path / "run").exists()
    spec = model_spec(tmp_path, "toy_gan_bimodal_1d", name="typo", training={"selection": {"metric": "ks_summ"}})
    with pytest.raises(SpecError, match="did you mean 'ks_sum'"):
        train(spec, stores["toy_bimodal_1d"], tmp_path / "run", steps=5, device="cpu", progress=False)
