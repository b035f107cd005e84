"""Shipped checkpoints: one self-contained file per trained generator.

A shipped checkpoint holds what generation needs and nothing else — the generator's weights
(floating-point tensors stored in bfloat16, halving the size; integer buffers as they are), the
recipe's extra state, the model spec text, the training store's spec texts (so the generated store
has the reference's schema and units), the fitted transforms, and a note of the reference it was
trained on (store, events, seed, spec names and hashes) and of the training (steps, the selected
snapshot and its score). It loads with ``torch.load(weights_only=True)``: plain data and tensors.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
import yaml

from physgen.errors import PhysgenError
from physgen.specs import parse_spec
from physgen.store import read_provenance
from physgen.train import LoadedRun, RunDir, load_run
from physgen.train._run import atomic_save
from physgen.train._store_data import description
from physgen.train._transforms import TransformSet

__all__ = ["FORMAT", "SHIPPED_INFO_KEYS", "export_checkpoint", "load_checkpoint", "read_checkpoint"]

FORMAT = "physgen-shipped-generator/1"
"""Format tag of a shipped checkpoint file (a change of layout bumps the number)."""

SHIPPED_INFO_KEYS = ("model_spec", "store_specs", "store_schema", "chunk_events", "variables", "transform_params",
                 "n_train", "seed")
"""The parts of a run directory's ``run.json`` that generation needs (see :mod:`physgen.train._run`)."""

STORAGE_DTYPE = torch.bfloat16
"""Storage type of floating-point weights (bfloat16: float32's range, 8 bits of mantissa)."""


def _reference(info: dict[str, Any]) -> dict[str, Any]:
    """The training store in brief: URL, spec names and hashes, and (if it is still readable) events and seed."""
    specs = {role: {"name": s.get("name"), "hash": s.get("hash")} for role, s in info.get("store_specs", {}).items()}
    reference = {"store": info.get("data_store"), "specs": specs, "training_events": info.get("n_train")}
    try:
        meta = read_provenance(info["data_store"])
    except (PhysgenError, OSError, KeyError):
        return reference
    return reference | {"events": meta.get("committed_events"), "seed": meta.get("seed")}


def _training(run: RunDir, loaded: LoadedRun, checkpoint: str) -> dict[str, Any]:
    state = torch.load(run.checkpoint, map_location="cpu", weights_only=False) if run.checkpoint.is_file() else {}
    selection = json.loads(run.selection.read_text()) if run.selection.is_file() else []
    chosen = next((s for s in selection if (run.path / s["path"]).resolve() == loaded.checkpoint.resolve()), None)
    spec_selection = loaded.spec.training.selection
    return {"steps": state.get("step"), "checkpoint": checkpoint,
            "selected_snapshot": None if chosen is None else {"step": chosen["step"], "score": chosen["score"],
                                                               "metric": spec_selection.metric if spec_selection else None}}


def export_checkpoint(run_dir: str | os.PathLike[str], out: str | os.PathLike[str], *, checkpoint: str = "best",
                      name: str | None = None) -> str:
    """Write the generator of the training run ``run_dir`` (its ``checkpoint``: ``best`` selected snapshot,
    ``last``, or a ``.pt`` path) as a shipped checkpoint file ``out``; return its path.

    ``name`` (default: the model spec's name) is the name it will be shipped under.
    """
    run = RunDir(Path(run_dir))
    loaded = load_run(run_dir, checkpoint=checkpoint, device="cpu")
    if "generator" not in loaded.recipe.networks:
        msg = (f"run {str(run_dir)!r} ({loaded.spec.architecture}) has no network called 'generator' "
               f"(it has {sorted(loaded.recipe.networks)}); only generators can be shipped")
        raise PhysgenError(msg)
    weights = {k: v.detach().to(STORAGE_DTYPE) if v.is_floating_point() else v.detach()
               for k, v in loaded.recipe.networks["generator"].state_dict().items()}
    from physgen import __version__

    content = {
        "format": FORMAT, "name": name or loaded.spec.name, "dtype": str(STORAGE_DTYPE).removeprefix("torch."),
        "info": {k: loaded.info[k] for k in SHIPPED_INFO_KEYS if k in loaded.info},
        "reference": _reference(loaded.info), "training": _training(run, loaded, checkpoint),
        "extra_state": json.loads(json.dumps(loaded.recipe.extra_state())),  # plain data: weights_only loads it
        "generator": weights, "physgen_version": __version__, "torch_version": str(torch.__version__),
    }  # no time stamp: exporting the same snapshot again gives the same bytes (and sha256)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_save(content, path)
    return str(path)


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The content of the shipped checkpoint file ``path`` (a PhysgenError if it is not one)."""
    path = Path(path)
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user error
        msg = f"{str(path)!r} is not a readable shipped checkpoint: {type(exc).__name__}: {str(exc)[:200]}"
        raise PhysgenError(msg) from None
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        found = content.get("format") if isinstance(content, dict) else type(content).__name__
        msg = f"{str(path)!r} is not a shipped checkpoint of format {FORMAT!r} (found {found!r})"
        raise PhysgenError(msg)
    return content


def load_checkpoint(path: str | os.PathLike[str], *, device: torch.device | str = "cpu",
                    shipped: dict[str, Any] | None = None) -> LoadedRun:
    """Rebuild the generator of the shipped checkpoint ``path`` (weights back in float32) on ``device``.

    The returned run's ``info`` is the training run's ``run.json`` subset plus ``info["shipped"]``: the
    checkpoint's name, file, reference and training notes, updated with ``shipped`` (the zoo index entry:
    sha256, measured quality).
    """
    path = Path(path)
    content = read_checkpoint(path)
    info = dict(content["info"])
    spec = parse_spec(yaml.safe_load(info["model_spec"]["text"]), source=f"{path} (model spec)", kind="model")
    from physgen.models import get_architecture

    transforms = TransformSet(spec.data.transforms, info["transform_params"])
    recipe = get_architecture(spec.architecture)(spec, description(info["variables"], spec, transforms))
    generator = recipe.networks["generator"]
    reference_state = generator.state_dict()
    weights = {k: v.to(reference_state[k].dtype) for k, v in content["generator"].items() if k in reference_state}
    generator.load_state_dict(weights)
    recipe.load_extra_state(content.get("extra_state") or {})
    recipe.networks.to(device).eval()
    info["shipped"] = {"name": content["name"], "file": str(path), "dtype": content["dtype"],
                       "reference": content["reference"], "training": content["training"],
                       "physgen_version": content.get("physgen_version")}
    info["shipped"] |= shipped or {}
    return LoadedRun(info, spec, recipe, transforms, path)
