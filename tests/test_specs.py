"""Specs: shipped specs validate, YAML round trips, name registry, and every bad-input message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given

from physgen.errors import PhysgenWarning, SpecError, SpecNotFoundError
from physgen.specs import DetectorSpec, SpecRegistry, assignments, dump_spec, load_spec, load_with_overrides, parse_spec
from physgen.store import resolve_dataset
from physgen.testing.strategies import detector_specs, feature_schema_specs
from tests.conftest import SPECS

SHIPPED = sorted(SPECS.rglob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(SPECS)))
def test_shipped_specs_validate(path: Path):
    loaded = load_spec(path)
    assert loaded.spec.name == path.stem
    assert loaded.hash.startswith("sha256:")


def test_required_detectors_are_shipped():
    registry = SpecRegistry.default()
    calo = registry.get("detector", "calogan_lar3").spec.geometry
    assert [layer.cells for layer in calo.layers] == [(3, 96), (12, 12), (12, 6)]
    ild = registry.get("detector", "ild_ecal_30").spec.geometry
    assert ild.cells == (30, 30, 30) and ild.threshold.to("MeV").m == pytest.approx(0.1)
    jets = registry.get("detector", "jet_image_25x25").spec.geometry
    assert (jets.n_eta, jets.n_phi, jets.cell_eta, jets.cell_phi) == (25, 25, 0.1, 0.1)
    assert len(registry.get("features", "zmumu17").spec.features) == 17


def test_readout_threshold_zeroes_cells_below_it_in_the_detector_units():
    """ILD's 0.1 MeV MIP cut (paper 004) on cells in MeV; a spec in GeV gets 1e-4 GeV; no threshold keeps all."""
    ild = SpecRegistry.default().get("detector", "ild_ecal_30").spec.geometry
    cells = np.array([0.05, 0.0999, 0.1, 0.2])
    assert ild.apply_threshold(cells.copy()).tolist() == [0.0, 0.0, 0.1, 0.2]
    in_gev = ild.model_copy(update={"energy_units": "GeV"})
    assert in_gev.threshold_magnitude() == pytest.approx(1e-4)
    assert in_gev.apply_threshold(cells * 1e-3).tolist() == pytest.approx([0.0, 0.0, 1e-4, 2e-4])
    calo = SpecRegistry.default().get("detector", "calogan_lar3").spec.geometry
    assert calo.threshold is None and calo.apply_threshold(cells.copy()).tolist() == cells.tolist()


@given(detector_specs())
def test_detector_yaml_round_trip(detector: DetectorSpec):
    text = dump_spec(detector)
    again = parse_spec(yaml.safe_load(text))
    assert again == detector
    assert dump_spec(again) == text


@given(feature_schema_specs())
def test_feature_schema_round_trip(schema):
    assert parse_spec(yaml.safe_load(dump_spec(schema))) == schema


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_unknown_key_suggests_the_right_one(tmp_path):
    text = (SPECS / "detectors/jet_image_25x25.yaml").read_text().replace("n_eta:", "n_etta:")
    with pytest.raises(SpecError) as info:
        load_spec(_write(tmp_path, "d.yaml", text))
    message = str(info.value)
    assert "d.yaml" in message and "geometry.eta_phi_grid.n_etta" in message and "did you mean 'n_eta'" in message


def test_unknown_top_level_key(tmp_path):
    text = (SPECS / "detectors/jet_image_25x25.yaml").read_text() + "chunk_event: 10\n"
    with pytest.raises(SpecError, match="did you mean 'chunk_events'"):
        load_spec(_write(tmp_path, "d.yaml", text))


def test_wrong_type_names_key_and_value(tmp_path):
    text = (SPECS / "detectors/jet_image_25x25.yaml").read_text().replace("n_phi: 25", "n_phi: many")
    with pytest.raises(SpecError, match=r"geometry\.eta_phi_grid\.n_phi.*'many'"):
        load_spec(_write(tmp_path, "d.yaml", text))


@pytest.mark.parametrize("count", ["0", "-3"])
def test_non_positive_cell_count(tmp_path, count):
    text = (SPECS / "detectors/calogan_lar3.yaml").read_text().replace("cells: [12, 12]", f"cells: [12, {count}]")
    with pytest.raises(SpecError, match=r"geometry\.layered\.layers\.1\.cells\.1"):
        load_spec(_write(tmp_path, "d.yaml", text))


def test_wrong_units_dimension(tmp_path):
    text = (SPECS / "detectors/calogan_lar3.yaml").read_text().replace("thickness: 90 mm", "thickness: 90 MeV")
    with pytest.raises(SpecError, match=r"layers\.0\.thickness.*\[length\]"):
        load_spec(_write(tmp_path, "d.yaml", text))


def test_unreadable_yaml(tmp_path):
    with pytest.raises(SpecError, match=r"d\.yaml: not valid YAML at line \d+, column \d+"):
        load_spec(_write(tmp_path, "d.yaml", "kind: detector\nname: [unclosed\n"))


def test_missing_file_and_unknown_kind(tmp_path):
    with pytest.raises(SpecNotFoundError, match="does not exist"):
        load_spec(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match="did you mean 'detector'"):
        load_spec(_write(tmp_path, "d.yaml", "kind: detecter\nname: x\n"))


def test_unknown_referenced_name(spec_dir):
    path = _write(spec_dir / "datasets", "d.yaml",
                  "kind: dataset\nname: d\nsimulator: {name: mixture, options: {mixture: circle_8}}\n"
                  "features: toy_2dd\n")
    with pytest.raises(SpecNotFoundError, match="no features spec named 'toy_2dd'; did you mean 'toy_2d'"):
        resolve_dataset(str(path))


def test_user_folder_is_searched_before_shipped(spec_dir):
    _write(spec_dir / "features", "toy_2d.yaml",
           "kind: features\nname: toy_2d\nfeatures:\n  - {name: u, units: mm}\n  - {name: v, units: mm}\n")
    path = _write(spec_dir / "datasets", "d.yaml",
                  "kind: dataset\nname: d\nsimulator: {name: mixture, options: {mixture: circle_8}}\nfeatures: toy_2d\n")
    with pytest.warns(PhysgenWarning, match="using features spec 'toy_2d' from .*toy_2d.yaml .* instead of the shipped"):
        assert resolve_dataset(str(path)).schema.names == ["u", "v"]


def test_voxel_periods_must_match_layers(tmp_path):
    text = (SPECS / "detectors/ild_ecal_30.yaml").read_text().replace("periods: 10", "periods: 9")
    with pytest.raises(SpecError, match="30 layers but the sections hold 29"):
        load_spec(_write(tmp_path, "d.yaml", text))


def test_assignments_set_python_values_through_the_override_mechanism():
    """Python values become ``--set`` assignments that the override parser reads back unchanged: a list,
    None (null), a float, a nested mapping; the result is a new spec recording the overrides."""
    values = {"pt_hat": [150.0, 400.0], "pt_hat_bias": None, "wprime_mass": 900.5, "parton_veto": {"pt": 20.0}}
    loaded = load_with_overrides("jets_wprime_qcd", "dataset", assignments(values, "simulator.options."))
    options = loaded.spec.simulator.options
    assert {k: options[k] for k in values} == values
    assert loaded.overrides == tuple(assignments(values, "simulator.options."))
