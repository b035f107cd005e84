"""Where the classifier separates (physgen.metrics.ablation; ``physgen evaluate --ablation``): column groups by
hand, and a generator that differs only in one readout layer is found in that layer."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from physgen.cli import app
from physgen.metrics import Comparison, classifier_ablation, column_groups
from physgen.sim import simulate
from physgen.store import open_store

NAMES = ["energy", "layer_energy", "width_x", "sparsity_calogan"]


def test_column_groups_are_each_observable_and_each_index_two_observables_share():
    columns = ["energy", "layer_energy_0", "layer_energy_1", "layer_energy_2", "width_x_0", "width_x_1",
               "energy_fraction_0", "total_over_incident", "mu1_pt"]
    groups = column_groups(columns, ["energy", "layer_energy", "width_x", "energy_fraction", "total_over_incident",
                                     "mu1_pt", "absent"])
    assert groups == {
        "energy": ["energy"],  # not energy_fraction_0: its suffix is not an index of "energy"
        "layer_energy": ["layer_energy_0", "layer_energy_1", "layer_energy_2"],
        "width_x": ["width_x_0", "width_x_1"],
        "energy_fraction": ["energy_fraction_0"],
        "total_over_incident": ["total_over_incident"],
        "mu1_pt": ["mu1_pt"],  # "1" is inside the name, not an index
        "layer 0": ["layer_energy_0", "width_x_0", "energy_fraction_0"],
        "layer 1": ["layer_energy_1", "width_x_1"],
        # layer 2: one observable only, no group
    }


@pytest.fixture(scope="module")
def showers(tmp_path_factory):
    """Two independent parametric e+ samples; in the second the layer-2 cells carry three times their energy."""
    folder = tmp_path_factory.mktemp("ablation")
    reference = simulate("calogan_eplus", folder / "ref.zarr", events=2000, seed=11, progress=False)
    other = simulate("calogan_eplus", folder / "other.zarr", events=2000, seed=12, progress=False)
    ds = open_store(other).compute()
    ds["layer_2"] = ds["layer_2"] * 3.0
    ds["layer_2"].attrs = open_store(other)["layer_2"].attrs
    ds.to_zarr(folder / "hot_layer_2.zarr", zarr_format=3)
    return reference, str(folder / "hot_layer_2.zarr")


def test_a_generator_off_in_one_layer_is_found_in_that_layer(showers):
    """The layer-2 energies three times too high (nothing else changed): the classifier separates on layer 2's
    columns alone and on the layer energies alone, not on layer 0's or layer 1's columns or the widths along x (the
    widths do not see a layer's scale), and barely without layer 2's columns."""
    reference, generated = (open_store(path) for path in showers)
    result = classifier_ablation(Comparison(reference, generated), NAMES, given=["energy"], seed=1, epochs=15)
    assert result["all columns"]["auc"] > 0.75
    assert result["layer 2"]["alone"] > 0.75 and result["layer_energy"]["alone"] > 0.75
    assert max(result["layer 0"]["alone"], result["layer 1"]["alone"], result["width_x"]["alone"]) < 0.6
    assert result["layer 2"]["without"] < 0.6
    assert "energy" not in result  # given: in every subset, not a group of its own


def test_cli_evaluate_ablation_prints_and_writes_the_groups(showers, tmp_path, wide_console):
    reference, generated = showers
    out = tmp_path / "ev"
    result = CliRunner().invoke(app, ["evaluate", reference, generated, "--out", str(out), "--names",
                                      ",".join(NAMES), "--metrics", "c2st_auc", "--ablation", "--given", "energy"])
    assert result.exit_code == 0, result.output
    assert "AUC alone" in result.output and "layer 2" in result.output
    written = json.loads((out / "metrics.json").read_text())["classifier_ablation"]
    assert set(written) == {"all columns", "layer_energy", "width_x", "sparsity_calogan", "layer 0", "layer 1",
                            "layer 2"}
    assert "Where the classifier separates" in (out / "report.html").read_text()


@pytest.mark.parametrize(("arguments", "message"), [
    (["--given", "energy"], "--given only applies with --ablation"),
    (["--ablation", "--given", "theta"], "the given names ['theta'] must be among the compared ones"),
])
def test_cli_evaluate_ablation_bad_options_are_one_clear_error(showers, tmp_path, wide_console, arguments, message):
    """Before any metric is computed: nothing is written."""
    reference, generated = showers
    result = CliRunner().invoke(app, ["evaluate", reference, generated, "--out", str(tmp_path / "ev"), "--names",
                                      ",".join(NAMES), "--metrics", "c2st_auc", *arguments])
    assert result.exit_code != 0
    assert message in result.output
    assert not (tmp_path / "ev").exists()
