"""Observables: known values, units, laziness, dispatch, the CLI."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from typer.testing import CliRunner

from physgen.cli import app
from physgen.errors import PhysgenError, SchemaError
from physgen.observables import columns, compute, default_observables, get_observable, observable_names
from physgen.store import open_store
from physgen.testing._observable_strategies import as_dataset, image_dataset, make_store

runner = CliRunner()


@pytest.fixture(scope="module")
def calo_store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("calo") / "calo.zarr", detector="calogan_lar3",
                      features="calo_conditions", n_events=120, seed=3, chunk_events=50)


@pytest.fixture(scope="module")
def zmumu_store(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("z") / "z.zarr", features="zmumu17", n_events=300, seed=4, chunk_events=100)


def _calo_arrays(n=2):
    return {"layer_0": np.zeros((n, 3, 96), np.float32), "layer_1": np.zeros((n, 12, 12), np.float32),
            "layer_2": np.zeros((n, 12, 6), np.float32), "overflow": np.zeros((n, 3), np.float32)}


# ------------------------------------------------------------------ jets
def test_two_pixel_mass_and_pt_match_the_formula():
    image = np.zeros((1, 25, 25), np.float32)
    image[0, 12, 12], image[0, 15, 8] = 100.0, 50.0  # Δη = 0.3, Δφ = 0.4
    ds = image_dataset(image)
    mass = get_observable("jet_mass")(ds).item()
    expected = np.sqrt(2 * 100 * 50 * (np.cosh(0.3) - np.cos(0.4)))
    assert mass == pytest.approx(expected, rel=1e-6)
    pt = get_observable("jet_pt")(ds).item()
    assert pt == pytest.approx(np.hypot(100 + 50 * np.cos(-0.4), 50 * np.sin(-0.4)), rel=1e-6)


def test_nsubjettiness_of_two_prongs():
    """Two pixels: τ1 = pT2·ΔR/(pT1+pT2) with the WTA axis on the harder pixel, τ2 = 0, τ21 = 0."""
    image = np.zeros((2, 25, 25), np.float32)
    image[0, 12, 12], image[0, 12, 17] = 80.0, 20.0  # ΔR = 0.5
    image[1, 10, 10] = 5.0  # one pixel: τ1 = 0, τ21 defined as 0
    obs = compute(image_dataset(image), ["tau_1", "tau_2", "tau_21", "n_active_pixels"]).compute()
    np.testing.assert_allclose(obs.tau_1, [20 * 0.5 / 100, 0.0], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(obs.tau_2, [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(obs.tau_21, [0.0, 0.0])
    assert obs.n_active_pixels.values.tolist() == [2, 1]


def test_tau21_separates_two_prong_from_one_prong():
    """Blobs of 3 × 3 pixels are full of exact ties, each resolved by a fixed rule: 200 jets per class
    average over them (mean τ21 ratio ≈ 0.57; 0.51 with one-pass axes)."""
    rng = np.random.default_rng(0)
    one, two = np.zeros((200, 25, 25), np.float32), np.zeros((200, 25, 25), np.float32)
    for i in range(200):
        for _ in range(10):
            one[i, 12 + rng.integers(-1, 2), 12 + rng.integers(-1, 2)] += rng.uniform(5, 10)
            two[i, 12 + rng.integers(-1, 2), 12 + rng.integers(-1, 2)] += rng.uniform(5, 10)
            two[i, 12 + rng.integers(-1, 2), 19 + rng.integers(-1, 2)] += rng.uniform(3, 8)
    for name in ("tau_21", "tau_21_onepass"):
        t_one = float(get_observable(name)(image_dataset(one)).mean())
        t_two = float(get_observable(name)(image_dataset(two)).mean())
        assert t_two < 0.6 * t_one, name


def test_pixel_spectrum_and_average_image():
    image = np.arange(2 * 25 * 25, dtype=np.float32).reshape(2, 25, 25)
    ds = image_dataset(image)
    spectrum = get_observable("pixel_intensity")(ds)
    assert spectrum.dims == ("event", "pixel") and spectrum.shape == (2, 625)
    average = get_observable("average_image")(ds)
    np.testing.assert_allclose(average, image.mean(axis=0))
    assert not get_observable("average_image").per_event


# ------------------------------------------------------------------ layered calorimeter
def test_layer_energies_fractions_depth_and_units():
    arrays = _calo_arrays()
    arrays["layer_0"][0, 1, 10] = 1000.0
    arrays["layer_1"][0, 5, 5] = 3000.0
    arrays["layer_2"][0, 0, 0] = 1000.0
    ds = as_dataset("calogan_lar3", arrays).assign(energy=("event", np.array([10.0, 5.0]), {"units": "GeV"}))
    obs = compute(ds, ["layer_energy", "total_energy", "energy_fraction", "total_over_incident", "shower_depth",
                       "shower_depth_width", "sparsity_calogan", "sparsity_calochallenge", "depth",
                       "lateral_depth"]).compute()
    np.testing.assert_allclose(obs.layer_energy[0], [1000, 3000, 1000])
    assert obs.layer_energy.attrs["units"] == "MeV" and obs.layer_energy.dims == ("event", "layer")
    np.testing.assert_allclose(obs.total_energy, [5000, 0])
    np.testing.assert_allclose(obs.energy_fraction[0], [0.2, 0.6, 0.2])
    np.testing.assert_allclose(obs.energy_fraction[1], [0, 0, 0])  # empty shower: 0, not NaN
    np.testing.assert_allclose(obs.total_over_incident, [0.5, 0.0])  # 5000 MeV / 10 GeV
    np.testing.assert_allclose(obs.shower_depth, [1.0, 0.0])
    np.testing.assert_allclose(obs.shower_depth_width[0], np.sqrt(0.4))  # ⟨i²⟩ = 1.4, ⟨i⟩² = 1
    np.testing.assert_allclose(obs.sparsity_calogan[0], [1 / 288, 1 / 144, 1 / 72])  # one cell of 288, 144, 72
    np.testing.assert_allclose(obs.sparsity_calochallenge[0], [287 / 288, 143 / 144, 71 / 72])
    np.testing.assert_allclose(obs.depth, [2, -1])  # deepest layer with energy; none in the empty shower
    np.testing.assert_allclose(obs.lateral_depth, [0 * 1000 + 1 * 3000 + 2 * 1000, 0])  # Σ i·E_i
    assert obs.lateral_depth.attrs["units"] == "MeV"


def test_depth_is_the_deepest_layer_with_energy():
    arrays = _calo_arrays(3)
    arrays["layer_0"][0, 0, 0] = 5.0
    arrays["layer_1"][1, 0, 0] = 5.0
    arrays["layer_0"][2, 0, 0] = arrays["layer_2"][2, 0, 0] = 1.0
    obs = compute(as_dataset("calogan_lar3", arrays), ["depth", "lateral_depth", "shower_depth"]).compute()
    np.testing.assert_array_equal(obs.depth, [0, 1, 2])
    np.testing.assert_allclose(obs.lateral_depth, [0, 5, 2])
    np.testing.assert_allclose(obs.shower_depth, [0, 1, 1])  # l_d / E_tot


def test_total_over_incident_converts_units():
    arrays = _calo_arrays(1)
    arrays["layer_1"][0, 0, 0] = 2.0
    ds = as_dataset("calogan_lar3", arrays).assign(energy=("event", np.array([4000.0]), {"units": "MeV"}))
    ds["layer_1"].attrs["units"] = "GeV"
    for name in ("layer_0", "layer_2"):
        ds[name].attrs["units"] = "GeV"
    assert get_observable("total_over_incident")(ds).item() == pytest.approx(0.5)


def test_centroid_width_and_e_ratio():
    arrays = _calo_arrays(1)
    x = as_dataset("calogan_lar3", arrays)["layer_1_x"].values
    arrays["layer_1"][0, 6, 2] = 300.0
    arrays["layer_1"][0, 6, 4] = 100.0
    ds = as_dataset("calogan_lar3", arrays)
    obs = compute(ds, ["centroid_x", "width_x", "e_ratio", "centroid_y"]).compute()
    mean = (300 * x[2] + 100 * x[4]) / 400
    assert float(obs.centroid_x[0, 1]) == pytest.approx(mean)
    assert float(obs.width_x[0, 1]) == pytest.approx(np.sqrt((300 * x[2] ** 2 + 100 * x[4] ** 2) / 400 - mean**2))
    assert float(obs.e_ratio[0, 1]) == pytest.approx(0.5)
    assert obs.centroid_x.attrs["units"] == "mm"


def test_longitudinal_profile_divides_by_layer_thickness():
    arrays = _calo_arrays(1)
    arrays["layer_0"][0, 0, 0] = 90.0
    profile = get_observable("longitudinal_profile")(as_dataset("calogan_lar3", arrays))
    assert float(profile[0, 0]) == pytest.approx(1.0)  # 90 MeV over 90 mm
    assert profile.attrs["units"] == "MeV/mm"
    np.testing.assert_allclose(profile.layer_depth, [45, 90 + 347 / 2, 437 + 21.5])


# ------------------------------------------------------------------ voxel calorimeter
def test_voxel_observables_and_dctr_features():
    energy = np.zeros((2, 30, 30, 30), np.float32)
    energy[0, 0, 15, 15] = 2.0
    energy[0, 2, 15, 15] = 6.0
    energy[0, 3, 0, 0] = 0.05  # below a 0.1 MeV MIP cut, but not by the default (no store) threshold
    ds = as_dataset("ild_ecal_30", {"energy": energy})
    obs = compute(ds, ["n_hits", "visible_energy", "layer_energy", "longitudinal_centroid", "dctr_features_33",
                       "radial_profile", "width_y"]).compute()
    assert obs.n_hits.values.tolist() == [3, 0]
    assert float(obs.visible_energy[0]) == pytest.approx(8.05)
    assert float(obs.longitudinal_centroid[0]) == pytest.approx((2 * 6 + 3 * 0.05) / 8.05, rel=1e-6)
    features = obs.dctr_features_33
    assert features.shape == (2, 33) and list(features.feature.values[:4]) == [
        "n_hits", "longitudinal_centroid", "visible_energy", "layer_energy_0"]
    np.testing.assert_allclose(features[0, 3:6], [2, 0, 6])
    assert float(obs.radial_profile[0].sum()) == pytest.approx(8.05, rel=1e-6)
    assert float(obs.radial_profile[0, 0]) == pytest.approx(8.0)  # cell (15, 15) is centred at r = 3.6 mm < pitch
    # ring centres rounded to 0.1 mm: clean column names (radial_profile_73.8, not …73.77600000000012)
    assert obs.radial_profile.r.values[[0, 14]].tolist() == [2.5, 73.8]
    assert "radial_profile_73.8" in columns(obs[["radial_profile"]])


def test_voxel_threshold_comes_from_the_store(tmp_path):
    url = make_store(tmp_path / "ild.zarr", detector="ild_ecal_30", n_events=20, seed=1, chunk_events=10)
    ds = open_store(url)
    hits = get_observable("n_hits")(ds).compute()
    expected = (ds.energy > 0.1).sum(("z", "y", "x")).compute()
    np.testing.assert_array_equal(hits, expected)
    assert get_observable("layer_energy")(ds).sizes["layer"] == 30  # the same name works on voxels


# ------------------------------------------------------------------ dilepton
def test_dilepton_observables_known_values():
    ds = xr.Dataset({k: ("event", np.asarray(v, float)) for k, v in {
        "mu1_px": [45.0], "mu1_pz": [0.0], "mu1_e": [45.0], "mu2_px": [-45.0], "mu2_py": [0.0], "mu2_pz": [0.0],
        "mu2_e": [45.0], "met_px": [3.0], "met_py": [-4.0], **{f"jet{i}_pt": [[30, 16, 15, 2, 0][i - 1]] for i in range(1, 6)},
    }.items()})
    obs = compute(ds, ["m_ll", "pt_ll", "met", "phi_miss", "dphi_mumu", "n_jets"]).compute()
    assert obs.m_ll.item() == pytest.approx(90.0)
    assert obs.pt_ll.item() == pytest.approx(0.0)
    assert obs.met.item() == pytest.approx(5.0)
    assert obs.phi_miss.item() == pytest.approx(np.arctan2(-4, 3))
    assert abs(obs.dphi_mumu.item()) == pytest.approx(np.pi)
    assert obs.n_jets.item() == 2  # 30 and 16 GeV pass pT > 15, 15 does not


def test_store_dilepton_ranges(zmumu_store):
    ds = open_store(zmumu_store)
    assert default_observables(ds) == ["m_ll", "pt_ll", "met", "phi_miss", "dphi_mumu", "n_jets"]
    obs = compute(ds).compute()
    assert 59.999 <= float(obs.m_ll.min()) and float(obs.m_ll.max()) <= 120.001
    assert np.all(np.abs(obs.dphi_mumu) <= np.pi)


# ------------------------------------------------------------------ registry, laziness
def test_lazy_in_lazy_out_and_attrs(calo_store):
    ds = open_store(calo_store)
    assert default_observables(ds) == ["layer_energy", "total_energy", "energy_fraction", "total_over_incident",
                                       "shower_depth", "shower_depth_width", "depth", "sparsity_calogan", "e_ratio"]
    obs = compute(ds, observable_names(ds))
    for name, var in obs.data_vars.items():
        assert isinstance(var.data, da.Array), name
        assert var.attrs["units"] and var.attrs["long_name"], name
    loaded = obs.compute()
    eager = compute(ds.load(), observable_names(ds))
    xr.testing.assert_allclose(loaded, eager, rtol=1e-12)


def test_shipped_feature_schemas_name_registered_observables():
    from physgen.specs import SpecRegistry

    registry = SpecRegistry.default()
    for kind, name in registry.names("features"):
        for obs in registry.get(kind, name).spec.observables:
            get_observable(obs)  # raises for an unknown name


def test_unknown_and_inapplicable_observables():
    ds = image_dataset(np.zeros((1, 5, 5), np.float32))
    with pytest.raises(PhysgenError, match="did you mean 'jet_mass'"):
        get_observable("jet_mas", ds)
    with pytest.raises(SchemaError, match="layered or voxel"):
        get_observable("layer_energy", ds)


def test_columns_flatten_per_layer_observables(calo_store):
    cols = columns(compute(open_store(calo_store), ["layer_energy", "total_energy"]))
    assert list(cols) == ["layer_energy_0", "layer_energy_1", "layer_energy_2", "total_energy"]
    assert cols["layer_energy_1"].dims == ("event",)


# ------------------------------------------------------------------ CLI
def test_cli_observables_table_and_zarr(calo_store, tmp_path):
    out = tmp_path / "obs.csv"
    result = runner.invoke(app, ["observables", calo_store, "--names", "total_energy,layer_energy", "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert list(table.columns) == ["event", "total_energy", "layer_energy_0", "layer_energy_1", "layer_energy_2"]
    np.testing.assert_allclose(table.total_energy, table[["layer_energy_0", "layer_energy_1", "layer_energy_2"]].sum(axis=1))
    store = tmp_path / "obs.zarr"
    assert runner.invoke(app, ["observables", calo_store, "--out", str(store)]).exit_code == 0
    written = xr.open_zarr(store, consolidated=False)
    assert written.layer_energy.attrs["units"] == "MeV" and "e_ratio" in written


def test_cli_observables_bad_input(calo_store, tmp_path):
    result = runner.invoke(app, ["observables", calo_store, "--names", "m_ll"])
    assert result.exit_code == 2 and "cannot be computed" in result.output
    out = tmp_path / "exists.csv"
    out.write_text("keep me")
    result = runner.invoke(app, ["observables", calo_store, "--names", "total_energy", "--out", str(out)])
    assert result.exit_code == 2 and out.read_text() == "keep me"
    assert runner.invoke(app, ["observables", str(tmp_path / "nope.zarr")]).exit_code == 2


def _jet_like_images(n: int, seed: int, integer: bool) -> np.ndarray:
    """Two prongs of a few pixels each on the 25 × 25 grid; integer intensities give exact pT ties too."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 25, 25))
    for image in images:
        for centre, hardness in (((12, 12), 30.0), ((12 + rng.integers(-4, 5), 12 + rng.integers(3, 7)), 15.0)):
            for _ in range(12):
                i, j = centre[0] + rng.integers(-2, 3), centre[1] + rng.integers(-2, 3)
                image[min(max(i, 0), 24), min(max(j, 0), 24)] += hardness * rng.exponential(1.0)
    return np.round(images) if integer else images


@pytest.mark.parametrize("integer", [False, True])
def test_tau_n_is_stable_under_a_tiny_jitter(integer):
    """Issue 15: on pixel grids ties decided τ1 by rounding noise (a 1e-7 jitter moved it by up to 0.1);
    with the fixed tie-breaking rule the axes stay on their pixels and τ moves by ≪ 1e-6."""
    images = _jet_like_images(40, seed=3, integer=integer)
    jitter = 1 + 1e-7 * np.random.default_rng(4).standard_normal(images.shape)
    names = ["tau_1", "tau_2", "tau_1_onepass", "tau_2_onepass"]
    before = compute(image_dataset(images), names).compute()
    after = compute(image_dataset(images * jitter), names).compute()
    for name in names:
        assert float(np.abs(after[name] - before[name]).max()) < 1e-6, name


def test_one_pass_axes_reach_the_fermat_point():
    """Three equal pixels at (0, 0), (0.4, 0), (0, 0.4): a WTA axis sits on one of them (τ1 = 0.8/3 or
    (0.4 + 0.4√2)/3); the minimised axis is the Fermat point of the triangle, where the distance sum is
    √((a² + b² + c²)/2 + 2√3·area) = √(0.32 + 0.16√3) (two legs 0.4, area 0.08), so τ1 = that / 3."""
    image = np.zeros((1, 25, 25))
    image[0, 12, 12] = image[0, 16, 12] = image[0, 12, 16] = 1.0
    obs = compute(image_dataset(image), ["tau_1", "tau_1_onepass", "tau_21_onepass"]).compute()
    tau_1 = obs.tau_1.item()
    assert tau_1 == pytest.approx(0.8 / 3) or tau_1 == pytest.approx((0.4 + 0.4 * np.sqrt(2)) / 3)
    assert obs.tau_1_onepass.item() == pytest.approx(np.sqrt(0.32 + 0.16 * np.sqrt(3)) / 3, abs=2e-4)
    assert obs.tau_21_onepass.item() >= 0


def _naive_shower_shapes(cells: np.ndarray, y: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
    """Reference for one layer, shower by shower with plain numpy (no shared sums)."""
    out = {k: [] for k in ("energy", "centroid_x", "centroid_y", "width_x", "width_y", "e_ratio", "active")}
    yy, xx = np.meshgrid(y, x, indexing="ij")
    for c in cells.astype(np.float64):
        e = c.sum()
        mx, my = ((c * xx).sum() / e, (c * yy).sum() / e) if e > 0 else (0.0, 0.0)
        wx = np.sqrt(max((c * xx**2).sum() / e - mx**2, 0.0)) if e > 0 else 0.0
        wy = np.sqrt(max((c * yy**2).sum() / e - my**2, 0.0)) if e > 0 else 0.0
        top = np.sort(c.ravel())[::-1]
        ratio = (top[0] - top[1]) / (top[0] + top[1]) if top[0] + top[1] > 0 else 0.0
        for k, v in zip(out, (e, mx, my, wx, wy, ratio, (c > 0).sum()), strict=True):
            out[k].append(v)
    return {k: np.asarray(v) for k, v in out.items()}


def test_fused_shower_table_equals_shower_by_shower_reference():
    """Every calorimeter observable comes out of one fused kernel: its numbers equal a plain per-shower
    computation of the definitions (docs/PHYSICS.md §2), layer by layer, ties in the hottest cells included."""
    rng = np.random.default_rng(7)
    shapes = {"layer_0": (3, 96), "layer_1": (12, 12), "layer_2": (12, 6)}
    arrays = {k: np.where(rng.random((6, *s)) < 0.3, rng.exponential(50.0, (6, *s)), 0.0).astype(np.float32)
              for k, s in shapes.items()}
    arrays["layer_1"][0] = 0.0  # an empty layer
    arrays["layer_2"][1] = 0.0
    arrays["layer_2"][1, 3, 2] = arrays["layer_2"][1, 4, 2] = 7.0  # two equally hot cells: E_ratio 0
    arrays["overflow"] = np.zeros((6, 3), np.float32)
    ds = as_dataset("calogan_lar3", arrays)
    names = ["layer_energy", "centroid_x", "centroid_y", "width_x", "width_y", "e_ratio", "sparsity_calogan",
             "total_energy", "shower_depth", "depth", "energy_fraction"]
    obs = compute(ds, names)
    per_layer = [_naive_shower_shapes(arrays[k], ds[k][ds[k].dims[1]].values, ds[k][ds[k].dims[2]].values)
                 for k in shapes]
    for name, key in [("layer_energy", "energy"), ("centroid_x", "centroid_x"), ("centroid_y", "centroid_y"),
                      ("width_x", "width_x"), ("width_y", "width_y"), ("e_ratio", "e_ratio")]:
        expected = np.stack([ref[key] for ref in per_layer], axis=1)
        np.testing.assert_allclose(obs[name].values, expected, rtol=1e-9, atol=1e-9, err_msg=name)
    assert obs["e_ratio"].values[1, 2] == 0.0
    cells = np.array([np.prod(s) for s in shapes.values()])
    np.testing.assert_allclose(obs["sparsity_calogan"].values, np.stack([r["active"] for r in per_layer], 1) / cells)
    energy = np.stack([r["energy"] for r in per_layer], axis=1)
    np.testing.assert_allclose(obs["total_energy"].values, energy.sum(1), rtol=1e-12)
    np.testing.assert_allclose(obs["shower_depth"].values, energy @ np.arange(3) / energy.sum(1), rtol=1e-12)
    np.testing.assert_allclose(obs["depth"].values, [np.nonzero(row)[0].max() for row in energy])
    np.testing.assert_allclose(obs["energy_fraction"].values, energy / energy.sum(1, keepdims=True), rtol=1e-12)


def test_fused_kernel_on_edge_case_showers_equals_the_reference():
    """Single-cell layers, an empty shower, a shower in one layer only and a cell at the grid's far corner:
    the matrix-product kernel gives the per-shower reference numbers. Tolerance: 1e-9 relative on energies,
    centroids and E_ratio (float64 sums of float32 cells); widths of a single-cell layer are 0 to within
    √(4ε)·|x| ≈ 4e-6 mm at |x| ≤ 240 mm (float64 rounding of Σx²E/ΣE − centroid², as in the reference)."""
    arrays = _calo_arrays(5)
    arrays["layer_0"][0, 2, 95] = 1234.5  # single cell at the far corner of the 3 × 96 strip layer
    arrays["layer_1"][0, 0, 0] = 0.25
    arrays["layer_2"][0, 11, 5] = 3e4
    # shower 1: empty everywhere
    arrays["layer_1"][2, 5, 7] = 80.0  # shower 2: one cell in one layer, nothing else
    arrays["layer_0"][3] = 1.0  # shower 3: every cell of layer 0 alike (E_ratio 0, sparsity 1)
    arrays["layer_2"][4, :, 3] = np.arange(1, 13, dtype=np.float32)  # shower 4: one column of a layer
    ds = as_dataset("calogan_lar3", arrays)
    names = ["layer_energy", "centroid_x", "centroid_y", "width_x", "width_y", "e_ratio", "sparsity_calogan", "depth"]
    obs = compute(ds, names)
    shapes = {"layer_0": (3, 96), "layer_1": (12, 12), "layer_2": (12, 6)}
    per_layer = [_naive_shower_shapes(arrays[k], ds[k][ds[k].dims[1]].values, ds[k][ds[k].dims[2]].values)
                 for k in shapes]
    for name, key in [("layer_energy", "energy"), ("centroid_x", "centroid_x"), ("centroid_y", "centroid_y"),
                      ("e_ratio", "e_ratio")]:
        expected = np.stack([ref[key] for ref in per_layer], axis=1)
        np.testing.assert_allclose(obs[name].values, expected, rtol=1e-9, atol=1e-9, err_msg=name)
    for name in ("width_x", "width_y"):
        expected = np.stack([ref[name] for ref in per_layer], axis=1)
        np.testing.assert_allclose(obs[name].values, expected, rtol=1e-9, atol=4e-6, err_msg=name)
    np.testing.assert_allclose(obs["width_x"].values[0], 0.0, atol=4e-6)  # one cell: no width
    np.testing.assert_allclose(obs["e_ratio"].values[0], [1.0, 1.0, 1.0])  # one cell: (E1 − 0)/(E1 + 0)
    np.testing.assert_array_equal(obs["e_ratio"].values[1], 0.0)  # empty layers: 0, not NaN
    assert obs["e_ratio"].values[3, 0] == 0.0 and obs["sparsity_calogan"].values[3, 0] == 1.0
    np.testing.assert_array_equal(obs["depth"].values, [2, -1, 1, 0, 2])
    assert obs["centroid_x"].values[0, 0] == pytest.approx(ds["layer_0"][ds["layer_0"].dims[2]].values[95])


@pytest.mark.parametrize("table_events", [1, 70, 10_000], ids=["unmerged", "uneven-merge", "one-block"])
def test_table_blocks_merged_or_not_equal_the_numpy_table(monkeypatch, table_events):
    """The lazy table merges kernel blocks into blocks of about TABLE_EVENTS events: every merge gives the
    numbers of the in-memory (numpy) computation, for store chunks of uneven sizes."""
    import physgen.observables.calo as calo

    monkeypatch.setattr(calo, "TABLE_EVENTS", table_events)
    rng = np.random.default_rng(11)
    shapes = {k: (97, *v.shape[1:]) for k, v in _calo_arrays().items()}
    arrays = {k: np.where(rng.random(shape) < 0.2, rng.exponential(30.0, shape), 0.0).astype(np.float32)
              for k, shape in shapes.items()}
    eager = as_dataset("calogan_lar3", arrays)
    lazy = eager.chunk({"event": (20, 20, 20, 20, 17)})
    names = [n for n in observable_names(eager) if get_observable(n, eager).func.__module__.endswith(".calo")]
    expected, got = compute(eager, names), compute(lazy, names)
    assert all(isinstance(v.data, da.Array) for v in got.data_vars.values())
    for name in names:
        np.testing.assert_allclose(got[name].values, expected[name].values, rtol=1e-12, atol=1e-12, err_msg=name)


def test_one_compute_call_builds_the_shower_table_once(calo_store, monkeypatch):
    """compute() of every calorimeter observable builds the shared table once (not once per observable);
    two compute() calls build it twice (nothing is cached beyond one call, so a changed dataset is seen)."""
    import physgen.observables.calo as calo

    ds = open_store(calo_store)
    every = [n for n in observable_names(ds) if get_observable(n, ds).func.__module__.endswith(".calo")]
    builds = []
    inner = calo._shower_table
    monkeypatch.setattr(calo, "_shower_table", lambda d: builds.append(1) or inner(d))
    compute(ds, every)
    assert len(builds) == 1
    compute(ds, every)
    assert len(builds) == 2


def test_graph_has_one_kernel_task_per_chunk_however_many_observables(calo_store):
    """The fused kernel runs once per event chunk whether one or every calorimeter observable is asked for."""
    from dask.base import collections_to_expr

    ds = open_store(calo_store)
    chunks = ds["layer_0"].data.numblocks[0]

    def kernel_tasks(names):
        arrays = [v.data for v in compute(ds, names).data_vars.values()]
        graph = dict(collections_to_expr(arrays, optimize_graph=False).__dask_graph__())
        return sum(1 for key in graph if "table_kernel" in str(key[0] if isinstance(key, tuple) else key))

    every = [n for n in observable_names(ds) if get_observable(n, ds).func.__module__.endswith(".calo")]
    assert len(every) >= 15
    assert kernel_tasks(["total_energy"]) == kernel_tasks(every) == chunks


@pytest.mark.parametrize("reduce", [False, True], ids=["arrays", "sums"])
def test_fused_kernel_runs_once_per_chunk_after_graph_optimisation(calo_store, monkeypatch, reduce):
    """Computing every calorimeter observable together executes the per-layer kernel once per layer and
    chunk — dask's graph optimisation (blockwise fusion of the column views with their kernel) must not
    copy the kernel into each observable, which would multiply the cost by the number of observables.
    Counted on the inner per-layer kernel, so the task tokens of the graph stay those of the real code."""
    import dask

    import physgen.observables.calo as calo

    ds = open_store(calo_store)
    chunks = ds["layer_0"].data.numblocks[0]
    every = [n for n in observable_names(ds) if get_observable(n, ds).func.__module__.endswith(".calo")]
    calls = []
    inner = calo._summary_kernel
    monkeypatch.setattr(calo, "_summary_kernel", lambda *a, **k: calls.append(1) or inner(*a, **k))
    arrays = [v.data.sum() if reduce else v.data for v in compute(ds, every).data_vars.values()]
    calls.clear()  # graph construction runs the kernel on empty meta arrays
    dask.compute(*arrays, scheduler="sync")
    assert len(calls) == chunks * ds.sizes["layer"]
