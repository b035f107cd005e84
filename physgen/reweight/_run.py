"""``physgen reweight``: train, calibrate, weight every generated event, write the weights back.

The run directory holds ``classifier.pt`` (network, inputs and temperature), ``model.yaml`` (the
spec text), ``calibration.json`` and ``metrics.json``; the weights become the variable ``name``
of the generated store (:func:`physgen.store.add_variable`, atomic), with the run's provenance.
Every run file is written atomically (a temporary file renamed into place). The run holds the
generated store's writer lock from start to end; a killed run is redone with ``--overwrite``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from physgen.errors import SchemaError, SpecError, StoreError, StoreExistsError, check_seed
from physgen.reweight._calibration import auc, balanced_nll, clip_and_normalise, fit_temperature
from physgen.reweight._classifier import (
    held_out_logits,
    held_out_mask,
    predict_logits,
    select_device,
    train_classifier,
)
from physgen.reweight._inputs import EventSource, check_compatible
from physgen.reweight._networks import ARCHITECTURES, build_network
from physgen.specs import LoadedSpec, ModelSpec, SpecRegistry
from physgen.store import EXTRA, add_variable, normalise_url, open_store, read_provenance, store_lock
from physgen.train._run import atomic_save, atomic_write_text

__all__ = ["DCTROptions", "load_classifier", "load_model_spec", "reweight"]

LOGIT_LIMIT = 50.0
"""|logit/T| is capped here before exp (e^50 ≈ 5e21) so that weights stay finite before clipping."""


class DCTROptions(BaseModel):
    """DCTR-specific keys of ``training.options`` in a model spec."""

    model_config = ConfigDict(extra="forbid")
    clip: float = Field(5.0, ge=1, description="largest weight after normalisation (paper 004: 5)")
    weight_name: str = Field("dctr_weight", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                             description="default name of the weight variable")
    flip_dims: list[str] = Field(default_factory=list, description="cell dims flipped at random in training")
    block_events: PositiveInt | None = Field(None, description="events read per block (default: store chunks)")
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    cache_mb: PositiveInt = Field(512, description="inputs smaller than this are kept in memory")


def load_model_spec(model: str | os.PathLike[str] | LoadedSpec) -> tuple[LoadedSpec, DCTROptions]:
    """A DCTR model spec (path or name) and its validated options."""
    loaded = model if isinstance(model, LoadedSpec) else SpecRegistry.default(near=Path.cwd()).resolve(
        os.fspath(model), kind="model")
    spec = loaded.spec
    if not isinstance(spec, ModelSpec) or spec.architecture not in ARCHITECTURES:
        got = spec.architecture if isinstance(spec, ModelSpec) else f"a {spec.kind} spec"
        msg = f"{loaded.source}: expected a DCTR model spec (architecture {sorted(ARCHITECTURES)}), got {got!r}"
        raise SpecError(msg)
    try:
        options = DCTROptions.model_validate(spec.training.options)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
        msg = f"{loaded.source}: training.options: {problems}"
        raise SpecError(msg) from None
    if spec.training.validation_fraction <= 0:
        msg = f"{loaded.source}: training.validation_fraction must be > 0 (held-out events calibrate the weights)"
        raise SpecError(msg)
    return loaded, options


def load_classifier(run_dir: str | os.PathLike[str]) -> tuple[torch.nn.Module, float, dict[str, Any]]:
    """The trained network (eval mode, CPU), its temperature and the checkpoint record of a reweight run."""
    path = Path(run_dir) / "classifier.pt"
    if not path.is_file():
        msg = f"{str(run_dir)!r} is not a reweight run directory (no classifier.pt)"
        raise StoreError(msg)
    record = torch.load(path, map_location="cpu", weights_only=True)
    network = build_network(record["architecture"], record["hyperparameters"], tuple(record["input_shape"]))
    network.load_state_dict(record["state_dict"])
    return network.eval(), float(record["temperature"]), record


def _check_same_schema(reference: dict[str, Any], generated: dict[str, Any]) -> None:
    ref, gen = reference.get("schema", {}), generated.get("schema", {})
    if ref != gen:
        only = sorted(set(ref) ^ set(gen))
        differ = sorted(n for n in set(ref) & set(gen) if ref[n] != gen[n])
        msg = (f"reference and generated stores have different schemas (variables in one only: {only}; "
               f"differing: {differ}); DCTR compares stores of the same schema")
        raise SchemaError(msg)


def _prepare_run_dir(out: str | os.PathLike[str], overwrite: bool) -> Path:
    run_dir = Path(out)
    if run_dir.exists() and any(run_dir.iterdir()) and not overwrite:
        msg = f"run directory {str(run_dir)!r} exists and is not empty; pass --overwrite to replace its files"
        raise StoreExistsError(msg)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _flip_axes(source: EventSource, dims: list[str]) -> tuple[int, ...]:
    unknown = [d for d in dims if d not in source.dims]
    if unknown:
        msg = f"training.options.flip_dims {unknown} are not dims of the input (it has {list(source.dims)})"
        raise SpecError(msg)
    return tuple(source.dims.index(d) for d in dims)


def _weight_summary(weights: np.ndarray, clip: float) -> dict[str, float]:
    return {"mean": float(weights.mean()), "std": float(weights.std()), "min": float(weights.min()),
            "max": float(weights.max()), "fraction_clipped": float(np.mean(weights >= clip)),
            "effective_fraction": float(weights.sum() ** 2 / (len(weights) * np.sum(weights**2)))}


def reweight(
    reference: str | os.PathLike[str],
    generated: str | os.PathLike[str],
    model: str | os.PathLike[str] | LoadedSpec,
    *,
    out: str | os.PathLike[str],
    name: str | None = None,
    seed: int | None = None,
    overwrite: bool = False,
    progress: bool = True,
    lock: bool = True,
) -> dict[str, Any]:
    """DCTR-reweight the store ``generated`` towards ``reference``; return the run's metrics.

    Trains the classifier of ``model`` (generated = 0, reference = 1) on a seeded training
    split, fits the temperature T on the held-out split, and writes
    w = min(s·exp(logit/T), clip) with s such that ⟨w⟩ = 1 as variable ``name`` (default: the
    spec's ``training.options.weight_name``) into ``generated``. ``overwrite`` replaces an existing
    weight variable of that name and the files of ``out``. ``lock=False`` skips the writer lock of
    ``generated`` (``--no-lock``).
    """
    if seed is not None:
        check_seed(seed)
    with store_lock(normalise_url(generated), enabled=lock):
        return _reweight(reference, generated, model, out=out, name=name, seed=seed, overwrite=overwrite,
                         progress=progress, lock=lock)


def _reweight(reference, generated, model, *, out, name, seed, overwrite, progress, lock) -> dict[str, Any]:
    loaded, options = load_model_spec(model)
    spec: ModelSpec = loaded.spec  # type: ignore[assignment]
    training = spec.training if seed is None else spec.training.model_copy(update={"seed": seed})
    name = name or options.weight_name
    reference, generated = normalise_url(reference), normalise_url(generated)
    if not name.isidentifier():
        msg = f"weight variable name must be a Python identifier (letters, digits, _), got {name!r}"
        raise StoreError(msg)
    if name in read_provenance(generated).get(EXTRA, {}) and not overwrite:
        msg = f"store {generated!r} already has the variable {name!r}; pass --name for a second weight or --overwrite"
        raise StoreError(msg)
    run_dir = _prepare_run_dir(out, overwrite)
    layout = "image" if spec.architecture == "dctr_cnn3d" else "vector"
    datasets = {"reference": open_store(reference), "generated": open_store(generated)}
    _check_same_schema(datasets["reference"].physgen.provenance, datasets["generated"].physgen.provenance)
    sources = {k: EventSource(ds, spec.data.inputs, layout=layout, transforms=spec.data.transforms, label=k,
                              cache_bytes=options.cache_mb * 2**20) for k, ds in datasets.items()}
    check_compatible(sources["reference"], sources["generated"])
    flip_axes = _flip_axes(sources["generated"], options.flip_dims)
    block = options.block_events or min(int(ds.physgen.provenance["chunk_events"]) for ds in datasets.values())
    split_rng = np.random.default_rng(np.random.SeedSequence(training.seed, spawn_key=(0,)))
    held_out = {k: held_out_mask(s.n_events, training.validation_fraction, split_rng) for k, s in sources.items()}

    device = select_device(options.device)
    torch.manual_seed(training.seed)  # network initialisation
    network = build_network(spec.architecture, spec.hyperparameters, sources["generated"].shape)
    history = train_classifier(network, sources["reference"], sources["generated"], held_out, training,
                               block=block, flip_axes=flip_axes, device=device, progress=progress)
    logits, labels = held_out_logits(network, sources, held_out, block=block, device=device)
    temperature = fit_temperature(logits, labels)
    calibration = {"temperature": temperature,
                   "held_out_events": {k: int(m.sum()) for k, m in held_out.items()},
                   "auc_before_calibration": auc(logits, labels), "auc_after_calibration": auc(logits / temperature, labels),
                   "nll_before_calibration": balanced_nll(logits, labels),
                   "nll_after_calibration": balanced_nll(logits, labels, temperature)}

    all_logits = predict_logits(network, sources["generated"], block=block, device=device)
    raw = np.exp(np.clip(all_logits / temperature, -LOGIT_LIMIT, LOGIT_LIMIT))
    weights = clip_and_normalise(raw, options.clip)

    atomic_save({"state_dict": network.state_dict(), "architecture": spec.architecture,
                 "hyperparameters": spec.hyperparameters, "input_shape": list(sources["generated"].shape),
                 "inputs": spec.data.inputs, "temperature": temperature}, run_dir / "classifier.pt")
    atomic_write_text(run_dir / "model.yaml", loaded.text)
    atomic_write_text(run_dir / "calibration.json", json.dumps(calibration, indent=2))
    metrics = {"model": {"name": spec.name, "hash": loaded.hash, "architecture": spec.architecture},
               "reference": reference, "generated": generated, "variable": name, "seed": training.seed,
               "clip": options.clip, "device": str(device), "block_events": block,
               "events": {k: s.n_events for k, s in sources.items()}, "history": history, **calibration,
               "weights": _weight_summary(weights, options.clip)}
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2))

    provenance = {"method": "dctr", "run_dir": str(run_dir.resolve()), "model": metrics["model"],
                  "reference": reference, "temperature": temperature, "clip": options.clip, "seed": training.seed,
                  "auc_before_calibration": calibration["auc_before_calibration"],
                  "auc_after_calibration": calibration["auc_after_calibration"]}
    add_variable(generated, name, weights, attrs={"units": "dimensionless", "long_name": f"DCTR weight ({spec.name})"},
                 provenance=provenance, overwrite=overwrite, lock=lock)
    return metrics
