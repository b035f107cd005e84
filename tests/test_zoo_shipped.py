"""Every generator shipped in the package: it loads by name (sha256 checked), generates a store that
validates with the schema and units of the reference it was trained on, and a small sample's observables
stay within a loose tolerance of those recorded when it was shipped (a regression guard for the
weights, the architectures and the generation code; the quality itself is the quality run's business)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from _train_stores import jet_image_store
from physgen.generate import generate, run_schema
from physgen.metrics import event_columns
from physgen.observables import compute
from physgen.store import open_store, validate_store
from physgen.zoo import load_generator, shipped_models

SHIPPED = sorted(shipped_models())
SAMPLE = 2000
SAMPLE_BY_DATASET = {"ild_photons_50gev": 500}
"""Fewer events where one event is large (ILD: 27 000 cells), to keep each test at seconds."""


@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.usefixtures("torch_one_thread")
def test_shipped_generator_loads_generates_and_reproduces_its_recorded_observables(name, tmp_path):
    entry = shipped_models()[name]
    sample = SAMPLE_BY_DATASET.get(entry["reference"]["specs"]["dataset"]["name"], SAMPLE)
    run = load_generator(name)
    conditions_from = None
    dataset, schema = run_schema(run.info)
    lacking = [c for c in run.spec.data.conditions + run.spec.data.labels if c not in dataset.spec.conditions]
    if lacking == ["signal"]:  # LAGAN's class label: balanced classes from a synthetic jet store
        conditions_from = jet_image_store(tmp_path, sample)
    url = generate(name, sample, tmp_path / "g.zarr", conditions_from=conditions_from, seed=7, progress=False)
    assert validate_store(url) == []
    ds = open_store(url)
    for variable in schema.variables:  # the reference's schema: dims, shape, dtype, units (parseable by pint)
        stored = ds[variable.name]
        assert (stored.dims, stored.shape[1:], str(stored.dtype), stored.attrs["units"]) == \
            (("event", *variable.dims), variable.shape, variable.dtype, variable.units)
    ds.pint.quantify()
    assert ds.physgen.provenance["producer"]["shipped"]["sha256"] == entry["sha256"]
    if conditions_from is not None:  # each event generated in the class it was asked for
        assert (ds["signal"].values == open_store(conditions_from)["signal"].values[:SAMPLE]).all()

    recorded = entry["observables"]["generated"]
    label = recorded["label"]
    grouped = event_columns(ds, recorded["names"] + ([label] if label else []))
    columns = {k: v for cols in grouped.values() for k, v in cols.items()}
    groups = {"all": np.ones(sample, bool)} if label is None else \
        {f"{v:g}": columns[label] == v for v in np.unique(columns[label])}
    for group, mask in groups.items():
        for column, stats in recorded["groups"][group].items():
            x = columns[column][mask]
            sigma = stats["std"] or 1.0
            # loose: 5 standard errors of the mean plus 5 % of the spread; the width within 25 %
            assert abs(x.mean() - stats["mean"]) < 5 * sigma / np.sqrt(len(x)) + 0.05 * sigma, (group, column)
            assert x.std() == pytest.approx(stats["std"], rel=0.25, abs=1e-6), (group, column)


ILD_PHOTONS = "ild_gan_3d_compact"
ILD_THRESHOLD_MEV = 0.1
"""Readout threshold of the ILD Si-W ECAL cells: paper 004 (arXiv:2009.03796, sec. on the data) removes hits
below 0.1 MeV, the ILD MIP cutoff, from Geant4 and GAN showers alike (specs/detectors/ild_ecal_30.yaml)."""


@pytest.mark.usefixtures("torch_one_thread")
def test_the_shipped_ild_photon_generator_keeps_the_readout_threshold_and_gives_the_33_dctr_features(tmp_path):
    """The ILD 3D WGAN ships (paper 004's generator class, compact) and its showers are read out as the
    detector's: every cell is either empty or at least at the threshold (the threshold travels in the
    checkpoint), every 50 GeV photon leaves hits, and the 33 high-level DCTR features are finite."""
    assert ILD_PHOTONS in SHIPPED
    url = generate(ILD_PHOTONS, 200, tmp_path / "g.zarr", seed=3, progress=False)
    ds = open_store(url)
    cells = ds["energy"].values
    assert ds["energy"].attrs["units"] == "MeV"
    lit = cells[cells != 0]
    assert lit.size > 0 and lit.min() >= ILD_THRESHOLD_MEV
    assert (cells > 0).any(axis=(1, 2, 3)).all()
    features = compute(ds, ["dctr_features_33"]).dctr_features_33.values
    assert features.shape == (200, 33) and np.isfinite(features).all()


ZMUMU = "zmumu_gan17_compact"
MUON_MASS_GEV = 0.1056583755  # PDG
REFERENCE_M_LL_60_120 = (89.55, 6.73)
"""Mean and RMS (GeV) of M_ll inside 60-120 GeV in the training reference of quality_zmumu (40 000 Pythia 8
events of specs/datasets/zmumu.yaml, seed 2; measured with the m_ll observable when the model was shipped)."""


@pytest.mark.usefixtures("torch_one_thread")
def test_the_shipped_zmumu_generator_makes_on_shell_muons_and_its_recorded_m_ll_peak(tmp_path):
    """The shipped Z→μμ GAN computes the muon energies from its momenta (E = sqrt(p² + m_μ²), as the
    reference stores them), and M_ll of 4000 generated events in 60-120 GeV stays within the recorded shifts
    of the reference's mean and RMS plus 0.8 GeV (about 5 standard errors of the mean at this size)."""
    figures = {f["label"]: f["value"] for f in shipped_models()[ZMUMU]["quality"]["figures"] if "value" in f}
    ds = open_store(generate(ZMUMU, 4000, tmp_path / "z.zarr", seed=11, progress=False))
    p1 = np.hypot(ds.mu1_px.values.astype(float), ds.mu1_pz.values.astype(float))
    p2 = np.sqrt(ds.mu2_px.values.astype(float) ** 2 + ds.mu2_py.values.astype(float) ** 2
                 + ds.mu2_pz.values.astype(float) ** 2)
    np.testing.assert_allclose(ds.mu1_e.values, np.sqrt(p1**2 + MUON_MASS_GEV**2), rtol=1e-5)
    np.testing.assert_allclose(ds.mu2_e.values, np.sqrt(p2**2 + MUON_MASS_GEV**2), rtol=1e-5)
    m = compute(ds, ["m_ll"])["m_ll"].values
    peak = m[(m >= 60) & (m <= 120)]
    assert peak.size > 0.9 * m.size
    mean, rms = REFERENCE_M_LL_60_120
    assert abs(peak.mean() - mean) < figures["M_ll mean shift, 60-120 GeV"] + 0.8
    assert abs(peak.std() - rms) < figures["M_ll RMS shift, 60-120 GeV"] + 0.8


CONDITIONAL_FLOW = "calogan_conditional_eplus_fm_compact"
LAYER_1_DEPTH_MM = (90.0, 437.0)
"""Front and back of the CaloGAN layer 1 (specs/detectors/calogan_lar3.yaml): a shower tilted by θ at azimuth φ
crosses it displaced by its depth times tan θ (cos φ, sin φ) from the impact point."""


@pytest.mark.usefixtures("torch_one_thread")
def test_the_shipped_conditional_flow_puts_each_shower_where_its_impact_point_and_angles_say(tmp_path):
    """Paper 003's conditions are a place and a direction: the layer-1 energy centroid of a generated positron
    follows the requested impact point one to one (x0, y0 flat in ±50 mm) and moves with the tilt tan θ (cos φ,
    sin φ) by a depth inside layer 1, the displacement of an axis that enters at (x0, y0)."""
    ds = open_store(generate(CONDITIONAL_FLOW, 400, tmp_path / "c.zarr", seed=4, progress=False))
    columns = {k: v for group in event_columns(ds, ["centroid_x", "centroid_y", "x0", "y0", "theta", "phi"]).values()
               for k, v in group.items()}
    tilt = np.tan(columns["theta"])
    for axis, start, direction in (("x", "x0", np.cos(columns["phi"])), ("y", "y0", np.sin(columns["phi"]))):
        design = np.stack([columns[start], tilt * direction, np.ones(400)], axis=1)
        (slope, depth, _), *_ = np.linalg.lstsq(design, columns[f"centroid_{axis}_1"], rcond=None)
        assert 0.9 < slope < 1.1, (axis, slope)
        assert LAYER_1_DEPTH_MM[0] < depth < LAYER_1_DEPTH_MM[1], (axis, depth)


def test_zoo_list_written_to_a_pipe_names_every_shipped_model_in_full():
    """`physgen zoo list > models.txt`: with no terminal and no COLUMNS, rich would squeeze the table into 80 columns
    and cut every name and status to a few letters; the CLI prints it whole."""
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    listing = subprocess.run([sys.executable, "-m", "physgen.cli", "zoo", "list"], capture_output=True, text=True,
                             env=env, check=True).stdout
    for name in SHIPPED:
        assert f" {name} " in listing, name
    assert listing.count("current") + listing.count("changed since") == len(SHIPPED)
