"""Physically impossible specs are refused at ``specs validate`` with one message naming the file and the
key; quantity strings are read without evaluating arithmetic (``9**9**9 mm`` returns at once)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from physgen.cli import app
from physgen.errors import PhysgenError
from physgen.units import check_units, parse_quantity
from tests.conftest import SPECS

runner = CliRunner()
CALOGAN = (SPECS / "detectors/calogan_lar3.yaml").read_text()
ILD = (SPECS / "detectors/ild_ecal_30.yaml").read_text()


def _sub(text: str, pattern: str, replacement: str) -> str:
    out, n = re.subn(pattern, replacement, text, count=1)
    assert n == 1, pattern
    return out


# (spec text, key path in the message, what the message says)
IMPOSSIBLE = {
    "negative X0": (_sub(CALOGAN, r"X0: 0.5612 cm", "X0: -5 cm"), "materials.0.X0", "greater than zero"),
    "nan X0": (_sub(CALOGAN, r"X0: 0.5612 cm", "X0: nan cm"), "materials.0.X0", "finite"),
    "zero density": (_sub(CALOGAN, r"density: 11.35 g/cm\^3", "density: 0 g/cm^3"), "materials.0.density",
                     "greater than zero"),
    "nan critical energy": (_sub(CALOGAN, r"critical_energy: 7.43 MeV", "critical_energy: nan MeV"),
                            "materials.0.critical_energy", "finite"),
    "zero lambda_int": (_sub(CALOGAN, r"lambda_int: \S+ cm", "lambda_int: 0 cm"), "materials.0.lambda_int",
                        "greater than zero"),
    "negative Moliere radius": (_sub(CALOGAN, r"moliere_radius: 1.602 cm", "moliere_radius: -1.6 cm"),
                                "materials.0.moliere_radius", "greater than zero"),
    "infinite Z": (_sub(CALOGAN, r"Z: 82,", "Z: .inf,"), "materials.0.Z", "finite number"),
    "power tower": (_sub(CALOGAN, r"X0: 0.5612 cm", "X0: 9**9**9 mm"), "materials.0.X0", "not evaluated"),
    "arithmetic": (_sub(CALOGAN, r"X0: 0.5612 cm", "X0: 5 mm + 3 kg"), "materials.0.X0", "not evaluated"),
    "wrong dimension": (_sub(CALOGAN, r"X0: 0.5612 cm", "X0: 5 kg"), "materials.0.X0", "[length]"),
    "zero absorber": (_sub(CALOGAN, r"absorber_thickness: 2 mm", "absorber_thickness: 0 mm"),
                      "sections.0.absorber_thickness", "greater than zero"),
    "nan active": (_sub(CALOGAN, r"active_thickness: 4 mm", "active_thickness: nan mm"),
                   "sections.0.active_thickness", "finite"),
    "infinite active": (_sub(CALOGAN, r"active_thickness: 4 mm", "active_thickness: inf mm"),
                        "sections.0.active_thickness", "finite"),
    "zero layer thickness": (_sub(CALOGAN, r"thickness: 90 mm", "thickness: 0 mm"), "layers.0.thickness",
                             "greater than zero"),
    "negative depth": (_sub(CALOGAN, r"depth: 0 mm", "depth: -10 mm"), "layers.0.depth", "not be negative"),
    "overlapping layers": (_sub(CALOGAN, r"depth: 90 mm", "depth: 50 mm"), "layers", "without overlap"),
    "zero cell": (_sub(ILD, r"cell_size: \[5.0\d* mm", "cell_size: [0 mm"), "cell_size.0", "greater than zero"),
    "negative threshold": (_sub(ILD, r"threshold: 0.1 MeV", "threshold: -0.1 MeV"), "threshold",
                           "not be negative"),
    "absurd cell count": (_sub(ILD, r"cells: \[30, 30, 30\]", "cells: [30, 200000, 30]"), "cells.1",
                          "less than or equal to 100000"),
    "absurd cells per event": (_sub(ILD, r"cells: \[30, 30, 30\]", "cells: [30, 90000, 90000]"), "geometry",
                               "243,000,000,000 cells per event"),
}


@pytest.mark.parametrize("case", sorted(IMPOSSIBLE))
def test_impossible_detector_refused_by_specs_validate(tmp_path, case):
    text, key, says = IMPOSSIBLE[case]
    path = tmp_path / "det.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["specs", "validate", str(path)])
    assert result.exit_code == 2, result.output
    message = result.stderr.replace("\n", " ")
    assert "det.yaml" in message and key in message and says in message
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("text", "says"), [
    ("kind: dataset\nname: d\nsimulator: {name: mixture, options: {mixture: circle_8}}\nfeatures: toy_2d\n"
     "events: .nan\n", "events"),
    ("kind: dataset\nname: d\nsimulator: {name: mixture, options: {mixture: circle_8}}\nfeatures: toy_2d\n"
     "events: 100000000000000\n", "less than or equal to 10000000000"),
    ("kind: dataset\nname: d\nsimulator: {name: mixture, options: {mixture: circle_8}}\nfeatures: toy_2d\n"
     "conditions: {e: {distribution: uniform, low: 0, high: .inf}}\n", "conditions.e.uniform.high"),
    ("kind: dataset\nname: d\nsimulator: {name: mixture, options: {mixture: circle_8}}\nfeatures: toy_2d\n"
     "conditions: {e: {distribution: choice, values: [1, 2, 3], probabilities: [1.5, -0.5, 0]}}\n",
     "greater than or equal to 0"),
    ("kind: features\nname: f\nfeatures: [{name: a, range: [.nan, 1]}]\n", "not nan"),
    ("kind: features\nname: f\nfeatures: [{name: a, units: 'mm**9**9**9'}]\n", "integer powers"),
])
def test_impossible_dataset_and_features_refused(tmp_path, text, says):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    result = runner.invoke(app, ["specs", "validate", str(path)])
    assert result.exit_code == 2 and says in result.stderr.replace("\n", " ") and "Traceback" not in result.output


def test_open_feature_ranges_stay_allowed(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text("kind: features\nname: f\nfeatures: [{name: a, units: GeV, range: [0, .inf]}]\n")
    assert runner.invoke(app, ["specs", "validate", str(path)]).exit_code == 0


@pytest.mark.parametrize(("text", "magnitude", "units"), [
    ("90 mm", 90.0, "millimeter"), ("1.396 g/cm^3", 1.396, "gram / centimeter ** 3"),
    ("1.396 g / cm ** 3", 1.396, "gram / centimeter ** 3"), ("-2.5e-3 GeV", -2.5e-3, "gigaelectron_volt"),
    (" 7 ", 7.0, "dimensionless"), ("3 1/mm", 3.0, "1 / millimeter"), ("0.5 GeV/c", 0.5, "gigaelectron_volt / speed_of_light"),
])
def test_quantity_strings_parse(text, magnitude, units):
    q = parse_quantity(text)
    assert q.magnitude == magnitude and str(q.units) == units


@pytest.mark.parametrize("text", ["9**9**9 mm", "5 mm + 3 kg", "2*3 mm", "mm", "3 mm**9**9", "1e3 mm mm 3",
                                  "__import__('os') mm", "5 mm; 3", ""])
def test_quantity_expressions_are_refused_not_evaluated(text):
    with pytest.raises(PhysgenError, match="expected one number followed by units|as units"):
        parse_quantity(text)


def test_units_strings_are_not_evaluated():
    assert check_units("g/cm^3") == "g/cm^3" and check_units("") == ""
    with pytest.raises(PhysgenError, match="integer powers"):
        check_units("mm**9**9**9")
