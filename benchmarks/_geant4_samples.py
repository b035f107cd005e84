"""Geant4 reference samples for the shower fidelity benchmark and the tuning script.

A reference is a shipped validation sample (by name), a physgen store (``physgen simulate`` with the ``geant4`` simulator: the shipped
validation samples) or an ``.npz`` written by the measured prototype of ``GEANT4.md``
(``layer_0..2`` + ``energy`` for CaloGAN, ``cells`` + ``energy`` for the Si–W ECAL, and the CPU
seconds per shower in ``cpu``). Either way the result is the shower-shape columns of
:mod:`physgen.sim.showers._fidelity` and the incident energies (GeV) to simulate the parametric
showers at, so both samples see the same energies.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from physgen.sim import build_simulator
from physgen.sim.showers._fidelity import batch_dataset, shower_columns
from physgen.store import open_store, resolve_dataset

ROOT = Path(__file__).resolve().parents[1]

PARAMETRIC_SPECS = {"e+": "calogan_eplus", "gamma": "calogan_gamma", "pi+": "calogan_piplus",
                    "ild_gamma": "ild_photons_50gev"}
"""The parametric dataset spec that each reference sample is compared with."""


@dataclass(frozen=True)
class Reference:
    name: str  # e+, gamma, pi+, ild_gamma
    path: str
    columns: dict[str, np.ndarray]
    energy_gev: np.ndarray
    cpu_s_per_shower: float | None  # Geant4 CPU seconds per shower, when the sample recorded them


def parametric_simulator(name: str):
    return build_simulator(resolve_dataset(str(ROOT / "specs" / "datasets" / f"{PARAMETRIC_SPECS[name]}.yaml")))


def load_reference(name: str, path: str | Path) -> Reference:
    """The shower-shape columns and incident energies of a Geant4 sample: a store URL, a prototype
    ``.npz``, or the name of a shipped validation sample (``geant4_calogan_eplus``)."""
    path = str(path)
    if path.startswith("geant4_") and not Path(path).exists():
        from physgen.sim.geant4 import validation_sample

        path = validation_sample(path)
    sim = parametric_simulator(name)
    incident = sim.options.energy_condition
    if path.endswith(".npz"):
        with np.load(path) as z:
            energy, cpu = z["energy"].astype(np.float64), z["cpu"] if "cpu" in z else None
            if "cells" in z:  # Si-W ECAL: Si deposits; apply the detector's threshold as its store would
                cells = sim.readout.geometry.apply_threshold(z["cells"].astype(np.float32))
                batch = {sim.dataset.detector_spec.geometry.variable: cells}
            else:
                batch = {k: z[k].astype(np.float32) for k in ("layer_0", "layer_1", "layer_2")}
        batch[incident] = energy.astype(np.float32)
        ds = batch_dataset(sim.dataset, batch)
        cpu_per = float(np.mean(cpu)) if cpu is not None else None
    else:
        ds = open_store(path).load()
        energy = ds[incident].values.astype(np.float64)
        cpu_per = ds.attrs.get("physgen", {}).get("producer", {}).get("cpu_s_per_shower")
    return Reference(name, path, shower_columns(ds), energy, cpu_per)
