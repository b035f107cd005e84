"""The run directory: what a training run writes and how a trained model is rebuilt from it.

``RUN_DIR/run.json``     model spec text, training store URL and its spec texts (schema),
                         variable shapes/units, fitted transform parameters, seed, world size
``RUN_DIR/checkpoint.pt`` latest checkpoint (atomic: written to a temporary file, then renamed)
``RUN_DIR/snapshots/``    selected snapshots; ``RUN_DIR/selection.json`` their scores
``RUN_DIR/metrics.jsonl`` one JSON object per logged step
"""

from __future__ import annotations

import json
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from physgen.errors import PhysgenError
from physgen.models import Recipe, get_architecture
from physgen.specs import ModelSpec, parse_spec
from physgen.train._store_data import description
from physgen.train._transforms import TransformSet

__all__ = [
    "RunDir", "LoadedRun", "load_run", "atomic_save", "atomic_write_bytes", "atomic_write_text", "load_checkpoint",
    "load_recipe_state",
    "read_json",
]

RUN_INFO_KEYS = ("model_spec", "store_specs", "variables", "transform_params")
"""Keys of ``run.json`` that generation and resume read."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temporary file, flush it to disk, then ``os.replace``: a kill leaves the old file or the new one."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def atomic_write_text(path: Path, text: str) -> None:
    """:func:`atomic_write_bytes` of ``text`` in UTF-8."""
    atomic_write_bytes(path, text.encode())


def atomic_save(obj: Any, path: Path) -> None:
    """``torch.save`` to a temporary file then ``os.replace``: a kill leaves the old file or the new one."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path, what: str) -> Any:
    """The JSON content of ``path``; a :class:`PhysgenError` naming the file if it is unreadable or truncated."""
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        msg = f"{path}: the {what} is damaged or truncated ({exc}); rerun the training with --overwrite"
        raise PhysgenError(msg) from None


def load_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """A checkpoint written by physgen (a dict with the recipe's state), or a :class:`PhysgenError` naming the file."""
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError, AttributeError, ImportError,
            IndexError, KeyError, zipfile.BadZipFile) as exc:  # what torch.load raises on a truncated or foreign file
        msg = f"{path}: not a readable checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
        raise PhysgenError(msg) from None
    if not isinstance(state, dict) or "recipe" not in state:
        msg = f"{path}: not a physgen checkpoint (no recipe state)"
        raise PhysgenError(msg)
    return state


def load_recipe_state(recipe: Recipe, state: dict[str, Any], path: Path, **kwargs: Any) -> None:
    """Load a checkpoint's recipe state; a checkpoint of another model is a :class:`PhysgenError`."""
    try:
        recipe.load_state_dict(state["recipe"], **kwargs)
    except (RuntimeError, KeyError, ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        msg = f"{path}: the checkpoint holds another model's weights ({first})"
        raise PhysgenError(msg) from None


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def info(self) -> Path:
        return self.path / "run.json"

    @property
    def checkpoint(self) -> Path:
        return self.path / "checkpoint.pt"

    @property
    def metrics(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def snapshots(self) -> Path:
        return self.path / "snapshots"

    @property
    def selection(self) -> Path:
        return self.path / "selection.json"

    def read_info(self) -> dict[str, Any]:
        if not self.info.is_file():
            msg = f"{str(self.path)!r} is not a physgen run directory (no run.json); train a model there first"
            raise PhysgenError(msg)
        info = read_json(self.info, "run description")
        lacking = [k for k in RUN_INFO_KEYS if not isinstance(info, dict) or k not in info]
        if lacking:
            msg = f"{self.info}: the run description lacks {lacking}; rerun the training with --overwrite"
            raise PhysgenError(msg)
        return info

    def read_selection(self) -> list[dict[str, Any]]:
        """The selected snapshots, best first (empty if there is no selection)."""
        if not self.selection.is_file():
            return []
        best = read_json(self.selection, "snapshot selection")
        if not isinstance(best, list) or not all(isinstance(b, dict) and "path" in b for b in best):
            msg = f"{self.selection}: expected a list of snapshots with paths; rerun the training with --overwrite"
            raise PhysgenError(msg)
        return best


@dataclass
class LoadedRun:
    """A trained model rebuilt from a run directory, ready to sample."""

    info: dict[str, Any]
    spec: ModelSpec
    recipe: Recipe
    transforms: TransformSet
    checkpoint: Path


def load_run(run_dir: str | os.PathLike[str], *, checkpoint: str = "best",
             device: torch.device | str = "cpu") -> LoadedRun:
    """Rebuild the model of ``run_dir`` with the weights of ``checkpoint``.

    ``checkpoint``: ``best`` (best selected snapshot, else the latest checkpoint), ``last``,
    or a path to a ``.pt`` file.
    """
    run = RunDir(Path(run_dir))
    info = run.read_info()
    selected = run.read_selection() if checkpoint == "best" else []
    if selected:
        path = Path(selected[0]["path"])
        path = path if path.is_absolute() else run.path / path
    elif checkpoint in ("best", "last"):
        path = run.checkpoint
    else:
        path = Path(checkpoint)
    if not path.is_file():
        msg = f"no checkpoint {str(path)!r} in run {str(run.path)!r}; has the training written one yet?"
        raise PhysgenError(msg)
    spec = parse_spec(yaml.safe_load(info["model_spec"]["text"]), source="run.json", kind="model", plugins=False)
    transforms = TransformSet(spec.data.transforms, info["transform_params"])
    recipe = get_architecture(spec.architecture)(spec, description(info["variables"], spec, transforms))
    load_recipe_state(recipe, load_checkpoint(path, device), path, optimizers=False)
    recipe.networks.to(device).eval()
    return LoadedRun(info, spec, recipe, transforms, path)
