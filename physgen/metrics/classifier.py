"""Classifier two-sample tests: how well can a classifier tell generated events from reference ones?

Two conventions, each with its own names in the metric registry (one meaning per name):

**physgen's default (fast)** — :func:`classifier_test`; metrics ``c2st_auc`` (the ROC AUC: 0.5 for
indistinguishable samples, 1 for separable ones; snapshot selection scores |AUC − ½|) and ``c2st_jsd``. The classifier is the ``dctr_mlp``
architecture (inputs standardised inside, hidden 64-64, class-balanced BCE, Adam 1e-3, batch 256)
trained by the one training loop (:func:`physgen.train.train_classifier`) on 60 % of a balanced
sample (the larger one subsampled), temperature-scaled on 20 % (:func:`~physgen.metrics.fit_temperature`)
and scored on the other 20 %; JSD = 1 − BCE/ln 2 (bits) of the calibrated test predictions,
clipped at 0.

**The Fast Calorimeter Simulation Challenge 2022** (Krause et al., arXiv:2410.21611 §4; the
challenge's ``code/evaluate.py``, ``--mode cls-low`` and ``cls-high``) — :func:`challenge_classifier_test`;
metrics ``classifier_auc_challenge_lowlevel`` / ``_highlevel`` and ``classifier_jsd_challenge_lowlevel``
/ ``_highlevel``. Its DNN (``calochallenge_dnn``: 3 × 2048, leaky ReLU, no input standardisation,
plain BCE), its inputs (:func:`challenge_lowlevel_inputs`: log10 E_inc and the voxel energies divided by
E_inc; :func:`challenge_highlevel_inputs`: log10 E_inc, log10(E + 10⁻⁸) of energies, positions and
widths in mm / 100, dimensionless features as they are), its 60/20/20 train/test/validation split of
equal-size samples, Adam 2·10⁻⁴, batch 1000, 50 epochs, the epoch of best *test* accuracy, isotonic
calibration fitted on the test split (:func:`~physgen.metrics.calibration.isotonic_calibration`), and
the AUC and JSD = (ln 2 − BCE)/ln 2 of the calibrated validation predictions — not clipped, so a JSD
slightly below 0 is possible, as in the challenge's tables.
"""

from __future__ import annotations

import contextlib
import random
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import scipy.special
import torch
import xarray as xr
import yaml

from physgen.errors import PhysgenError, SchemaError
from physgen.metrics._samples import as_weights
from physgen.metrics.calibration import balanced_nll, fit_temperature, isotonic_calibration, roc_auc
from physgen.observables import compute, default_observables, observable_names
from physgen.units import ureg

__all__ = [
    "CHALLENGE_HIGHLEVEL", "CHALLENGE_SPLIT", "ClassifierTest", "challenge_classifier_test", "challenge_highlevel_inputs",
    "challenge_lowlevel_inputs", "challenge_scores", "classifier_test",
]

CHALLENGE_SPLIT = (0.6, 0.2, 0.2)
"""Train / test (best epoch, calibration) / validation (the reported numbers) shares of each sample."""

CHALLENGE_HIGHLEVEL = ("layer_energy", "centroid_eta", "centroid_phi", "width_eta", "width_phi", "total_energy",
                       "sparsity_calochallenge", "centroid_r", "width_r")
"""The high-level features of ``prepare_high_data_for_classifier``, in its order (after log10 E_inc):
E per layer, centres and widths in η and φ of the α-binned layers, E_tot, sparsity, centre and width in r."""


@dataclass(frozen=True)
class ClassifierTest:
    """The outcome of a classifier two-sample test, on its held-out evaluation events."""

    auc: float
    """ROC AUC after calibration (temperature scaling leaves it unchanged; isotonic steps may tie events)."""
    jsd: float
    """1 − BCE/ln 2 of the calibrated predictions (bits): 0 indistinguishable, 1 separable."""
    convention: Literal["physgen", "calochallenge"]
    calibration: dict[str, Any]
    best_epoch: int | None
    n_test: int


def _equal_split(reference: np.ndarray, generated: np.ndarray, fractions: Sequence[float], seed: int,
                 minimum: int, weights: tuple[np.ndarray | None, np.ndarray | None] = (None, None)
                 ) -> list[tuple[np.ndarray, ...]]:
    """Both samples subsampled to the same size, shuffled and cut into ``fractions`` (seeded); each part is
    (reference, generated), or (reference, generated, reference weights, generated weights) when either
    sample is weighted (the unweighted one then has unit weights)."""
    ref, gen = (np.asarray(s, dtype=np.float32).reshape(len(s), -1) for s in (reference, generated))
    if ref.shape[1] != gen.shape[1]:
        msg = f"reference and generated feature vectors differ in length: {ref.shape[1]} vs {gen.shape[1]}"
        raise PhysgenError(msg)
    n = min(len(ref), len(gen))
    if n < minimum:
        msg = f"the classifier test needs at least {minimum} events per sample, got {n}"
        raise PhysgenError(msg)
    for name, x in (("reference", ref), ("generated", gen)):
        if not np.all(np.isfinite(x)):
            msg = f"the {name} inputs of the classifier test hold NaN or inf"
            raise PhysgenError(msg)
    rng = np.random.default_rng(seed)
    pick_ref, pick_gen = rng.permutation(len(ref))[:n], rng.permutation(len(gen))[:n]
    arrays = [ref[pick_ref], gen[pick_gen]]
    if any(w is not None for w in weights):
        arrays += [as_weights(w, np.zeros(len(x)), f"the {name} event weights")[pick]
                   for w, x, pick, name in zip(weights, (ref, gen), (pick_ref, pick_gen), ("reference", "generated"))]
    cuts = (np.cumsum(fractions)[:-1] * n).astype(int)
    return list(zip(*(np.split(a, cuts) for a in arrays), strict=True))


def _spec(architecture: str, hyperparameters: dict, *, epochs: int, batch_size: int, lr: float, seed: int,
          options: dict) -> Any:
    from physgen.specs import LoadedSpec, parse_spec

    data = {"kind": "model", "name": f"two_sample_test_{architecture}", "architecture": architecture,
            "hyperparameters": hyperparameters, "data": {"inputs": ["features"]},
            "training": {"batch_size": batch_size, "epochs": epochs, "optimizer": {"name": "adam", "lr": lr},
                         "seed": seed, "checkpoint_every": 10**9, "options": options}}
    return LoadedSpec(parse_spec(data, source="classifier test"), yaml.safe_dump(data), "classifier test")


@contextlib.contextmanager
def _own_random_state():
    """The training seeds the global torch, numpy and Python generators: give the caller its own back
    (a metric may run inside a training run, whose exact resume depends on them)."""
    numpy_state, python_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=list(range(torch.cuda.device_count()))):
        yield
    np.random.set_state(numpy_state)
    random.setstate(python_state)


def _train(spec, parts: list[tuple[np.ndarray, ...]], device: str | None):
    """Train on ``parts[0]`` with ``parts[1]`` held out (validation per epoch), in this process alone."""
    from physgen.train import train_classifier

    keys = ("reference", "generated")
    train, held = parts[0], parts[1]
    datasets = {k: xr.Dataset({"features": (("event", "feature"), np.concatenate([train[i], held[i]]))})
                for i, k in enumerate(keys)}
    held_out = {k: np.arange(len(train[i]) + len(held[i])) >= len(train[i]) for i, k in enumerate(keys)}
    weights = ({k: np.concatenate([train[i + 2], held[i + 2]]) for i, k in enumerate(keys)} if len(train) == 4
               else None)
    with tempfile.TemporaryDirectory(prefix="physgen-c2st-") as run_dir, _own_random_state():
        result = train_classifier(spec, datasets["reference"], datasets["generated"], run_dir, held_out=held_out,
                                  weights=weights, device=device, distributed=False, progress=False)
    return result


@torch.no_grad()
def _logits(recipe, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    network = recipe.networks["classifier"].eval()
    device = next(network.parameters()).device
    out = [network(torch.as_tensor(x[i:i + batch_size], device=device)).double().cpu().numpy()
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out)


def _labelled(recipe, part: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Logits, labels (1 reference, 0 generated) and event weights (None if unweighted) of a split part."""
    ref, gen = part[:2]
    weights = np.concatenate(part[2:]) if len(part) == 4 else None
    return (np.concatenate([_logits(recipe, ref), _logits(recipe, gen)]), np.r_[np.ones(len(ref)), np.zeros(len(gen))],
            weights)


def classifier_test(reference: np.ndarray, generated: np.ndarray, *, hidden: Sequence[int] = (64, 64),
                    epochs: int = 30, batch_size: int = 256, lr: float = 1e-3, seed: int = 0,
                    device: str | None = None, reference_weights: np.ndarray | None = None,
                    generated_weights: np.ndarray | None = None) -> ClassifierTest:
    """physgen's fast classifier two-sample test on per-event feature vectors (see the module docstring).

    With event weights (a biased sample, e.g. pT-hat-weighted QCD jets) the classifier trains on the
    weighted, class-balanced BCE, and the temperature, JSD and AUC (each pair counted wᵢ·wⱼ) are weighted
    too: the test compares the physical distributions the samples stand for, not the biased ones.
    """
    parts = _equal_split(reference, generated, (0.6, 0.2, 0.2), seed, minimum=20,
                         weights=(reference_weights, generated_weights))
    spec = _spec("dctr_mlp", {"hidden": list(hidden), "activation": "relu"}, epochs=epochs, batch_size=batch_size,
                 lr=lr, seed=seed, options={"threads": 1, "device": device or "auto", "block_events": 10**9})
    recipe = _train(spec, parts, device).recipe
    cal_logits, cal_labels, cal_weights = _labelled(recipe, parts[1])
    temperature = fit_temperature(cal_logits, cal_labels, cal_weights)
    logits, labels, weights = _labelled(recipe, parts[2])
    jsd = max(0.0, 1.0 - balanced_nll(logits, labels, temperature, weights) / np.log(2))
    return ClassifierTest(auc=roc_auc(labels, logits, weights), jsd=float(jsd), convention="physgen",
                          calibration={"method": "temperature", "temperature": temperature}, best_epoch=None,
                          n_test=len(labels))


def challenge_classifier_test(reference: np.ndarray, generated: np.ndarray, *, epochs: int = 50,
                              batch_size: int = 1000, lr: float = 2e-4, n_layer: int = 2, n_hidden: int = 2048,
                              dropout: float = 0.0, seed: int = 0, device: str | None = None) -> ClassifierTest:
    """The Fast Calorimeter Simulation Challenge's classifier test on prepared inputs (rows: events; see
    :func:`challenge_lowlevel_inputs` and :func:`challenge_highlevel_inputs`)."""
    parts = _equal_split(reference, generated, CHALLENGE_SPLIT, seed, minimum=10)
    spec = _spec("calochallenge_dnn", {"n_layer": n_layer, "n_hidden": n_hidden, "dropout": dropout}, epochs=epochs,
                 batch_size=batch_size, lr=lr, seed=seed,
                 options={"device": device or "auto", "best_epoch": "held_out_accuracy", "block_events": 10**9})
    result = _train(spec, parts, device)
    auc, jsd = challenge_scores(*_labelled(result.recipe, parts[1])[:2], *_labelled(result.recipe, parts[2])[:2])
    return ClassifierTest(auc=auc, jsd=jsd, convention="calochallenge",
                          calibration={"method": "isotonic", "fitted_on": len(parts[1][0]) + len(parts[1][1])},
                          best_epoch=result.best[0]["epoch"] if result.best else None,
                          n_test=len(parts[2][0]) + len(parts[2][1]))


def challenge_scores(calibration_logits: np.ndarray, calibration_labels: np.ndarray, logits: np.ndarray,
                     labels: np.ndarray) -> tuple[float, float]:
    """The challenge's final evaluation (``evaluate_cls(final_eval=True)``): an isotonic map of the sigmoid
    outputs fitted on the calibration events, then the ROC AUC and JSD = (ln 2 − BCE)/ln 2 of the
    calibrated probabilities of the evaluation events (BCE: the plain mean over events)."""
    calibrate = isotonic_calibration(scipy.special.expit(calibration_logits), calibration_labels)
    p = calibrate(scipy.special.expit(logits))
    bce = float(-np.mean(labels * np.log(p) + (1 - labels) * np.log1p(-p)))
    return roc_auc(labels, p), (np.log(2) - bce) / np.log(2)


# ---------------------------------------------------------------- the challenge's inputs from stores
_INCIDENT = ("incident_energy", "energy")


def conversion_factor(from_units: str, to_units: str) -> float:
    return float(ureg.Quantity(1.0, from_units or "dimensionless").to(to_units).magnitude)


def _incident_mev(ds: xr.Dataset) -> np.ndarray:
    for name in _INCIDENT:
        if name in ds.data_vars and ds[name].ndim == 1:
            return np.asarray(ds[name].values, dtype=np.float64) * conversion_factor(ds[name].attrs.get("units", ""),
                                                                                       "MeV")
    msg = (f"the challenge's classifier inputs need the incident energy, one of {list(_INCIDENT)}; "
           f"the store has {sorted(ds.data_vars)}")
    raise SchemaError(msg)


def challenge_lowlevel_inputs(ds: xr.Dataset, *, threshold_mev: float = 0.0) -> np.ndarray:
    """``[log10(E_inc / MeV), cells / E_inc]`` per event (``prepare_low_data_for_classifier`` with
    ``normed=False``): every cell of the detector's variables, cells below ``threshold_mev`` set to 0."""
    geometry = ds.physgen.geometry
    if geometry is None:
        msg = "the low-level classifier reads the detector cells; this store has no detector"
        raise SchemaError(msg)
    incident = _incident_mev(ds)
    cells = []
    for variable in geometry.variables:
        values = np.asarray(ds[variable.name].values, dtype=np.float64).reshape(len(incident), -1)
        values = values * conversion_factor(ds[variable.name].attrs.get("units", ""), "MeV")
        cells.append(np.where(values < threshold_mev, 0.0, values))
    return np.concatenate([np.log10(incident)[:, None], np.concatenate(cells, axis=1) / incident[:, None]], axis=1)


def _challenge_column(values: np.ndarray, units: str) -> np.ndarray:
    """The challenge's scaling of one high-level feature, by its units: energies → log10(E/MeV + 10⁻⁸),
    lengths → mm / 100, anything else (sparsity, ratios) as it is."""
    dimensionality = ureg.Quantity(1.0, units or "dimensionless").dimensionality
    if dimensionality == ureg.MeV.dimensionality:
        return np.log10(values * conversion_factor(units, "MeV") + 1e-8)
    if dimensionality == ureg.mm.dimensionality:
        return values * conversion_factor(units, "mm") / 1e2
    return values


def challenge_highlevel_inputs(ds: xr.Dataset, names: Sequence[str] | None = None) -> np.ndarray:
    """``[log10(E_inc / MeV), features…]`` per event with the challenge's per-feature scaling
    (``prepare_high_data_for_classifier``): ``names`` are observables or variables (default: the
    challenge's :data:`CHALLENGE_HIGHLEVEL` where a store provides them all, e.g. CaloChallenge stores,
    else its default observables), each scaled by its units (:func:`_challenge_column`)."""
    incident = _incident_mev(ds)
    if names is None:
        names = CHALLENGE_HIGHLEVEL if set(CHALLENGE_HIGHLEVEL) <= set(observable_names(ds)) else default_observables(ds)
    names = [n for n in names if n not in _INCIDENT]
    stored = [n for n in names if n in ds.data_vars]
    arrays = dict(compute(ds, [n for n in names if n not in stored]).data_vars) | {n: ds[n] for n in stored}
    if not arrays:
        msg = "the high-level classifier needs features: give names= or a store with default observables"
        raise SchemaError(msg)
    columns = [np.log10(incident)[:, None]]
    for name in names:
        array = arrays[name]
        values = np.asarray(array.values, dtype=np.float64).reshape(len(incident), -1)
        columns.append(_challenge_column(values, array.attrs.get("units", "")))
    return np.concatenate(columns, axis=1)
