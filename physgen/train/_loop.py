"""The training loop: model spec + store → run directory with checkpoints, metrics and snapshots.

Training is counted in optimisation steps; ``epochs`` converts with the nominal
steps per epoch ``n_train // (batch_size · world)``. Every ``checkpoint_every`` steps and at the
end the loop writes an atomic checkpoint (networks, optimisers, step, RNG states of every rank,
data position of every rank, selection state), so ``resume=True`` continues exactly: on CPU,
N steps straight and N/2 + resume N/2 give identical weights.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from physgen.errors import PhysgenError, SchemaError, SpecError
from physgen.models import DataDescription, Recipe, VariableInfo, get_architecture
from physgen.progress import event_progress
from physgen.specs import LoadedSpec, ModelSpec, SpecRegistry
from physgen.store import normalise_url, open_store, read_provenance
from physgen.train._data import StreamPlan, make_loader
from physgen.train._distributed import average_gradients, broadcast_parameters, select_device, setup
from physgen.train._run import RunDir, atomic_save, atomic_write_text, load_checkpoint, load_recipe_state
from physgen.train._transforms import TransformSet
from physgen.train.selection import score, selection_metric

__all__ = ["NonFiniteLossError", "TrainResult", "load_model_spec", "train"]

MAX_ROLLBACKS = 3
"""Consecutive rollbacks after non-finite losses before the run stops."""


class NonFiniteLossError(PhysgenError, FloatingPointError):
    """A loss became NaN or inf; the message names the loss and the step."""


@dataclass
class TrainResult:
    """The run directory, steps done, the last logged values, the selected snapshots and the trained recipe."""

    run_dir: Path
    step: int
    last: dict[str, float]
    best: list[dict[str, Any]]
    recipe: Recipe


def load_model_spec(model: str | os.PathLike[str] | LoadedSpec) -> LoadedSpec:
    if isinstance(model, LoadedSpec):
        return model
    return SpecRegistry.default(near=model).resolve(os.fspath(model), kind="model")


def _variables_info(ds, names: list[str]) -> dict[str, dict[str, Any]]:
    missing = [n for n in names if n not in ds.data_vars]
    if missing:
        msg = f"the store lacks the model's variables {missing}; it has {sorted(ds.data_vars)}"
        raise SchemaError(msg)
    return {n: {"shape": list(ds[n].shape[1:]), "dims": list(ds[n].dims[1:]), "dtype": str(ds[n].dtype),
                "units": ds[n].attrs.get("units", "")} for n in names}


def _rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _logged_step(line: str) -> float:
    """The step of a ``metrics.jsonl`` line; infinity for a line a kill cut short (it is dropped)."""
    try:
        return json.loads(line).get("step", 0)
    except ValueError:
        return float("inf")


def _gather(obj: Any, world: int) -> list[Any]:
    if world == 1:
        return [obj]
    out: list[Any] = [None] * world
    dist.all_gather_object(out, obj)
    return out


class _Trainer:
    """State of one training process; :func:`train` drives it."""

    def __init__(self, loaded: LoadedSpec, store: str, run_dir: Path, device: torch.device, resume: bool,
                 overwrite: bool,
                 num_workers: int | None):
        self.loaded, self.spec = loaded, loaded.spec
        if not isinstance(self.spec, ModelSpec):
            msg = f"{loaded.source}: expected a model spec, got kind {self.spec.kind!r}"
            raise SpecError(msg)
        self.training = self.spec.training
        if self.training.selection is not None:
            selection_metric(self.training.selection)  # a wrong metric name or option fails before training
        self.device = device
        self.dist = setup(device)
        self.run = RunDir(run_dir)
        self.url = normalise_url(store)
        data = self.spec.data
        names = list(dict.fromkeys(data.inputs + data.conditions + data.labels))
        unknown = sorted(set(data.transforms) - set(names))
        if unknown:
            msg = f"{loaded.source}: data.transforms names {unknown}, which the model does not read ({names})"
            raise SpecError(msg)
        self.ds = open_store(self.url)
        self.variables = _variables_info(self.ds, names)
        n = self.ds.sizes.get("event", 0)
        self.n_train = n - int(round(self.training.validation_fraction * n))
        batch = self.training.batch_size
        if self.n_train < batch * self.dist.world:
            msg = (f"store {self.url!r} has {self.n_train} training events, fewer than one batch of {batch} "
                   f"per rank × {self.dist.world} ranks")
            raise PhysgenError(msg)
        self._prepare_run_dir(resume, overwrite)
        info = self.run.read_info() if resume and self.run.info.is_file() else None
        if info is not None and info["model_spec"]["hash"] != loaded.hash:
            msg = f"cannot resume {str(run_dir)!r}: it was trained from another model spec; use a new --out"
            raise PhysgenError(msg)
        self.transforms = TransformSet(data.transforms, info["transform_params"] if info else None)
        if info is None:
            self.transforms.fit(self.ds, self.n_train)
        description = DataDescription(
            {k: VariableInfo(tuple(v["shape"]), tuple(v["dims"]), v["units"], v["dtype"])
             for k, v in self.variables.items()},
            list(data.inputs), list(data.conditions), list(data.labels),
            inverse=self.transforms.inverse, reference=self.ds.isel(event=slice(0, self.n_train)))
        torch.manual_seed(self.training.seed)  # identical initial weights on every rank
        self.recipe = get_architecture(self.spec.architecture)(self.spec, description)
        self.recipe.networks.to(device)
        self.recipe.configure_optimizers()
        if self.dist.world > 1:
            broadcast_parameters(self.recipe.networks)
            self.recipe.grad_sync = average_gradients
        self.options = dict(self.training.options)
        workers = num_workers if num_workers is not None else int(self.options.get("num_workers", 0))
        self.num_workers = workers
        piece = StreamPlan.pieces_for(int(read_provenance(self.url)["chunk_events"]), self.n_train,
                                      self.dist.world * max(workers, 1), batch)
        self.plan = StreamPlan(
            self.url, tuple(names), 0, self.n_train, piece, batch,
            int(self.options.get("buffer_events", max(16 * batch, 65_536))), self.training.seed,
            self.dist.rank, self.dist.world)
        self.steps_per_epoch = max(self.n_train // (batch * self.dist.world), 1)
        self.step, self.epoch, self.skip = 0, 0, 0
        self.best: list[dict[str, Any]] = []
        seed = self.training.seed + 1 + 7919 * self.dist.rank
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        if self.dist.main and info is None:
            self._write_info()
        if resume and self.run.checkpoint.is_file():
            self._restore(load_checkpoint(self.run.checkpoint, device))
        if resume and self.dist.main:
            self._drop_logs_after(self.step)

    # ------------------------------------------------------------------ set-up
    def _prepare_run_dir(self, resume: bool, overwrite: bool) -> None:
        if self.run.checkpoint.is_file() and not resume:
            if not overwrite:
                msg = (f"run directory {str(self.run.path)!r} already holds a checkpoint; pass --resume to continue "
                       "it, --overwrite to start again, or choose a new --out")
                raise PhysgenError(msg)
            if self.dist.main:  # it holds a checkpoint, so it is a run directory of ours to replace
                shutil.rmtree(self.run.path)
        if self.dist.main:
            self.run.path.mkdir(parents=True, exist_ok=True)
            self.run.snapshots.mkdir(exist_ok=True)
        if self.dist.world > 1:
            dist.barrier()

    def _write_info(self) -> None:
        meta = read_provenance(self.url)
        info = {
            "model_spec": {"name": self.spec.name, "text": self.loaded.text, "hash": self.loaded.hash},
            "data_store": self.url,
            "store_specs": meta.get("specs", {}),
            "store_schema": meta.get("schema", {}),
            "chunk_events": meta.get("chunk_events"),
            "variables": self.variables,
            "transform_params": self.transforms.params(),
            "n_train": self.n_train,
            "seed": self.training.seed,
            "world_size": self.dist.world,
            "torch_version": torch.__version__,
        }
        atomic_write_text(self.run.info, json.dumps(info, indent=1, default=str))

    def _restore(self, state: dict[str, Any]) -> None:
        if not all(k in state for k in ("positions", "step", "rng")):
            msg = f"{self.run.checkpoint}: not a training checkpoint (a snapshot?); rerun with --overwrite"
            raise PhysgenError(msg)
        if len(state["positions"]) != self.dist.world:
            msg = (f"checkpoint was written by {len(state['positions'])} ranks, this run has {self.dist.world}; "
                   "resume with the same number of processes")
            raise PhysgenError(msg)
        load_recipe_state(self.recipe, state, self.run.checkpoint)
        self.step = int(state["step"])
        self.epoch, self.skip = state["positions"][self.dist.rank]
        self.best = list(state.get("best", []))
        _set_rng_state(state["rng"][self.dist.rank])

    def _drop_logs_after(self, step: int) -> None:
        """Metric lines logged after the checkpoint resumed from (all of them without one), and a line
        torn by a kill, are dropped: the resumed run logs those steps again."""
        lines = self.run.metrics.read_text().splitlines() if self.run.metrics.is_file() else []
        kept = [ln for ln in lines if _logged_step(ln) <= step]
        atomic_write_text(self.run.metrics, "".join(f"{ln}\n" for ln in kept))

    # ------------------------------------------------------------------ checkpoints
    def checkpoint(self) -> None:
        rngs = _gather(_rng_state(), self.dist.world)
        positions = _gather((self.epoch, self.skip), self.dist.world)
        if self.dist.main:
            atomic_save({"recipe": self.recipe.state_dict(), "step": self.step, "rng": rngs,
                         "positions": positions, "best": self.best, "model_spec_hash": self.loaded.hash},
                        self.run.checkpoint)

    def rollback(self, error: str) -> None:
        if not self.run.checkpoint.is_file():
            raise NonFiniteLossError(f"{error}; no checkpoint to roll back to (on_nan: rollback)")
        load_recipe_state(self.recipe, load_checkpoint(self.run.checkpoint, self.device), self.run.checkpoint)

    # ------------------------------------------------------------------ selection
    def select(self) -> float | None:
        """Score a generated validation sample with the spec's metric; keep the best ``keep`` snapshots."""
        sel = self.training.selection
        if not self.dist.main:
            return None
        n_val = self.ds.sizes["event"] - self.n_train
        if n_val == 0:
            msg = "snapshot selection needs held-out events: set training.validation_fraction > 0"
            raise SpecError(msg)
        n = min(sel.n_events, n_val)
        names = self.spec.data.inputs + self.spec.data.conditions + self.spec.data.labels
        held = self.ds[names].isel(event=slice(self.n_train, self.n_train + n)).compute()
        reference = {k: held[k].values for k in names}
        conditions = self.spec.data.conditions + self.spec.data.labels
        generator = torch.Generator(self.device).manual_seed(self.training.seed)
        cond = None
        if conditions:
            raw = self.transforms.forward({k: reference[k] for k in conditions}, None)
            cond = {k: torch.from_numpy(v).to(self.device) for k, v in raw.items()}
        self.recipe.networks.eval()
        with torch.no_grad():
            fake = self.transforms.inverse(self.recipe.sample(n, cond, generator))
        self.recipe.networks.train()
        generated = {k: v.float().cpu().numpy() for k, v in fake.items()} | {k: reference[k] for k in conditions}
        value = score(sel, held, generated)
        path = self.run.snapshots / f"step_{self.step:08d}.pt"
        atomic_save({"recipe": {"networks": self.recipe.networks.state_dict(), "optimizers": {},
                                "extra": self.recipe.extra_state()}, "step": self.step}, path)
        self.best = sorted([*self.best, {"step": self.step, "score": value,
                                         "path": str(path.relative_to(self.run.path))}], key=lambda b: b["score"])
        for dropped in self.best[sel.keep:]:
            (self.run.path / dropped["path"]).unlink(missing_ok=True)
        self.best = self.best[:sel.keep]
        atomic_write_text(self.run.selection, json.dumps(self.best, indent=1))
        return value

    # ------------------------------------------------------------------ the loop
    def fit(self, total_steps: int, progress: bool) -> TrainResult:
        training, recipe = self.training, self.recipe
        amp = (torch.autocast("cuda", dtype=torch.bfloat16)
               if self.device.type == "cuda" and self.options.get("amp", True) else contextlib.nullcontext())
        log_every = int(self.options.get("log_every", 10))
        select_every = training.selection.every * self.steps_per_epoch if training.selection else None
        logger = _Logger(self.run, self.dist.main)
        last: dict[str, float] = {}
        rollbacks = 0
        recipe.networks.train()
        pin = self.device.type == "cuda"
        with event_progress(f"train {self.spec.name}", total=total_steps, completed=min(self.step, total_steps),
                            enabled=progress and self.dist.main, unit="step") as advance:
            while self.step < total_steps:
                if self.plan.batches_per_epoch(self.epoch, max(self.num_workers, 1)) == 0:
                    msg = (f"rank {self.dist.rank} gets no full batch of {self.plan.batch_size} in epoch {self.epoch}: "
                           f"too few training events ({self.n_train}) for {self.dist.world} ranks × "
                           f"{max(self.num_workers, 1)} loader workers")
                    raise PhysgenError(msg)
                loader = make_loader(self.plan, self.transforms, self.epoch, skip=self.skip,
                                     num_workers=self.num_workers, pin_memory=pin)
                for batch in loader:
                    batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
                    with amp:
                        logs = recipe.training_step(batch, self.step)
                    self.step += 1
                    self.skip += 1
                    bad = {k: v for k, v in logs.items() if not np.isfinite(v)}
                    if bad:
                        error = f"non-finite loss {bad} at step {self.step}"
                        if training.on_nan == "stop" or rollbacks >= MAX_ROLLBACKS:
                            logger.event(self.step, "non_finite", bad)
                            raise NonFiniteLossError(f"{error}; the run stopped (on_nan: {training.on_nan})")
                        self.rollback(error)
                        rollbacks += 1
                        logger.event(self.step, "rollback", bad)
                    else:
                        rollbacks = 0
                    last = logs
                    if self.step % log_every == 0 or self.step == total_steps:
                        logger.log(self.step, self.step / self.steps_per_epoch, logs)
                    if select_every and self.step % select_every == 0:
                        value = self.select()
                        if value is not None:
                            logger.log(self.step, self.step / self.steps_per_epoch, {"selection": value})
                    if self.step % training.checkpoint_every == 0 or self.step == total_steps:
                        self.checkpoint()
                    advance(1)
                    if self.step >= total_steps:
                        break
                else:
                    self.epoch, self.skip = self.epoch + 1, 0
        logger.close()
        return TrainResult(self.run.path, self.step, last, self.best, self.recipe)


class _Logger:
    """Metrics as JSON lines in ``metrics.jsonl`` (and TensorBoard scalars when it is installed)."""

    def __init__(self, run: RunDir, enabled: bool):
        self.enabled = enabled
        self.file = open(run.metrics, "a") if enabled else None  # noqa: SIM115 (closed in close())
        self.tb = None
        if enabled:
            with contextlib.suppress(ImportError):
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run.path / "tensorboard"))

    def log(self, step: int, epoch: float, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        self.file.write(json.dumps({"step": step, "epoch": round(epoch, 4), "time": round(time.time(), 3),
                                    **values}) + "\n")
        self.file.flush()
        if self.tb is not None:
            for k, v in values.items():
                self.tb.add_scalar(k, v, step)

    def event(self, step: int, kind: str, values: dict[str, float]) -> None:
        self.log(step, 0.0, {"event": kind, **{k: str(v) for k, v in values.items()}})

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
        if self.tb is not None:
            self.tb.close()


def train(model_spec: str | os.PathLike[str] | LoadedSpec, data_store: str | os.PathLike[str],
          run_dir: str | os.PathLike[str], *, steps: int | None = None, epochs: int | None = None,
          resume: bool = False, overwrite: bool = False, device: str = "auto", num_workers: int | None = None,
          progress: bool = True) -> TrainResult:
    """Train the model of ``model_spec`` on ``data_store`` into ``run_dir``.

    Length: ``steps`` or ``epochs`` if given, else the spec's ``training.steps``/``training.epochs``.
    ``resume``: continue from ``run_dir/checkpoint.pt`` up to the same total; ``overwrite``: replace a
    run directory that already holds a checkpoint. ``device``: ``auto``
    (CUDA if available), ``cpu`` or ``cuda``. Under torchrun each process calls this function.
    ``training.options``: ``num_workers`` (loader processes), ``buffer_events`` (shuffle buffer),
    ``log_every``, ``amp`` (bf16 autocast on CUDA, default true), ``threads`` (torch intra-op threads).
    """
    if steps is not None and epochs is not None:
        raise PhysgenError("give --steps or --epochs, not both")
    if resume and overwrite:
        raise PhysgenError("--resume and --overwrite exclude each other")
    for name, value in (("steps", steps), ("epochs", epochs)):
        if value is not None and value <= 0:
            msg = f"--{name} must be positive, got {value}"
            raise PhysgenError(msg)
    loaded = load_model_spec(model_spec)
    trainer = _Trainer(loaded, os.fspath(data_store), Path(run_dir), select_device(device), resume, overwrite,
                       num_workers)
    training = trainer.training
    if steps is None and epochs is None:
        steps, epochs = training.steps, training.epochs
    if steps is None and epochs is None:
        msg = f"{loaded.source}: say how long to train: training.steps or training.epochs (or --steps/--epochs)"
        raise SpecError(msg)
    total = steps if steps is not None else epochs * trainer.steps_per_epoch
    threads = training.options.get("threads")  # tiny networks run fastest on one intra-op thread
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        return trainer.fit(total, progress)
    finally:
        torch.set_num_threads(previous)
