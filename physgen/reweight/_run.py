"""``physgen reweight``: train the classifier, calibrate it, weight every generated event, write back.

The classifier is a model architecture (``dctr_mlp``, ``dctr_cnn3d``: :mod:`physgen.models.classifier`)
trained by the one training loop (:func:`physgen.train.train_classifier`), so the run directory is
a training run directory — ``run.json``, ``checkpoint.pt``, ``metrics.jsonl`` (with the held-out
loss after every epoch) — and a killed run resumes exactly with ``resume=True``. This module adds
what is DCTR's own, every file written atomically: ``classifier.pt`` (the calibrated snapshot the
weights come from, loadable with :func:`physgen.train.load_run`), ``calibration.json`` and
``metrics.json``; the weights become the variable ``name`` of the generated store
(:func:`physgen.store.add_variable`, atomic), with the run's provenance. The run holds the
generated store's writer lock from start to end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from physgen import train
from physgen.errors import SchemaError, SpecError, StoreError, StoreExistsError, check_seed
from physgen.metrics import balanced_nll, fit_temperature, roc_auc
from physgen.models import ClassifierRecipe, DCTROptions, get_architecture
from physgen.progress import event_progress
from physgen.reweight._calibration import weights_from_logits
from physgen.specs import LoadedSpec, ModelSpec, parse_plugin_options
from physgen.store import EXTRA, add_variable, normalise_url, open_store, read_provenance, store_lock
from physgen.train import atomic_save, atomic_write_text

__all__ = ["load_classifier", "load_model_spec", "reweight"]

CLASSIFIER = "classifier.pt"


def load_model_spec(model: str | os.PathLike[str] | LoadedSpec) -> tuple[LoadedSpec, DCTROptions]:
    """A DCTR model spec (path or name, found as ``physgen train`` finds model specs) and its options."""
    loaded = train.load_model_spec(model)
    spec = loaded.spec
    recipe = get_architecture(spec.architecture) if isinstance(spec, ModelSpec) else None
    if recipe is None or not issubclass(recipe, ClassifierRecipe) or not issubclass(recipe.TrainingOptions, DCTROptions):
        got = spec.architecture if isinstance(spec, ModelSpec) else f"a {spec.kind} spec"
        msg = f"{loaded.source}: expected a DCTR model spec (architecture dctr_mlp or dctr_cnn3d), got {got!r}"
        raise SpecError(msg)
    options = parse_plugin_options(recipe.TrainingOptions, spec.training.options, source=loaded.source,
                                   loc=("training", "options"))
    return loaded, options


def load_classifier(run_dir: str | os.PathLike[str]) -> tuple[torch.nn.Module, float, dict[str, Any]]:
    """The calibrated network (eval mode, CPU), its temperature and the run.json of a reweight run."""
    path = Path(run_dir) / CLASSIFIER
    if not path.is_file():
        msg = f"{str(run_dir)!r} is not a reweight run directory (no {CLASSIFIER})"
        raise StoreError(msg)
    run = train.load_run(run_dir, checkpoint=str(path))
    temperature = float(torch.load(path, map_location="cpu", weights_only=False)["temperature"])
    return run.recipe.networks["classifier"].eval(), temperature, run.info


def _check_same_schema(reference: dict[str, Any], generated: dict[str, Any]) -> None:
    ref, gen = reference.get("schema", {}), generated.get("schema", {})
    if ref != gen:
        only = sorted(set(ref) ^ set(gen))
        differ = sorted(n for n in set(ref) & set(gen) if ref[n] != gen[n])
        msg = (f"reference and generated stores have different schemas (variables in one only: {only}; "
               f"differing: {differ}); DCTR compares stores of the same schema")
        raise SchemaError(msg)


def _check_run_dir(run_dir: Path, overwrite: bool, resume: bool) -> None:
    if run_dir.exists() and any(run_dir.iterdir()) and not (overwrite or resume):
        msg = (f"run directory {str(run_dir)!r} exists and is not empty; pass --overwrite to replace its files "
               "or --resume to continue its training")
        raise StoreExistsError(msg)


def _weight_summary(weights: np.ndarray, clip: float) -> dict[str, float]:
    return {"mean": float(weights.mean()), "std": float(weights.std()), "min": float(weights.min()),
            "max": float(weights.max()), "fraction_clipped": float(np.mean(weights >= clip)),
            "effective_fraction": float(weights.sum() ** 2 / (len(weights) * np.sum(weights**2)))}


def _history(run_dir: Path) -> list[dict[str, float]]:
    """The epoch-end lines of the run's metrics.jsonl: epoch, steps, mean training loss, held-out NLL."""
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{"epoch": e["epoch_end"], "steps": e["step"], "train_loss": e.get("loss_epoch_mean"),
             "held_out_nll": e["held_out_nll"]} for e in lines if "epoch_end" in e]


def reweight(
    reference: str | os.PathLike[str],
    generated: str | os.PathLike[str],
    model: str | os.PathLike[str] | LoadedSpec,
    *,
    out: str | os.PathLike[str],
    name: str | None = None,
    seed: int | None = None,
    overwrite: bool = False,
    resume: bool = False,
    device: str | None = None,
    progress: bool = True,
    lock: bool = True,
) -> dict[str, Any]:
    """DCTR-reweight the store ``generated`` towards ``reference``; return the run's metrics.

    Trains the classifier of ``model`` (generated = 0, reference = 1) on a seeded training
    split, fits the temperature T on the held-out split, and writes
    w = min(s·exp(logit/T), clip) with s such that ⟨w⟩ = 1 as variable ``name`` (default: the
    spec's ``training.options.weight_name``) into ``generated``. ``overwrite`` replaces an existing
    weight variable of that name and the files of ``out``; ``resume`` continues the training of an
    interrupted run in ``out`` (exactly as an uninterrupted run) and then calibrates and writes.
    ``lock=False`` skips the writer lock of ``generated`` (``--no-lock``). A weighted store (biased
    generation) is read with its event weights in training and calibration: the DCTR weight then
    reweights the physical distribution it stands for (for a weighted ``generated`` store the DCTR
    weight multiplies its own event weight).
    """
    if seed is not None:
        check_seed(seed)
    with store_lock(normalise_url(generated), enabled=lock):
        return _reweight(reference, generated, model, out=out, name=name, seed=seed, overwrite=overwrite,
                         resume=resume, device=device, progress=progress, lock=lock)


def _reweight(reference, generated, model, *, out, name, seed, overwrite, resume, device, progress,
              lock) -> dict[str, Any]:
    loaded, options = load_model_spec(model)
    name = name or options.weight_name
    reference, generated = normalise_url(reference), normalise_url(generated)
    if not name.isidentifier():
        msg = f"weight variable name must be a Python identifier (letters, digits, _), got {name!r}"
        raise StoreError(msg)
    if name in read_provenance(generated).get(EXTRA, {}) and not overwrite:
        msg = f"store {generated!r} already has the variable {name!r}; pass --name for a second weight or --overwrite"
        raise StoreError(msg)
    run_dir = Path(out)
    _check_run_dir(run_dir, overwrite, resume)
    _check_same_schema(open_store(reference).physgen.provenance, open_store(generated).physgen.provenance)

    result = train.train_classifier(loaded, reference, generated, run_dir, seed=seed, resume=resume,
                              overwrite=overwrite, device=device, progress=progress)
    data, recipe, spec = result.data, result.recipe, result.recipe.spec
    # after the training bar (steps), one bar over the events read: both stores for the held-out
    # calibration, then the generated store again for its weights
    events = {k: s.n_events for k, s in data.sources.items()}
    with event_progress("DCTR calibrate and weigh", total=sum(events.values()) + events["generated"],
                        enabled=progress) as advance:
        logits, labels, held_out_weights = data.held_out_logits(recipe, advance)
        temperature = fit_temperature(logits, labels, held_out_weights)
        generated_logits = data.logits(recipe, "generated", advance=advance)
    calibration = {"temperature": temperature,
                   "held_out_events": {k: int(m.sum()) for k, m in data.held_out.items()},
                   "event_weights": {k: w is not None for k, w in data.event_weights.items()},
                   "auc_before_calibration": roc_auc(labels, logits, held_out_weights),
                   "auc_after_calibration": roc_auc(labels, logits / temperature, held_out_weights),
                   "nll_before_calibration": balanced_nll(logits, labels, weights=held_out_weights),
                   "nll_after_calibration": balanced_nll(logits, labels, temperature, held_out_weights)}
    weights = weights_from_logits(generated_logits, temperature, options.clip)

    snapshot = {"networks": recipe.networks.state_dict(), "optimizers": {}, "extra": recipe.extra_state()}
    atomic_save({"recipe": snapshot, "step": result.step, "temperature": temperature}, run_dir / CLASSIFIER)
    atomic_write_text(run_dir / "calibration.json", json.dumps(calibration, indent=2))
    device_name = str(next(recipe.networks.parameters()).device)
    metrics = {"model": {"name": spec.name, "hash": loaded.hash, "architecture": spec.architecture},
               "reference": reference, "generated": generated, "variable": name, "seed": spec.training.seed,
               "clip": options.clip, "device": device_name, "block_events": data.block, "steps": result.step,
               "events": {k: s.n_events for k, s in data.sources.items()}, "history": _history(run_dir),
               **calibration, "weights": _weight_summary(weights, options.clip)}
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2))

    provenance = {"method": "dctr", "run_dir": str(run_dir.resolve()), "model": metrics["model"],
                  "reference": reference, "temperature": temperature, "clip": options.clip,
                  "seed": spec.training.seed, "auc_before_calibration": calibration["auc_before_calibration"],
                  "auc_after_calibration": calibration["auc_after_calibration"]}
    add_variable(generated, name, weights, attrs={"units": "dimensionless", "long_name": f"DCTR weight ({spec.name})"},
                 provenance=provenance, overwrite=overwrite, lock=lock)
    return metrics
