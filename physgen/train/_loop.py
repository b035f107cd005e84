"""The one training loop: model spec + data → run directory with checkpoints, metrics and snapshots.

Generative models (:func:`train`, one store, :class:`StoreData`) and classifiers between two stores
(:func:`train_classifier`, :class:`TwoSampleData`: DCTR and the classifier two-sample tests) run
through the same :class:`_Trainer`: device choice, torch.distributed, bf16 autocast on CUDA,
progress bar, NaN handling (stop or roll back), metrics log and checkpoints.

Training is counted in optimisation steps; ``epochs`` converts with the data's steps per epoch
(generative: the nominal ``n_train // (batch_size · world)``; classifiers: exactly the batches of
those epochs). Every ``checkpoint_every`` steps and at the end the loop writes an atomic checkpoint
(networks, optimisers, step, RNG states of every rank, data position of every rank, selection
state, the running epoch sums), so ``resume=True`` continues exactly: on CPU, N steps straight and
N/2 + resume N/2 give identical weights, also after the process was killed (``kill -9``) between
checkpoints. When an epoch ends the data may report values (a classifier's held-out loss), logged
with the epoch means of the step logs.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
import torch.distributed as dist
import xarray as xr
import yaml

from physgen.errors import PhysgenError, SpecError
from physgen.schema import within_valid_range
from physgen.models import ClassifierRecipe, DataDescription, Recipe, get_architecture
from physgen.progress import event_progress
from physgen.specs import LoadedSpec, ModelSpec, SpecRegistry, TrainingOptions, parse_plugin_options, parse_spec
from physgen.store import store_lock
from physgen.train._distributed import (
    Distributed,
    average_gradients,
    broadcast_parameters,
    select_device,
    setup,
    teardown,
)
from physgen.train._run import RunDir, atomic_save, atomic_write_text, load_checkpoint, load_recipe_state
from physgen.train._store_data import StoreData
from physgen.train._two_sample import TwoSampleData
from physgen.train.selection import score

__all__ = ["NonFiniteLossError", "TrainResult", "TrainingData", "load_model_spec", "train", "train_classifier"]

MAX_ROLLBACKS = 3
"""Consecutive rollbacks after non-finite losses before the run stops."""


class NonFiniteLossError(PhysgenError, FloatingPointError):
    """A loss became NaN or inf; the message names the loss and the step."""


@dataclass
class TrainResult:
    """The run directory, steps done, the last logged values, the selected snapshots, the trained recipe
    and its training data."""

    run_dir: Path
    step: int
    last: dict[str, float]
    best: list[dict[str, Any]]
    recipe: Recipe
    data: TrainingData
    stopped_at_time_limit: bool = False


def load_model_spec(model: str | os.PathLike[str] | LoadedSpec) -> LoadedSpec:
    if isinstance(model, LoadedSpec):
        return model
    return SpecRegistry.default(near=model).resolve(os.fspath(model), kind="model")


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


class TrainingData(Protocol):
    """What the loop needs from its data: :class:`~physgen.train.StoreData` (a generative model's one
    store) and :class:`~physgen.train.TwoSampleData` (a classifier's two stores) provide it."""

    n_train: int
    steps_per_epoch: int

    def fit(self, params: dict[str, list[dict]] | None) -> None: ...
    def description(self) -> DataDescription: ...
    def steps_for_epochs(self, epochs: int) -> int: ...
    def batches_in_epoch(self, epoch: int) -> int: ...
    def loader(self, epoch: int, skip: int, pin_memory: bool) -> Iterable[dict[str, torch.Tensor]]: ...
    def epoch_end(self, recipe: Recipe) -> dict[str, float]: ...
    def info(self) -> dict[str, Any]: ...


DataFactory = Callable[[ModelSpec, TrainingOptions, Distributed, int], TrainingData]
"""(spec, its training options, the process group, loader workers) → the training data."""


def _check_model_spec(loaded: LoadedSpec) -> ModelSpec:
    if not isinstance(loaded.spec, ModelSpec):
        msg = f"{loaded.source}: expected a model spec, got kind {loaded.spec.kind!r}"
        raise SpecError(msg)
    return loaded.spec


class _Trainer:
    """State of one training process; :func:`train` and :func:`train_classifier` drive it."""

    def __init__(self, loaded: LoadedSpec, make_data: DataFactory, run_dir: Path, device: str | None,
                 resume: bool, overwrite: bool, num_workers: int | None, distributed: bool = True):
        self.loaded, self.spec = loaded, _check_model_spec(loaded)
        self.training = self.spec.training
        recipe_cls = get_architecture(self.spec.architecture)
        self.options = parse_plugin_options(recipe_cls.TrainingOptions, self.training.options, source=loaded.source,
                                            loc=("training", "options"))
        self.device = select_device(device or self.options.device)
        self.dist = setup(self.device) if distributed else Distributed()
        self.run = RunDir(run_dir)
        self.num_workers = num_workers if num_workers is not None else self.options.num_workers
        self.data = make_data(self.spec, self.options, self.dist, self.num_workers)
        self._prepare_run_dir(resume, overwrite)
        info = self.run.read_info() if resume and self.run.info.is_file() else None
        if info is not None and info["model_spec"]["hash"] != loaded.hash:
            msg = f"cannot resume {str(run_dir)!r}: it was trained from another model spec; use a new --out"
            raise PhysgenError(msg)
        self.data.fit(info["transform_params"] if info else None)
        restoring = resume and self.run.checkpoint.is_file()
        torch.manual_seed(self.training.seed)  # identical initial weights on every rank
        self.recipe = recipe_cls(self.spec, self.data.description())
        if not restoring:
            self.recipe.initialise(self.data)
        self.recipe.networks.to(self.device)
        self.recipe.configure_optimizers()
        if self.dist.world > 1:
            broadcast_parameters(self.recipe.networks)
            self.recipe.grad_sync = average_gradients
            self.recipe.state_sync = broadcast_parameters
        self.steps_per_epoch = self.data.steps_per_epoch
        self.step, self.epoch, self.skip = 0, 0, 0
        self.epoch_sums: dict[str, float] = {}
        self.epoch_count = 0
        self.best: list[dict[str, Any]] = []
        seed = self.training.seed + 1 + 7919 * self.dist.rank
        torch.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        if self.dist.main and info is None:
            self._write_info()
        if restoring:
            self._restore(load_checkpoint(self.run.checkpoint, self.device))
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
        info = {
            "model_spec": self.loaded.provenance(),
            **self.data.info(),
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
        self.epoch_count, self.epoch_sums = state.get("epoch_sums", (0, {}))
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
                         "positions": positions, "best": self.best, "model_spec_hash": self.loaded.hash,
                         "epoch_sums": (self.epoch_count, self.epoch_sums)},
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
        ds, n_train = self.data.ds, self.data.n_train
        n_val = ds.sizes["event"] - n_train
        if n_val == 0:
            msg = "snapshot selection needs held-out events: set training.validation_fraction > 0"
            raise SpecError(msg)
        n = min(sel.n_events, n_val)
        names = self.spec.data.inputs + self.spec.data.conditions + self.spec.data.labels
        weight = ds.physgen.weight_name if "physgen" in ds.attrs else None  # a weighted store: score weighted
        stored = list(dict.fromkeys(names + ([weight] if weight else [])))
        held = ds[stored].isel(event=slice(n_train, n_train + n)).compute()
        reference = {k: held[k].values for k in names}
        conditions = self.spec.data.conditions + self.spec.data.labels
        generator = torch.Generator(self.device).manual_seed(self.training.seed)
        cond = None
        if conditions:
            raw = self.data.transforms.forward({k: reference[k] for k in conditions}, None)
            cond = {k: torch.from_numpy(v).to(self.device) for k, v in raw.items()}
        self.recipe.networks.eval()
        with torch.no_grad():
            self.recipe.calibrate(self.data)
            fake = self.data.transforms.inverse(self.recipe.sample(n, cond, generator))
        self.recipe.networks.train()
        # clipped to each variable's valid range as `physgen generate` writes them (iso >= 0: unclipped, the GAN's
        # negative isolations alone let the classifier of c2st_auc separate the samples)
        generated = {k: within_valid_range(v.float().cpu().numpy(), held[k].attrs.get("valid_range"))
                     for k, v in fake.items()}
        generated |= {k: reference[k] for k in conditions}
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
    def _end_epoch(self, logger: _Logger) -> None:
        """An epoch is complete: log the data's epoch-end values (classifiers: held-out loss) with the
        means of the step logs over the epoch, and move the data position to the next epoch."""
        values = self.data.epoch_end(self.recipe)
        if values and self.dist.main:
            means = {f"{k}_epoch_mean": v / self.epoch_count for k, v in self.epoch_sums.items()} if self.epoch_count else {}
            logger.log(self.step, self.epoch + 1, {"epoch_end": self.epoch + 1, **means, **values})
            self._keep_best_epoch(values)
        self.epoch, self.skip = self.epoch + 1, 0
        self.epoch_sums, self.epoch_count = {}, 0

    def _keep_best_epoch(self, values: dict[str, float]) -> None:
        """With ``training.options.best_epoch`` (classifiers), keep the networks of the best epoch so far in
        ``snapshots/best_epoch.pt`` (strictly better replaces: the earliest of equal epochs wins)."""
        key = getattr(self.options, "best_epoch", "last")
        if key == "last":
            return
        score = values[key] if key == "held_out_nll" else -values[key]  # lower is better
        if self.best and score >= self.best[0]["score"]:
            return
        path = self.run.snapshots / "best_epoch.pt"
        atomic_save({"recipe": {"networks": self.recipe.networks.state_dict(), "optimizers": {},
                                "extra": self.recipe.extra_state()}, "step": self.step}, path)
        self.best = [{"step": self.step, "epoch": self.epoch + 1, "score": score, key: values[key],
                      "path": str(path.relative_to(self.run.path))}]
        atomic_write_text(self.run.selection, json.dumps(self.best, indent=1))

    def time_is_up(self, deadline: float | None, every: int) -> bool:
        """Whether ``deadline`` (``time.monotonic()``) has passed; under torchrun the ranks agree every
        ``every`` steps (all are at the same step: gradients are averaged each step), so all stop together."""
        if deadline is None:
            return False
        if self.dist.world == 1:
            return time.monotonic() >= deadline
        return self.step % every == 0 and any(_gather(time.monotonic() >= deadline, self.dist.world))

    def fit(self, total_steps: int, progress: bool, deadline: float | None = None) -> TrainResult:
        training, recipe = self.training, self.recipe
        amp = (torch.autocast("cuda", dtype=torch.bfloat16)
               if self.device.type == "cuda" and self.options.amp else contextlib.nullcontext())
        log_every = self.options.log_every
        select_every = training.selection.every * self.steps_per_epoch if training.selection else None
        logger = _Logger(self.run, self.dist.main)
        last: dict[str, float] = {}
        rollbacks, stopped = 0, False
        recipe.networks.train()
        pin = self.device.type == "cuda"
        with event_progress(f"train {self.spec.name}", total=total_steps, completed=min(self.step, total_steps),
                            enabled=progress and self.dist.main, unit="step") as advance:
            while self.step < total_steps:
                in_epoch = self.data.batches_in_epoch(self.epoch)
                if in_epoch == 0:
                    msg = (f"rank {self.dist.rank} gets no full batch of {training.batch_size} in epoch {self.epoch}: "
                           f"too few training events ({self.data.n_train}) for {self.dist.world} ranks × "
                           f"{max(self.num_workers, 1)} loader workers")
                    raise PhysgenError(msg)
                epoch = self.epoch
                for batch in self.data.loader(self.epoch, self.skip, pin):
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
                        self.epoch_count += 1
                        for k, v in logs.items():
                            self.epoch_sums[k] = self.epoch_sums.get(k, 0.0) + float(v)
                    last = logs
                    if self.step % log_every == 0 or self.step == total_steps:
                        logger.log(self.step, self.step / self.steps_per_epoch, logs)
                    if select_every and self.step % select_every == 0:
                        value = self.select()
                        if value is not None:
                            logger.log(self.step, self.step / self.steps_per_epoch, {"selection": value})
                    if self.skip >= in_epoch:
                        self._end_epoch(logger)
                    checkpointed = self.step % training.checkpoint_every == 0 or self.step == total_steps
                    if checkpointed:
                        self.checkpoint()
                    advance(1)
                    if self.time_is_up(deadline, log_every):  # at a step boundary: the checkpoint resumes exactly
                        stopped = True
                        if not checkpointed:
                            self.checkpoint()
                        logger.event(self.step, "time_limit", {})
                        break
                    if self.step >= total_steps or self.epoch != epoch:
                        break
                else:  # the loader ran out before its count (never, when batches_in_epoch is exact)
                    self._end_epoch(logger)
                if stopped:
                    break
        logger.close()
        return TrainResult(self.run.path, self.step, last, self.best, self.recipe, self.data, stopped)


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


def _run(trainer: _Trainer, steps: int | None, epochs: int | None, progress: bool,
         time_limit_s: float | None = None) -> TrainResult:
    deadline = None if time_limit_s is None else time.monotonic() + time_limit_s
    training = trainer.training
    if steps is None and epochs is None:
        steps, epochs = training.steps, training.epochs
    if steps is None and epochs is None:
        msg = f"{trainer.loaded.source}: say how long to train: training.steps or training.epochs (or --steps/--epochs)"
        raise SpecError(msg)
    total = steps if steps is not None else trainer.data.steps_for_epochs(epochs)
    threads = trainer.options.threads  # tiny networks run fastest on one intra-op thread
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        result = trainer.fit(total, progress, deadline)
    finally:
        torch.set_num_threads(previous)
    teardown(trainer.dist)  # every rank finished: leave the process group together
    return result


def _check_lengths(steps: int | None, epochs: int | None, resume: bool, overwrite: bool,
                   time_limit_s: float | None = None) -> None:
    if time_limit_s is not None and not time_limit_s > 0:
        msg = f"--time-limit must be a positive number of seconds, got {time_limit_s}"
        raise PhysgenError(msg)
    if steps is not None and epochs is not None:
        raise PhysgenError("give --steps or --epochs, not both")
    if resume and overwrite:
        raise PhysgenError("--resume and --overwrite exclude each other")
    for name, value in (("steps", steps), ("epochs", epochs)):
        if value is not None and value <= 0:
            msg = f"--{name} must be positive, got {value}"
            raise PhysgenError(msg)


def _run_dir_lock(run_dir: str | os.PathLike[str], distributed: bool):
    """One training per run directory, locked as stores are (:func:`physgen.store.store_lock`): a second
    ``physgen train --out`` of the same folder is refused naming the first. Under torchrun rank 0 holds it."""
    main_rank = not distributed or int(os.environ.get("RANK", "0")) == 0
    return store_lock(os.fspath(run_dir), enabled=main_rank, kind="run directory")


def train(model_spec: str | os.PathLike[str] | LoadedSpec, data_store: str | os.PathLike[str],
          run_dir: str | os.PathLike[str], *, steps: int | None = None, epochs: int | None = None,
          resume: bool = False, overwrite: bool = False, device: str | None = None, num_workers: int | None = None,
          progress: bool = True, time_limit_s: float | None = None) -> TrainResult:
    """Train the generative model of ``model_spec`` on ``data_store`` into ``run_dir``.

    Length: ``steps`` or ``epochs`` if given, else the spec's ``training.steps``/``training.epochs``.
    ``time_limit_s``: stop at the first step boundary after that many seconds, write a checkpoint there
    and return (``result.stopped_at_time_limit``); ``resume`` then continues exactly where it stopped.
    ``resume``: continue from ``run_dir/checkpoint.pt`` up to the same total; ``overwrite``: replace a
    run directory that already holds a checkpoint. ``device``: ``auto`` (CUDA if available), ``cpu``
    or ``cuda``; default the spec's ``training.options.device``. Under torchrun each process calls this
    function. ``training.options``: :class:`physgen.specs.TrainingOptions` (``num_workers``,
    ``buffer_events``, ``read_cache_mib``, ``log_every``, ``amp``, ``threads``, ``device``).
    """
    _check_lengths(steps, epochs, resume, overwrite, time_limit_s)
    loaded = load_model_spec(model_spec)
    spec = _check_model_spec(loaded)
    if issubclass(get_architecture(spec.architecture), ClassifierRecipe):
        msg = (f"{loaded.source}: {spec.architecture} is a classifier; it trains on a reference and a generated "
               "store (physgen reweight, or physgen.train.train_classifier)")
        raise SpecError(msg)

    def make_data(spec, options, dist, workers):
        return StoreData(spec, os.fspath(data_store), options, dist, workers)

    with _run_dir_lock(run_dir, distributed=True):
        trainer = _Trainer(loaded, make_data, Path(run_dir), device, resume, overwrite, num_workers)
        return _run(trainer, steps, epochs, progress, time_limit_s)


def train_classifier(model_spec: str | os.PathLike[str] | LoadedSpec, reference: str | os.PathLike[str] | xr.Dataset,
                     generated: str | os.PathLike[str] | xr.Dataset, run_dir: str | os.PathLike[str], *,
                     steps: int | None = None, epochs: int | None = None, seed: int | None = None,
                     held_out: dict[str, np.ndarray] | None = None, weights: dict[str, np.ndarray | None] | None = None,
                     resume: bool = False, overwrite: bool = False, device: str | None = None, distributed: bool = True,
                     progress: bool = True) -> TrainResult:
    """Train the classifier of ``model_spec`` (reference = label 1, generated = label 0) into ``run_dir``
    through the same loop as :func:`train` (checkpoints, exact resume, DDP, AMP, NaN handling).

    ``reference``/``generated``: stores (paths, URLs) or in-memory datasets holding the inputs.
    ``seed`` replaces the spec's ``training.seed`` (the run then records a spec with that seed).
    ``held_out``: boolean masks ``{"reference": ..., "generated": ...}`` of the events kept out of
    training (default: a seeded random ``training.validation_fraction`` of each store). ``weights``: event
    weights ``{"reference": ..., "generated": ...}`` of in-memory datasets (stores carry their own). With
    ``training.options.best_epoch`` the returned recipe holds the networks of the best epoch.
    ``distributed=False`` trains in this process alone even under torchrun (a metric inside a run).
    ``result.data`` is the :class:`TwoSampleData` (held-out split, logits of any events).
    """
    _check_lengths(steps, epochs, resume, overwrite)
    loaded = load_model_spec(model_spec)
    spec = _check_model_spec(loaded)
    recipe = get_architecture(spec.architecture)
    if not issubclass(recipe, ClassifierRecipe):
        msg = f"{loaded.source}: expected a classifier architecture (e.g. dctr_mlp), got {spec.architecture!r}"
        raise SpecError(msg)
    if spec.training.selection is not None:
        msg = f"{loaded.source}: training.selection ranks generated samples; a classifier has none to rank"
        raise SpecError(msg)
    if seed is not None and seed != spec.training.seed:
        data = yaml.safe_load(loaded.text)
        data.setdefault("training", {})["seed"] = seed
        text = yaml.safe_dump(data, sort_keys=False)
        loaded = LoadedSpec(parse_spec(data, source=loaded.source), text, loaded.source)

    def make_data(spec, options, dist, workers):
        references = reference if isinstance(reference, xr.Dataset) else os.fspath(reference)
        generateds = generated if isinstance(generated, xr.Dataset) else os.fspath(generated)
        return TwoSampleData(spec, references, generateds, options, dist, layout=recipe.input_layout,
                             held_out=held_out, weights=weights)

    with _run_dir_lock(run_dir, distributed):
        trainer = _Trainer(loaded, make_data, Path(run_dir), device, resume, overwrite, 0, distributed)
        result = _run(trainer, steps, epochs, progress)
    if result.best and getattr(trainer.options, "best_epoch", "last") != "last":
        state = torch.load(trainer.run.path / result.best[0]["path"], map_location=trainer.device, weights_only=False)
        result.recipe.networks.load_state_dict(state["recipe"]["networks"])
    return result
