"""Small stores for the training tests: the toys through the real simulator, and a synthetic
store with the zmumu17 schema (plausible Z→μμ kinematics; the Pythia simulator lives elsewhere), and
a synthetic store with the jets_wprime_qcd schema (Pythia is too slow for unit tests)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from physgen.sim import Simulator, register_simulator, simulate
from physgen.store import create_store, resolve_dataset

M_Z, GAMMA_Z = 91.19, 2.5

ZMUMU_DATASET = """kind: dataset
name: zmumu_synthetic
description: Synthetic Z->mumu events with the zmumu17 schema for tests (not physics-grade).
simulator: {name: zmumu_synthetic}
features: zmumu17
events: 4096
seed: 3
chunk_events: 1024
"""


def toy_store(tmp: Path, name: str, events: int) -> str:
    return simulate(name, tmp / f"{name}.zarr", events=events, progress=False)


def _zmumu_events(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    mass = np.clip(M_Z + GAMMA_Z / 2 * rng.standard_cauchy(n), 60, 120) * rng.normal(1, 0.02, n)
    pt_z, y_z, phi_z = rng.exponential(10.0, n), rng.normal(0, 1.5, n), rng.uniform(-np.pi, np.pi, n)
    mt_z = np.hypot(mass, pt_z)
    z = np.stack([mt_z * np.cosh(y_z), pt_z * np.cos(phi_z), pt_z * np.sin(phi_z), mt_z * np.sinh(y_z)], axis=1)
    cos_t, phi = rng.uniform(-1, 1, n), rng.uniform(-np.pi, np.pi, n)
    sin_t = np.sqrt(1 - cos_t**2)
    p = mass / 2  # muon mass neglected
    rest = np.stack([np.full(n, p), p * sin_t * np.cos(phi), p * sin_t * np.sin(phi), p * cos_t], axis=1)
    beta = z[:, 1:] / z[:, :1]
    gamma = z[:, 0] / mass
    b2 = np.maximum((beta**2).sum(axis=1), 1e-12)

    def boost(v):  # E' = γ(E + β·p), p' = p + ((γ − 1) β·p / β² + γ E) β
        bp = (beta * v[:, 1:]).sum(axis=1)
        p_new = v[:, 1:] + (((gamma - 1) * bp / b2 + gamma * v[:, 0]))[:, None] * beta
        return np.concatenate([(gamma * (v[:, 0] + bp))[:, None], p_new], axis=1)

    m1 = boost(rest)
    m2 = boost(rest * np.array([1, -1, -1, -1]))
    lead = np.hypot(m1[:, 1], m1[:, 2]) >= np.hypot(m2[:, 1], m2[:, 2])
    mu1, mu2 = np.where(lead[:, None], m1, m2), np.where(lead[:, None], m2, m1)
    angle = -np.arctan2(mu1[:, 2], mu1[:, 1])
    c, s = np.cos(angle), np.sin(angle)

    def rotate(v):
        return v[:, 1] * c - v[:, 2] * s, v[:, 1] * s + v[:, 2] * c

    mu1_px, _ = rotate(mu1)
    mu2_px, mu2_py = rotate(mu2)
    jets = np.sort(np.where(rng.uniform(size=(n, 5)) < 0.3, 20 + rng.exponential(25, (n, 5)), 0.0), axis=1)[:, ::-1]
    out = {"mu1_px": mu1_px, "mu1_pz": mu1[:, 3], "mu1_e": mu1[:, 0], "mu2_px": mu2_px, "mu2_py": mu2_py,
           "mu2_pz": mu2[:, 3], "mu2_e": mu2[:, 0],
           "nvtx_smeared": rng.poisson(20, n) + rng.normal(0, 0.5, n),
           "met_px": rng.normal(0, 10, n), "met_py": rng.normal(0, 10, n),
           "mu1_iso": rng.exponential(0.05, n), "mu2_iso": rng.exponential(0.05, n)}
    out |= {f"jet{i + 1}_pt": jets[:, i] for i in range(5)}
    return {k: v.astype(np.float32) for k, v in out.items()}


@register_simulator
class ZmumuSynthetic(Simulator):
    """The synthetic Z→μμ events below as a simulator plug-in (so its dataset spec validates)."""

    name = "zmumu_synthetic"

    def simulate(self, n_events, seed):
        return _zmumu_events(np.random.default_rng(seed), n_events)


def zmumu_store(tmp: Path, events: int = 4096, seed: int = 3) -> str:
    """A store with the zmumu17 schema and provenance, filled with synthetic Z→μμ events."""
    spec = tmp / "datasets" / "zmumu_synthetic.yaml"
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(ZMUMU_DATASET)
    dataset = resolve_dataset(str(spec))
    writer = create_store(str(tmp / "zmumu.zarr"), dataset.schema, chunk_events=dataset.chunk_events,
                          provenance={"specs": dataset.spec_texts(), "producer": {"name": "zmumu_synthetic"},
                                      "seed": seed})
    rng = np.random.default_rng(seed)
    for start in range(0, events, dataset.chunk_events):
        writer.append(_zmumu_events(rng, min(dataset.chunk_events, events - start)))
    return writer.url


def jet_image_store(tmp: Path, events: int = 96, seed: int = 5, weights: np.ndarray | None = None) -> str:
    """A store of the jets_wprime_qcd schema with synthetic images: one (QCD) or two (W) prongs of
    p_T around the centre pixel (Pythia is too slow for a unit test); features plausible, not physics.
    Odd events are W (``signal = index % 2``); ``weights``: their event weights (default 1)."""
    dataset = resolve_dataset("jets_wprime_qcd")
    rng = np.random.default_rng(seed)
    signal = np.arange(events) % 2
    image = np.zeros((events, 25, 25), np.float32)
    image[:, 12, 12] = rng.uniform(100, 200, events)
    image[signal == 1, 12, 15] = rng.uniform(50, 100, int(signal.sum()))
    image += rng.exponential(0.5, image.shape).astype(np.float32) * (rng.uniform(size=image.shape) < 0.05)
    columns = {"signal": signal.astype(np.int8), "jet_pt": rng.uniform(250, 300, events),
               "jet_eta": rng.uniform(-2, 2, events), "jet_phi": rng.uniform(-np.pi, np.pi, events),
               "jet_mass": np.where(signal == 1, rng.normal(80, 8, events), rng.exponential(40, events)),
               "tau_1": rng.uniform(0.1, 0.3, events), "tau_2": rng.uniform(0.02, 0.2, events),
               "n_constituents": rng.integers(10, 60, events).astype(np.int32),
               "weight": np.ones(events) if weights is None else weights}
    columns["tau_21"] = np.clip(columns["tau_2"] / columns["tau_1"], 0, 1)
    writer = create_store(str(tmp / "jets.zarr"), dataset.schema, chunk_events=32,
                          provenance={"specs": dataset.spec_texts(), "producer": {"name": "synthetic jets"},
                                      "seed": seed})
    batch = {"image": image} | {k: np.asarray(v).astype(dataset.schema[k].dtype) for k, v in columns.items()}
    for start in range(0, events, 32):
        writer.append({k: v[start:start + 32] for k, v in batch.items()})
    return writer.url


def model_spec(tmp: Path, base: str, *, name: str | None = None, training: dict | None = None,
               data: dict | None = None, hyperparameters: dict | None = None) -> Path:
    """A copy of the shipped model spec ``base`` with ``training``/``data``/``hyperparameters`` keys
    overridden, in ``tmp/models``."""
    import yaml

    from physgen.specs import SpecRegistry

    loaded = SpecRegistry.default().get("model", base)
    spec = yaml.safe_load(loaded.text)
    spec["name"] = name or f"{base}_test"
    spec["training"] |= training or {}
    spec["data"] |= data or {}
    spec["hyperparameters"] = spec.get("hyperparameters", {}) | (hyperparameters or {})
    path = tmp / "models" / f"{spec['name']}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def cli_train_and_export(spec: Path, data: str, tmp: Path, steps: int) -> tuple[Path, Path]:
    """``physgen train`` of ``spec`` on ``data`` for ``steps`` steps on the CPU, then the pipeline's export step:
    the run directory and the exported checkpoint (asserts the CLI succeeded)."""
    from typer.testing import CliRunner

    from physgen.cli import app
    from physgen.zoo import export_checkpoint

    run = tmp / f"{spec.stem}.run"
    result = CliRunner().invoke(app, ["train", str(spec), "--data", data, "--out", str(run), "--steps", str(steps),
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return run, Path(export_checkpoint(run, tmp / f"{spec.stem}.pt", checkpoint="last"))


def calibrated_flow(tmp: Path, base: str, data: str, hyperparameters: dict, scored_on: str, steps: int):
    """A cut-down copy of the shipped flow spec ``base`` trained ``steps`` steps on ``data`` with batches of 16 and a
    snapshot scored after every epoch (the ``mean_shift`` of the observable ``scored_on`` on 6 showers), so that its
    occupancy calibration is fitted then; the selected snapshot, loaded (:class:`physgen.train.LoadedRun`)."""
    from physgen.train import load_run, train

    spec = model_spec(tmp, base, hyperparameters=hyperparameters,
                      training={"batch_size": 16, "checkpoint_every": 10,
                                "selection": {"metric": "mean_shift", "every": 1, "n_events": 6, "keep": 1,
                                              "options": {"names": [scored_on]}}})
    train(spec, data, tmp / "run", steps=steps, device="cpu", progress=False)
    return load_run(tmp / "run")

