"""Executing a pipeline spec step by step.

Each step names a verb (``run``) and keyword arguments (``args``) of the Python function behind
that verb (table :data:`STEP_FUNCTIONS`), e.g. ``{run: reweight, args: {reference: ..., generated:
..., model: dctr_toy_1d, out: ...}}``. The string ``{workdir}`` in any argument is replaced by the
pipeline's working folder; ``{geant4:NAME}`` is replaced by the store URL of the shipped Geant4
validation sample NAME (:func:`physgen.sim.geant4.validation_sample`, e.g. ``{geant4:geant4_calogan_eplus}``:
a quality run compares its generator with Geant4 wherever physgen is installed). Functions are imported only when a step needs them, so a pipeline
whose stage is not part of this installation fails with a message naming it.

A step with ``time_limit_s`` is stopped after that many seconds and the pipeline goes on; this is how
a GPU session trains every model for a fixed wall-clock budget. Training stops itself at the next
step boundary and writes a checkpoint there (``--resume`` continues exactly); other steps are
interrupted (Linux: ``SIGALRM``) and keep what they wrote atomically.

Every run keeps a record, ``WORKDIR/pipeline.json``: the pipeline's spec text and hash, the
hardware, and per step its arguments, result, wall and CPU time (this process and the processes it
waited for, e.g. dask workers) and the load average — the training cost a quality table quotes. A
step interrupted by Ctrl-C or SIGTERM is recorded with its cost so far; a resumed run adds each step's
cost to what the same output cost in the runs before it, and keeps the entries of steps it has not
reached again.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import inspect
import json
import os
import platform
import re
import resource
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from physgen.errors import PhysgenError, SpecError
from physgen.specs import LoadedSpec, PipelineSpec, SpecRegistry
from physgen.specs._pipeline import STEP_FUNCTIONS, step_function

__all__ = ["PIPELINE_RECORD", "STEP_FUNCTIONS", "hardware", "read_record", "run_pipeline"]

PIPELINE_RECORD = "pipeline.json"
"""Name of the record a pipeline run writes into its working folder."""


def observables_of_store(store: str | os.PathLike[str], out: str | os.PathLike[str], *,
                         names: list[str] | None = None, overwrite: bool = False, progress: bool = True) -> str:
    """The ``observables`` step: :func:`physgen.observables.write_observables` of the store at a path."""
    from physgen.observables import write_observables
    from physgen.store import open_store

    write_observables(open_store(store), names, out, overwrite=overwrite, progress=progress)
    return os.fspath(out)


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (a scheduler or ``kill``) raises KeyboardInterrupt in the main thread, so the record keeps an
    interrupted step's cost (elsewhere, and outside the main thread, nothing changes)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _TimeLimit(BaseException):
    """Raised in the main thread when a step's ``time_limit_s`` is over (BaseException: no ``except
    Exception`` inside the step swallows it)."""


def _call(func: Callable[..., Any], kwargs: dict[str, Any], time_limit: float | None) -> tuple[Any, bool]:
    """``func(**kwargs)`` stopped after ``time_limit`` seconds; returns (result, whether it was stopped).
    A function that takes ``time_limit_s`` (training) stops itself at a clean point and says so in
    ``result.stopped_at_time_limit``; any other is interrupted by ``SIGALRM``."""
    if time_limit is None:
        return func(**kwargs), False
    if "time_limit_s" in inspect.signature(func).parameters:
        result = func(**kwargs, time_limit_s=time_limit)
        return result, bool(getattr(result, "stopped_at_time_limit", False))

    def stop(signum, frame):
        raise _TimeLimit

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        return func(**kwargs), False
    except _TimeLimit:
        return None, True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _step_function(verb: str, label: str) -> Callable[..., Any]:
    try:
        return step_function(verb)
    except (ImportError, AttributeError):
        module_name, attr = STEP_FUNCTIONS[verb]
        msg = f"{label} needs {module_name}.{attr}, which this installation of physgen does not provide"
        raise SpecError(msg) from None


def _geant4_sample(match: re.Match[str]) -> str:
    from physgen.sim.geant4 import validation_sample

    return validation_sample(match[1])


def _expand(value: Any, workdir: Path) -> Any:
    if isinstance(value, str):
        return re.sub(r"\{geant4:([A-Za-z0-9_.-]+)\}", _geant4_sample, value.replace("{workdir}", str(workdir)))
    if isinstance(value, list):
        return [_expand(v, workdir) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, workdir) for k, v in value.items()}
    return value


def _arguments(func: Callable[..., Any], args: dict[str, Any], overwrite: bool, resume: bool,
               label: str) -> dict[str, Any]:
    """The step's keywords, plus ``mode="overwrite"`` / ``overwrite=True`` (or ``mode="resume"`` /
    ``resume=True``) where the function takes them."""
    parameters = inspect.signature(func).parameters
    kwargs = dict(args)
    if (overwrite or resume) and "mode" in parameters and "mode" not in kwargs:
        kwargs["mode"] = "overwrite" if overwrite else "resume"
    if overwrite and "overwrite" in parameters and "overwrite" not in kwargs:
        kwargs["overwrite"] = True
    if resume and "resume" in parameters and "resume" not in kwargs:
        kwargs["resume"] = True
    try:
        inspect.signature(func).bind(**kwargs)
    except TypeError as exc:
        msg = f"{label}: arguments {sorted(kwargs)} do not fit {func.__module__}.{func.__name__}: {exc}"
        raise SpecError(msg) from None
    return kwargs


def hardware() -> dict[str, Any]:
    """CPU model and count, GPU, torch version and threads, load average: where a cost was measured."""
    import torch

    cpu = platform.processor() or "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "affinity": len(os.sched_getaffinity(0)),
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
            "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def _cpu_seconds() -> float:
    return sum(resource.getrusage(who).ru_utime + resource.getrusage(who).ru_stime
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return repr(value)[:200]


def _output(args: dict[str, Any], workdir: str) -> str | None:
    """What a step writes (its ``out``, else its ``run_dir``), relative to the working folder when inside it:
    the key under which a resumed step's cost adds up (also after the folder moved)."""
    out = args.get("out", args.get("run_dir"))
    if out is None:
        return None
    out = os.fspath(out)
    return os.path.relpath(out, workdir) if Path(out).resolve().is_relative_to(Path(workdir).resolve()) else out


def _write_record(folder: Path, record: dict[str, Any]) -> None:
    tmp = folder / f".{PIPELINE_RECORD}.tmp"
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, folder / PIPELINE_RECORD)


def read_record(workdir: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``pipeline.json`` record of a pipeline run in ``workdir``."""
    path = Path(workdir) / PIPELINE_RECORD
    if not path.is_file():
        msg = f"{str(workdir)!r} holds no pipeline record ({PIPELINE_RECORD}); run a pipeline there first"
        raise PhysgenError(msg)
    return json.loads(path.read_text())


def run_pipeline(
    pipeline: str | os.PathLike[str] | LoadedSpec,
    *,
    workdir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    resume: bool = False,
    on_step: Callable[[str, Any], None] | None = None,
) -> list[tuple[str, Any]]:
    """Run every step of ``pipeline`` in order; return ``(step label, result)`` pairs.

    ``workdir`` (default ``stores/<pipeline name>``) replaces ``{workdir}`` in the arguments;
    ``overwrite`` lets steps replace their outputs; ``resume`` continues them (stores and training
    runs already complete are kept, so a rerun after a failure or a kill redoes only what is missing);
    ``on_step`` is called after each step. A failing step stops the pipeline with its error, prefixed
    by the step; a step past its ``time_limit_s`` is stopped and the pipeline goes on.
    ``WORKDIR/pipeline.json`` records every finished step with its cost.
    """
    if overwrite and resume:
        raise PhysgenError("--resume and --overwrite exclude each other")
    loaded = pipeline if isinstance(pipeline, LoadedSpec) else SpecRegistry.default().resolve(
        os.fspath(pipeline), kind="pipeline")
    spec = loaded.spec
    if not isinstance(spec, PipelineSpec):
        msg = f"{loaded.source}: expected a pipeline spec, got kind {spec.kind!r}"
        raise SpecError(msg)
    folder = Path(workdir) if workdir is not None else Path("stores") / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    # resolve every step before running any, so a missing stage fails before hours of simulation
    steps = []
    for i, step in enumerate(spec.steps, start=1):
        label = f"pipeline {spec.name!r} step {i} ({step.run})"
        func = _step_function(step.run, label)
        kwargs = _arguments(func, _expand(step.args, folder), overwrite, resume, label)
        if step.run == "quality":
            from physgen.pipeline._quality import check_figures

            try:
                check_figures(kwargs["figures"])
            except PhysgenError as exc:
                raise SpecError(f"{label}: {exc}") from None
        steps.append((label, step.run, func, kwargs, step.time_limit_s))
    record: dict[str, Any] = {
        "pipeline": spec.name, "spec": {"text": loaded.text, "hash": loaded.hash}, "workdir": str(folder),
        "started": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"), "hardware": hardware(), "steps": [],
    }
    previous = {}
    if resume and (folder / PIPELINE_RECORD).is_file():
        # a resumed step continues the same output (each stage checks that: seeds, spec hashes), so its cost adds
        # to what that output cost before, even when the pipeline spec changed in between (e.g. more steps)
        before = read_record(folder)
        previous = {(s["run"], _output(s["args"], before["workdir"])): s for s in before["steps"]}
        record["earlier_runs"] = [*before.get("earlier_runs", []),
                                  {"spec_hash": before["spec"]["hash"], "started": before["started"]}]
    results = []
    done: dict[tuple[str, Any], dict[str, Any]] = {}

    def write(entry: dict[str, Any]) -> None:
        done[(entry["run"], _output(entry["args"], str(folder)))] = entry
        kept = [s | {"from_earlier_run": True} for key, s in previous.items() if key not in done]
        record["steps"] = list(done.values()) + kept  # a failed resume loses no earlier cost
        record["finished"] = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
        _write_record(folder, record)

    with _terminate_as_interrupt():
        for label, verb, func, kwargs, time_limit in steps:
            load, wall, cpu = os.getloadavg(), time.perf_counter(), _cpu_seconds()
            earlier = previous.get((verb, _output(_jsonable(kwargs), str(folder))), {})

            def entry(result: Any, **flags: Any) -> dict[str, Any]:
                return {
                    "label": label, "run": verb, "args": _jsonable(kwargs),
                    "result": _jsonable(result if isinstance(result, (str, os.PathLike))
                                        else getattr(result, "run_dir", None)),
                    "wall_s": round(time.perf_counter() - wall + earlier.get("wall_s", 0.0), 2),
                    "cpu_s": round(_cpu_seconds() - cpu + earlier.get("cpu_s", 0.0), 2),
                    "load_average": {"start": [round(x, 2) for x in load], "end": [round(x, 2) for x in os.getloadavg()]},
                    "runs": earlier.get("runs", 0) + 1, **flags,
                }

            try:
                result, stopped = _call(func, kwargs, time_limit)
            except PhysgenError as exc:
                raise type(exc)(f"{label}: {exc}") from None
            except KeyboardInterrupt:  # Ctrl-C or SIGTERM: keep the cost so far; --resume adds to it
                write(entry(None, interrupted=True))
                raise
            write(entry(result, stopped_at_time_limit=stopped))
            results.append((label, result))
            if on_step is not None:
                on_step(label, result)
    return results
