"""A user adds detectors by writing YAML only: a 50×50 jet image and a 4-layer calorimeter."""

from __future__ import annotations

import numpy as np

from physgen.store import create_store, open_store, resolve_dataset, validate_store

JET_50 = """\
kind: detector
name: jet_image_50x50
geometry: {type: eta_phi_grid, n_eta: 50, n_phi: 50, cell_eta: 0.05, cell_phi: 0.05}
"""

CALO_4 = """\
kind: detector
name: calo_4layer
geometry:
  type: layered
  materials:
    - {name: Fe, Z: 26, A: 55.85, density: 7.874 g/cm^3, X0: 1.757 cm, moliere_radius: 1.719 cm,
       critical_energy: 21.68 MeV, lambda_int: 16.77 cm}
    - {name: Scint, Z: 5.6, A: 11.2, density: 1.032 g/cm^3, X0: 42.54 cm, moliere_radius: 9.59 cm,
       critical_energy: 93.11 MeV, lambda_int: 70.7 cm}
  sections: [{periods: 40, absorber: Fe, absorber_thickness: 10 mm, active: Scint, active_thickness: 3 mm}]
  layers:
    - {name: presampler, depth: 0 mm, thickness: 30 mm, cells: [4, 64], cell_size: [50 mm, 3.125 mm]}
    - {name: front, depth: 30 mm, thickness: 130 mm, cells: [16, 16], cell_size: [12.5 mm, 12.5 mm]}
    - {name: middle, depth: 160 mm, thickness: 260 mm, cells: [8, 8], cell_size: [25 mm, 25 mm]}
    - {name: back, depth: 420 mm, thickness: 100 mm, cells: [4, 4], cell_size: [50 mm, 50 mm]}
"""


def _dataset(detector: str, features: str) -> str:
    return (f"kind: dataset\nname: {detector}_data\nsimulator: {{name: random_fill}}\ndetector: {detector}\n"
            f"features: {features}\nevents: 10\n")


def test_new_detectors_from_yaml_alone(spec_dir):
    (spec_dir / "detectors" / "jet_image_50x50.yaml").write_text(JET_50)
    (spec_dir / "detectors" / "calo_4layer.yaml").write_text(CALO_4)
    rng = np.random.default_rng(0)
    for detector, features, expected in (
        ("jet_image_50x50", "jet_image_features", {"image": (50, 50), "jet_mass": ()}),
        ("calo_4layer", "calo_conditions",
         {"presampler": (4, 64), "front": (16, 16), "middle": (8, 8), "back": (4, 4), "overflow": (4,), "energy": ()}),
    ):
        path = spec_dir / "datasets" / f"{detector}.yaml"
        path.write_text(_dataset(detector, features))
        dataset = resolve_dataset(str(path))
        url = str(spec_dir.parent / f"{detector}.zarr")
        writer = create_store(url, dataset.schema, chunk_events=dataset.chunk_events,
                              provenance={"specs": dataset.spec_texts(), "producer": {"name": "test"}})
        writer.append({v.name: rng.random((7, *v.shape)).astype(v.dtype) for v in dataset.schema.variables}
                      | ({"signal": np.ones(7, np.int8), "tau_21": np.full(7, 0.5, np.float32)}
                         if detector.startswith("jet") else {}))
        ds = open_store(url)
        assert {name: ds[name].shape[1:] for name in expected} == expected
        assert validate_store(url) == []
        assert ds.physgen.detector.name == detector
    assert open_store(spec_dir.parent / "calo_4layer.zarr")["middle"].dims == ("event", "middle_y", "middle_x")


def test_feature_named_like_a_coordinate_is_refused(spec_dir):
    import pytest

    from physgen.errors import SchemaError

    (spec_dir / "detectors" / "jet_image_50x50.yaml").write_text(JET_50)
    path = spec_dir / "datasets" / "clash.yaml"
    path.write_text(_dataset("jet_image_50x50", "calo_conditions"))
    with pytest.raises(SchemaError, match=r"features \['phi'\] have the names of detector coordinates"):
        resolve_dataset(str(path))


def test_new_calorimeter_simulates_real_showers_from_the_cli(spec_dir):
    """YAML only: the 4-layer detector plus a dataset spec, simulated by the parametric shower model."""
    from typer.testing import CliRunner

    from physgen.cli import app

    (spec_dir / "detectors" / "calo_4layer.yaml").write_text(CALO_4)
    dataset = spec_dir / "datasets" / "calo_4layer_electrons.yaml"
    dataset.write_text(
        "kind: dataset\nname: calo_4layer_electrons\nsimulator: {name: showers, options: {particle: e+}}\n"
        "detector: calo_4layer\nfeatures: calo_conditions\nevents: 200\nchunk_events: 100\n"
        "conditions:\n  energy: {distribution: fixed, value: 20, units: GeV}\n"
        "  x0: {distribution: fixed, value: 0, units: mm}\n  y0: {distribution: fixed, value: 0, units: mm}\n"
        "  theta: {distribution: fixed, value: 0, units: rad}\n  phi: {distribution: fixed, value: 0, units: rad}\n")
    out = spec_dir.parent / "calo4.zarr"
    result = CliRunner().invoke(app, ["simulate", str(dataset), "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    ds = open_store(out)
    assert validate_store(out) == []
    layer_sums = {name: float(ds[name].sum([f"{name}_y", f"{name}_x"]).mean()) for name in
                  ("presampler", "front", "middle", "back")}
    total = sum(layer_sums.values()) + float(ds["overflow"].sum("layer").mean())
    assert 0.5 * 20_000 < total < 1.05 * 20_000  # most of the 20 GeV is deposited (total readout, MeV)
    assert max(layer_sums, key=layer_sums.get) in ("front", "middle")  # shower maximum at ~ln(E/Ec) X0
