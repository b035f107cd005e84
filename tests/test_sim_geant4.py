"""The ``geant4`` simulator: real Geant4 showers, checked against published Geant4 numbers, reproducible
chunk by chunk, and refusing bad input before any store exists. Small showers at low energy."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from pydantic import ValidationError

from physgen.errors import PhysgenError, SpecError
from physgen.sim import build_simulator, simulate
from physgen.sim.geant4 import Layout, validation_samples
from physgen.specs import SpecRegistry
from physgen.store import open_store, resolve_dataset, validate_store
from physgen.testing import assert_store_equal
from _reliability import kill_after_commits

needs_geant4 = pytest.mark.skipif(importlib.util.find_spec("geant4_pybind") is None,
                                  reason="geant4_pybind (a Linux x86-64 wheel) is not installed")

CALOGAN_LAYERS = ("layer_0", "layer_1", "layer_2")

CALOGAN_STYLE_DATASET = """\
kind: dataset
name: {name}
simulator: {{name: geant4, options: {options}}}
detector: calogan_lar3
features: calo_conditions
conditions:
  energy: {energy}
  x0: {{distribution: fixed, value: 0, units: mm}}
  y0: {{distribution: fixed, value: 0, units: mm}}
  theta: {{distribution: fixed, value: 0, units: rad}}
  phi: {{distribution: fixed, value: 0, units: rad}}
events: {events}
seed: 7
chunk_events: {chunk}
"""


def _dataset(folder, name="g4_test", options="{particle: e+}", energy="{distribution: fixed, value: 10, units: GeV}",
             events=20, chunk=10):
    """A CaloGAN-geometry dataset spec in ``folder/specs/datasets`` (its own spec tree: other tests' specs stay unseen)."""
    folder = folder if folder.name == "datasets" else folder / "specs" / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(CALOGAN_STYLE_DATASET.format(name=name, options=options, energy=energy, events=events, chunk=chunk))
    return path


def _calogan_detector():
    return SpecRegistry.default().get("detector", "calogan_lar3")


# ---------------------------------------------------------------- geometry from specs (no Geant4 needed)
def test_calogan_plates_are_cut_at_the_readout_boundaries():
    loaded = _calogan_detector()
    layout = Layout.from_geometry(loaded.spec.geometry, loaded.source)
    # 80 x (2 mm Pb + 4 mm LAr); layer_2 starts at 437 mm, 3 mm into the LAr gap 434-438 mm: one extra slab
    assert len(layout.slabs) == 161 and layout.depth == pytest.approx(480.0)
    cut = [s for s in layout.slabs if 434 - 1e-9 <= s.z0 < 438]
    assert [(s.material, s.z0, s.z1, s.layer) for s in cut] == [("LAr", 434.0, 437.0, 1), ("LAr", 437.0, 438.0, 2)]
    assert {s.layer for s in layout.slabs} == {0, 1, 2}  # readout "total": Pb is read out too
    assert (layout.size_y, layout.size_x) == (1000.0, 1000.0) and layout.n_cells == 288 + 144 + 72


def test_ild_reads_out_silicon_only():
    loaded = SpecRegistry.default().get("detector", "ild_ecal_30")
    layout = Layout.from_geometry(loaded.spec.geometry, loaded.source)
    read = [s for s in layout.slabs if s.layer is not None]
    assert {s.material for s in read} == {"Si"} and [s.layer for s in read] == list(range(30))
    assert all(s.layer is None for s in layout.slabs if s.material == "W")
    assert layout.depth == pytest.approx(20 * 2.6 + 10 * 4.7)


def _geometry(**changes):
    """The CaloGAN geometry with ``changes`` (``layers``: (index, {key: value}) pairs), validated again."""
    loaded = _calogan_detector()
    data = loaded.spec.geometry.to_dict()
    for index, update in changes.pop("layers", []):
        data["layers"][index] |= update
    return type(loaded.spec.geometry).model_validate(data | changes), loaded.source


@pytest.mark.parametrize(("changes", "message"), [
    ({"layers": [(1, {"depth": "80 mm"})]}, "overlap"),
    ({"layers": [(2, {"thickness": "50 mm"})]}, "spans 437-487 mm but the sampling stack is 0-480 mm deep"),
    ({"layers": [(0, {"thickness": "0 mm"})]}, "is empty|must be greater than zero"),
    ({"transverse_size": ["400 mm", "1000 mm"]}, "stick out of the plates"),
    ({"readout": "active", "layers": [(0, {"thickness": "2 mm"}), (1, {"depth": "2 mm", "thickness": "435 mm"})]},
     "contain no active material"),
])
def test_impossible_geometries_are_refused(changes, message):
    """Refused when the spec loads (overlapping or empty layers: the detector spec model) or when Geant4's
    layout is built from it (the rest)."""
    with pytest.raises((SpecError, ValidationError), match=message):
        geometry, source = _geometry(**changes)
        Layout.from_geometry(geometry, source)


# ---------------------------------------------------------------- physics against published Geant4 numbers
@pytest.fixture(scope="module")
def eplus_10gev(tmp_path_factory):
    """30 showers of 10 GeV e+ at the centre of the CaloGAN calorimeter, straight from the simulator."""
    path = _dataset(tmp_path_factory.mktemp("specs"), events=30, chunk=30)
    simulator = build_simulator(resolve_dataset(str(path)))
    return simulator.simulate(30, np.random.SeedSequence(7, spawn_key=(0,)))


@needs_geant4
def test_eplus_10gev_deposits_everything_in_calogan(eplus_10gev):
    """CaloGAN's 31 X0 stack holds an e+ shower: E_tot / E_inc ≈ 1 (shared/GEANT4.md: 0.997; paper 001)."""
    cells = sum(eplus_10gev[layer].sum(axis=(1, 2)) for layer in CALOGAN_LAYERS)
    total = cells + eplus_10gev["overflow"].sum(axis=1)
    ratio = total / (1000.0 * eplus_10gev["energy"])
    assert 0.99 <= ratio.mean() <= 1.0, ratio.mean()
    assert np.all(eplus_10gev["overflow"] >= 0) and np.all(ratio < 1.0 + 1e-6)


@needs_geant4
def test_eplus_10gev_layer1_width_and_layer2_reach(eplus_10gev):
    """Published Geant4 CaloGAN e+ sample (paper 001 figures, shared/GEANT4.md): layer-1 lateral width
    ≈ 29 mm, and energy in layer 2 in ≈ 97 % of showers."""
    layer1 = eplus_10gev["layer_1"].astype(np.float64)  # (n, 12 y, 12 x), 40 mm cells centred on the beam
    centres = (np.arange(12) - 5.5) * 40.0
    energy_x = layer1.sum(axis=1)
    mean_x = (energy_x * centres).sum(1) / energy_x.sum(1)
    width = np.sqrt((energy_x * centres**2).sum(1) / energy_x.sum(1) - mean_x**2)
    assert 25.0 <= width.mean() <= 33.0, width.mean()
    reached = (eplus_10gev["layer_2"].sum(axis=(1, 2)) > 0).mean()
    assert reached >= 0.9, reached


def _off_centre(tmp_path, x0: float, y0: float) -> dict[str, np.ndarray]:
    path = _dataset(tmp_path, name=f"at_{x0:g}", energy="{distribution: fixed, value: 2, units: GeV}", events=3, chunk=3)
    path.write_text(path.read_text().replace("x0: {distribution: fixed, value: 0", f"x0: {{distribution: fixed, value: {x0}")
                    .replace("y0: {distribution: fixed, value: 0", f"y0: {{distribution: fixed, value: {y0}"))
    url = simulate(str(path), tmp_path / f"at_{x0:g}.zarr", progress=False)
    return open_store(url).load()


@needs_geant4
def test_cells_sit_where_the_shower_enters_and_the_rest_overflows(tmp_path):
    """2 GeV e+ entering at (x0, y0) = (100, 20) mm: the layer-0 strips (5 mm in x, store coordinates)
    centre on x0 and the hottest layer-1 cell holds the impact point; at x0 = 300 mm, outside the
    ±240 mm readout window of CaloGAN, the energy lands in the overflow of each layer instead."""
    inside = _off_centre(tmp_path, 100.0, 20.0)
    strips = inside.layer_0.sum("layer_0_y")
    centroid = (strips * inside.layer_0_x).sum("layer_0_x") / strips.sum("layer_0_x")
    assert np.all(np.abs(centroid.values - 100.0) < 5.0), centroid.values
    for event in inside.layer_1.values:
        iy, ix = np.unravel_index(event.argmax(), event.shape)
        edges_y, edges_x = inside.layer_1_y.attrs["edges"], inside.layer_1_x.attrs["edges"]
        assert edges_x[ix] <= 100.0 < edges_x[ix + 1] and edges_y[iy] <= 20.0 < edges_y[iy + 1]
    assert float(inside.overflow.sum()) < 0.01 * float(inside.layer_1.sum())
    outside = _off_centre(tmp_path, 300.0, 0.0)
    cells = sum(float(outside[layer].sum()) for layer in CALOGAN_LAYERS)
    overflow = outside.overflow.sum("layer").values
    assert cells < 0.05 * overflow.sum() and np.all(overflow > 0.95 * 2000.0), (cells, overflow)


@needs_geant4
def test_same_seed_same_cells_other_seed_other_cells(tmp_path):
    path = _dataset(tmp_path, energy="{distribution: uniform, low: 1, high: 3, units: GeV}")
    simulator = build_simulator(resolve_dataset(str(path)))
    first = simulator.simulate(4, np.random.SeedSequence(3, spawn_key=(2,)))
    again = simulator.simulate(4, np.random.SeedSequence(3, spawn_key=(2,)))
    other = simulator.simulate(4, np.random.SeedSequence(4, spawn_key=(2,)))
    for name in (*CALOGAN_LAYERS, "overflow", "energy"):
        np.testing.assert_array_equal(first[name], again[name])
    assert not np.array_equal(first["layer_1"], other["layer_1"])


@needs_geant4
def test_the_cli_runs_offline_quietly_from_its_own_cache(tmp_path):
    """No Geant4 variables, no terminal: physgen makes the data-set stand-ins in $PHYSGEN_CACHE,
    asks nothing, and prints no Geant4 banner (shared/GEANT4.md: failure modes 1-3)."""
    spec = _dataset(tmp_path, energy="{distribution: fixed, value: 1, units: GeV}", events=2, chunk=2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEANT4", "G4"))} | {
        "PHYSGEN_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-m", "physgen.cli", "simulate", str(spec), "--out",
                             str(tmp_path / "offline.zarr")], env=env, stdin=subprocess.DEVNULL, capture_output=True,
                            text=True, check=True)
    assert "Geant4 version" not in result.stdout + result.stderr and "G4Exception" not in result.stdout + result.stderr
    stand_in = tmp_path / "cache" / "geant4-offline" / "ENSDFSTATE" / "ENSDFSTATE.dat"
    assert stand_in.is_file() and stand_in.stat().st_size == 0
    assert open_store(tmp_path / "offline.zarr").sizes["event"] == 2


# ---------------------------------------------------------------- chunks: serial = parallel = resumed after kill -9
@needs_geant4
def test_kill_9_then_resume_equals_an_uninterrupted_run(tmp_path):
    spec = _dataset(tmp_path, energy="{distribution: uniform, low: 0.5, high: 1.5, units: GeV}", events=120, chunk=2)
    url = tmp_path / "killed.zarr"
    cmd = [sys.executable, "-m", "physgen.cli", "simulate", str(spec), "--out", str(url)]
    committed = kill_after_commits(cmd, url, 6, timeout=120)
    assert 0 < committed < 120 and committed % 2 == 0, "the kill should land mid-run, between commits"
    subprocess.run([*cmd, "--resume"], check=True, stdout=subprocess.DEVNULL)
    reference = simulate(str(spec), tmp_path / "reference.zarr", progress=False)
    assert_store_equal(url, reference)


@needs_geant4
@pytest.mark.slow
def test_two_dask_workers_equal_a_serial_run(tmp_path):
    spec = _dataset(tmp_path, energy="{distribution: uniform, low: 0.5, high: 2, units: GeV}", events=12, chunk=3)
    serial = simulate(str(spec), tmp_path / "serial.zarr", progress=False)
    parallel = simulate(str(spec), tmp_path / "parallel.zarr", workers=2, progress=False)
    assert_store_equal(serial, parallel)


# ---------------------------------------------------------------- any calorimeter written in YAML
@needs_geant4
def test_a_yaml_only_calorimeter_is_simulated_by_geant4(spec_dir):
    """Iron/scintillator, read out in the scintillator: the visible fraction of a 2 GeV e- is the
    sampling fraction. MIP: 10 mm Fe × 11.43 MeV/cm vs 3 mm polystyrene × 2.00 MeV/cm (PDG dE/dx_min)
    → f_mip = 5.0 %; electrons see e/mip ≈ 0.6–0.9 of that in Fe/plastic (Wigmans, Calorimetry §4.4)."""
    (spec_dir / "detectors" / "fe_scint.yaml").write_text(textwrap.dedent("""\
        kind: detector
        name: fe_scint
        geometry:
          type: layered
          readout: active
          threshold: 0.05 MeV
          transverse_size: [600 mm, 600 mm]
          materials:
            - {name: Fe, geant4: G4_Fe, Z: 26, A: 55.85, density: 7.874 g/cm^3, X0: 1.757 cm,
               moliere_radius: 1.719 cm, critical_energy: 21.68 MeV, lambda_int: 16.77 cm}
            - {name: Scint, geant4: G4_POLYSTYRENE, Z: 5.6, A: 11.2, density: 1.06 g/cm^3, X0: 41.3 cm,
               moliere_radius: 9.59 cm, critical_energy: 93.11 MeV, lambda_int: 70.7 cm}
          sections: [{periods: 30, absorber: Fe, absorber_thickness: 10 mm, active: Scint, active_thickness: 3 mm}]
          layers:
            - {name: front, depth: 0 mm, thickness: 130 mm, cells: [8, 8], cell_size: [30 mm, 30 mm]}
            - {name: back, depth: 130 mm, thickness: 260 mm, cells: [4, 4], cell_size: [60 mm, 60 mm]}
        """))
    (spec_dir / "datasets" / "fe_scint_electrons.yaml").write_text(textwrap.dedent("""\
        kind: dataset
        name: fe_scint_electrons
        simulator: {name: geant4, options: {particle: e-}}
        detector: fe_scint
        features: calo_conditions
        conditions:
          energy: {distribution: fixed, value: 2, units: GeV}
          x0: {distribution: uniform, low: -20, high: 20, units: mm}
          y0: {distribution: fixed, value: 0, units: mm}
          theta: {distribution: uniform, low: 0, high: 0.2, units: rad}
          phi: {distribution: uniform, low: 0, high: 6.283, units: rad}
        events: 6
        seed: 2
        """))
    url = simulate(str(spec_dir / "datasets" / "fe_scint_electrons.yaml"), spec_dir.parent / "fe.zarr", progress=False)
    assert validate_store(url) == []
    store = open_store(url).load()
    visible = store.front.sum(["front_y", "front_x"]) + store.back.sum(["back_y", "back_x"]) + store.overflow.sum("layer")
    fraction = (visible / (1000.0 * store.energy)).values
    assert np.all((fraction > 0.025) & (fraction < 0.06)), fraction
    cells = np.concatenate([store.front.values.ravel(), store.back.values.ravel()])
    assert cells[cells > 0].min() >= 0.05  # the threshold
    materials = store.physgen.provenance["producer"]["materials"]
    assert [m["geant4"] for m in materials] == ["G4_Fe", "G4_POLYSTYRENE"]


# ---------------------------------------------------------------- the shipped validation samples
@pytest.mark.parametrize(("name", "events", "particle"), [
    ("geant4_calogan_eplus", 2000, "e+"),
    ("geant4_calogan_gamma", 1500, "gamma"),
    ("geant4_calogan_piplus", 2000, "pi+"),
    ("geant4_ild_photons_50gev", 1000, "gamma"),
])
def test_shipped_validation_samples_open_with_units_and_provenance(name, events, particle):
    url = validation_samples()[name]
    assert validate_store(url) == []
    store = open_store(url)
    assert store.sizes["event"] == events
    producer = store.physgen.provenance["producer"]
    assert producer["name"] == "geant4" and producer["particle"] == particle
    assert producer["geant4_version"].startswith("geant4-11-04") and producer["geant4_pybind_version"] == "0.1.3"
    assert producer["physics"]["differences_from_standard"] and producer["production_cut_mm"] == 0.7
    cells = [v for v in store.data_vars if store[v].ndim > 2]
    assert cells and all(store[v].attrs["units"] == "MeV" for v in cells)
    quantified = store.pint.quantify()
    assert str(quantified[cells[0]].data.units) == "megaelectron_volt"


def test_shipped_eplus_sample_has_the_published_calogan_shapes():
    """The shipped e+ sample (flat 1-100 GeV) against the published Geant4 CaloGAN e+ sample, read off
    paper 001's figures (±10 %, shared/GEANT4.md): f0/f1 ≈ 0.17/0.84, sparsity ≈ 0.48/0.82/0.28,
    E_tot/E_inc ≈ 1, layer 2 reached in ≈ 97 % of showers."""
    store = open_store(validation_samples()["geant4_calogan_eplus"]).load()
    layers = [store[name].values.astype(np.float64) for name in CALOGAN_LAYERS]
    energy = np.stack([layer.sum(axis=(1, 2)) for layer in layers], axis=1)
    total = energy.sum(axis=1)
    response = (total + store.overflow.values.sum(axis=1)) / (1000.0 * store.energy.values)
    assert 0.99 <= response.mean() <= 1.0
    fractions = (energy / total[:, None]).mean(axis=0)
    assert 0.15 <= fractions[0] <= 0.23 and 0.75 <= fractions[1] <= 0.85, fractions
    sparsity = [float((layer > 0).mean()) for layer in layers]
    assert 0.38 <= sparsity[0] <= 0.55 and 0.72 <= sparsity[1] <= 0.9 and 0.22 <= sparsity[2] <= 0.32, sparsity
    assert (energy[:, 2] > 0).mean() >= 0.9



def test_shipped_ild_sample_matches_the_bare_wsi_geant4_stack():
    """The shipped ILD sample (50 GeV γ, Si readout, 0.1 MeV MIP cut) against the independent bare
    W/Si Geant4 stack of shared/GEANT4.md: 536 ± 14 hits above threshold per shower (docs/PHYSICS.md §3)."""
    store = open_store(validation_samples()["geant4_ild_photons_50gev"]).load()
    assert np.all(store.incident_energy.values == 50.0)
    cells = store.energy.values
    assert cells[cells > 0].min() >= 0.1  # the MIP cut
    hits = (cells > 0).sum(axis=(1, 2, 3))
    assert 500 <= hits.mean() <= 570, hits.mean()
    assert np.all(cells.sum(axis=(1, 2, 3)) > 0)

# ---------------------------------------------------------------- bad input: one message, no store
@pytest.mark.parametrize(("edit", "message"), [
    (("geant4: G4_Pb", "geant4: G4_Pbx"), "names Geant4 material 'G4_Pbx', which Geant4 does not know; did you mean 'G4_Pb'"),
    (("transverse_size: [1000 mm, 1000 mm]", "transverse_size: [300 mm, 300 mm]"), "stick out of the plates"),
    (("- {name: layer_1, depth: 90 mm", "- {name: layer_1, depth: 60 mm"), "overlap"),
])
@needs_geant4
@pytest.mark.filterwarnings("ignore:using detector spec:physgen.errors.PhysgenWarning")  # shadowed on purpose
def test_bad_detector_is_refused_before_any_store(spec_dir, edit, message):
    text = (SpecRegistry.default().get("detector", "calogan_lar3").text).replace(*edit)
    assert edit[1] in text
    (spec_dir / "detectors" / "calogan_lar3.yaml").write_text(text)  # shadows the shipped detector
    spec = _dataset(spec_dir / "datasets")
    out = spec_dir.parent / "never.zarr"
    with pytest.raises(SpecError, match=message):
        simulate(str(spec), out, progress=False)
    assert not out.exists()


@needs_geant4
def test_impact_points_off_the_calorimeter_are_refused_before_any_store(tmp_path):
    spec = _dataset(tmp_path)
    spec.write_text(spec.read_text().replace("x0: {distribution: fixed, value: 0", "x0: {distribution: uniform, low: 400, high: 600"))
    out = tmp_path / "never.zarr"
    with pytest.raises(SpecError, match="impact points off the calorimeter front"):
        simulate(str(spec), out, progress=False)
    assert not out.exists()


def test_particle_missing_from_the_physics_list_is_refused(tmp_path):
    spec = _dataset(tmp_path, options="{particle: pi+}")
    out = tmp_path / "never.zarr"
    with pytest.raises(SpecError, match="'pi\\+' is not among the primaries of physics list 'datafree_em'.*"
                                        "use physics_list: datafree_ftfp_bert"):
        simulate(str(spec), out, progress=False)
    assert not out.exists()


@needs_geant4
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path):
    spec = _dataset(tmp_path, options="{particle: mu+, physics_list: datafree_em}")
    result = subprocess.run([sys.executable, "-m", "physgen.cli", "simulate", str(spec), "--out",
                             str(tmp_path / "never.zarr")], capture_output=True, text=True)
    assert result.returncode == 2 and "mu+" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "never.zarr").exists()


def test_without_geant4_pybind_one_clear_error_and_the_rest_works(tmp_path):
    """Another OS (no wheel): the geant4 simulator names what is missing; physgen itself still works."""
    spec = _dataset(tmp_path)
    code = textwrap.dedent(f"""\
        import sys
        sys.modules["geant4_pybind"] = None  # import geant4_pybind now raises ImportError
        from physgen.errors import PhysgenError
        from physgen.sim import build_simulator, simulator_names
        from physgen.store import resolve_dataset
        assert "geant4" in simulator_names() and "showers" in simulator_names()
        build_simulator(resolve_dataset("calogan_eplus")).simulate(3, __import__("numpy").random.SeedSequence(1))
        try:
            build_simulator(resolve_dataset({str(spec)!r}))
        except PhysgenError as exc:
            print(exc)
        """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "needs geant4_pybind==0.1.3" in result.stdout and "pip install geant4_pybind==0.1.3" in result.stdout


@needs_geant4
def test_a_second_physics_list_in_one_process_is_refused(tmp_path):
    """Geant4 fixes the physics list with the first run manager; asking for another is a clear error."""
    em = build_simulator(resolve_dataset(str(_dataset(tmp_path, name="em", events=2, chunk=2))))
    em.simulate(1, np.random.SeedSequence(1))
    hadronic = build_simulator(resolve_dataset(str(_dataset(
        tmp_path, name="had", options="{particle: e+, physics_list: datafree_ftfp_bert}", events=2, chunk=2))))
    with pytest.raises(PhysgenError, match="one physics list per process"):
        hadronic.simulate(1, np.random.SeedSequence(1))


@needs_geant4
@pytest.mark.slow
def test_pions_shower_with_the_hadronic_list(tmp_path):
    """π+ of 10 GeV in CaloGAN (1.3 λ deep): most start a hadronic shower, some punch through
    (shared/GEANT4.md). Run by the CLI: the hadronic list needs its own process."""
    spec = _dataset(tmp_path, name="pions", options="{particle: pi+, physics_list: datafree_ftfp_bert}", events=10)
    subprocess.run([sys.executable, "-m", "physgen.cli", "simulate", str(spec), "--out", str(tmp_path / "pi.zarr")],
                   check=True, stdout=subprocess.DEVNULL)
    store = open_store(tmp_path / "pi.zarr").load()
    total = sum(store[layer].sum([f"{layer}_y", f"{layer}_x"]) for layer in CALOGAN_LAYERS) + store.overflow.sum("layer")
    fraction = (total / 10_000.0).values
    # a MIP crossing the stack leaves 80 × (2 mm Pb × 12.7 + 4 mm LAr × 2.1 MeV/cm) ≈ 0.27 GeV (PDG dE/dx_min)
    assert np.all(fraction > 0.02) and np.all(fraction < 1.0)
    assert fraction.max() > 0.3  # hadronic showers deposit a large part of the energy
