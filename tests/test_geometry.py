"""Geometry: coordinates, edges and units of the shipped detectors; sampling-medium mixture rules."""

from __future__ import annotations

import numpy as np
import pytest

from physgen.geometry import cell_centres, cell_edges, detector_schema, layer_boundaries, sampling_medium
from physgen.specs import SpecRegistry
from physgen.units import ureg


@pytest.fixture(scope="module")
def registry():
    return SpecRegistry.default()


def test_edges_and_centres_are_consistent():
    edges, centres = cell_edges(25, 0.1), cell_centres(25, 0.1)
    np.testing.assert_allclose(edges[[0, -1]], [-1.25, 1.25])
    np.testing.assert_allclose(centres, 0.5 * (edges[1:] + edges[:-1]))


def test_jet_image_coordinates(registry):
    schema = detector_schema(registry.get("detector", "jet_image_25x25").spec)
    eta, attrs = schema.coords["eta"]
    assert schema["image"].dims == ("eta", "phi") and schema["image"].units == "GeV"
    assert eta[12] == pytest.approx(0.0) and attrs["units"] == "dimensionless"
    assert schema.coords["phi"][1]["units"] == "rad"


def test_calogan_layers_cover_the_readout_window(registry):
    geometry = registry.get("detector", "calogan_lar3").spec.geometry
    schema = detector_schema(registry.get("detector", "calogan_lar3").spec)
    for layer in ("layer_0", "layer_1", "layer_2"):
        for axis in ("y", "x"):
            edges = schema.coords[f"{layer}_{axis}"][1]["edges"]
            assert edges[0] == pytest.approx(-240) and edges[-1] == pytest.approx(240)
    np.testing.assert_allclose(layer_boundaries(geometry), [0, 90, 437, 480])


def test_ild_depth_and_effective_medium(registry):
    g = registry.get("detector", "ild_ecal_30").spec.geometry
    bounds = layer_boundaries(g)
    assert len(bounds) == 31 and bounds[-1] == pytest.approx(20 * 2.6 + 10 * 4.7)
    thin = sampling_medium(g.material("W"), 2.1, g.material("Si"), 0.5)
    # docs/PHYSICS.md §3 (PDG mixture rule): X0_eff ≈ 0.43 cm, R_M ≈ 11.0 mm, E_c ≈ 8.3 MeV
    assert thin.X0 == pytest.approx(4.3, rel=0.02)
    assert thin.moliere_radius == pytest.approx(11.0, rel=0.01)
    assert thin.critical_energy == pytest.approx(8.3, rel=0.02)
    assert 0.02 < thin.sampling_fraction < 0.06
    total_x0 = sum(s.periods * s.absorber_thickness.to("mm").m / 3.504 for s in g.sections)
    assert total_x0 == pytest.approx(24, abs=1)  # "≈ 24 X0 in all"


def test_calogan_effective_medium_follows_the_pdg_mixture_rule(registry):
    """docs/PHYSICS.md §2: Pb 2 mm + LAr 4 mm → X0 15.6 mm, R_M ≈ 35.5 mm, E_c ≈ 9.3 MeV with the PDG rule
    (mass-fraction weighting of E_c/X0 with X0 in mm, the old rule, gave 19.1 mm and 17.3 MeV)."""
    g = registry.get("detector", "calogan_lar3").spec.geometry
    medium = sampling_medium(g.material("Pb"), 2.0, g.material("LAr"), 4.0)
    assert medium.X0 == pytest.approx(15.6, rel=0.01)
    assert medium.moliere_radius == pytest.approx(35.5, rel=0.01)
    assert medium.critical_energy == pytest.approx(9.3, rel=0.01)
    assert 480 / medium.X0 == pytest.approx(30.8, abs=0.1)  # "30.8 X0 in 480 mm"


def test_units_parse_with_pint(registry):
    for kind, name in registry.names("detector"):
        schema = detector_schema(registry.get(kind, name).spec)
        for var in schema.variables:
            ureg.Unit(var.units)
        for _, attrs in schema.coords.values():
            ureg.Unit(attrs["units"])
