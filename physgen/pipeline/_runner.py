"""Executing a pipeline spec step by step.

Each step names a verb (``run``) and keyword arguments (``args``) of the Python function behind
that verb (table :data:`STEP_FUNCTIONS`), e.g. ``{run: reweight, args: {reference: ..., generated:
..., model: dctr_toy_1d, out: ...}}``. The string ``{workdir}`` in any argument is replaced by the
pipeline's working folder. Functions are imported only when a step needs them, so a pipeline
whose stage is not part of this installation fails with a message naming it.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from physgen.errors import PhysgenError, SpecError
from physgen.specs import LoadedSpec, PipelineSpec, SpecRegistry
from physgen.specs._pipeline import STEP_FUNCTIONS, step_function

__all__ = ["STEP_FUNCTIONS", "run_pipeline"]


def observables_of_store(store: str | os.PathLike[str], out: str | os.PathLike[str], *,
                         names: list[str] | None = None, overwrite: bool = False, progress: bool = True) -> str:
    """The ``observables`` step: :func:`physgen.observables.write_observables` of the store at a path."""
    from physgen.observables import write_observables
    from physgen.store import open_store

    write_observables(open_store(store), names, out, overwrite=overwrite, progress=progress)
    return os.fspath(out)


def _step_function(verb: str, label: str) -> Callable[..., Any]:
    try:
        return step_function(verb)
    except (ImportError, AttributeError):
        module_name, attr = STEP_FUNCTIONS[verb]
        msg = f"{label} needs {module_name}.{attr}, which this installation of physgen does not provide"
        raise SpecError(msg) from None


def _expand(value: Any, workdir: Path) -> Any:
    if isinstance(value, str):
        return value.replace("{workdir}", str(workdir))
    if isinstance(value, list):
        return [_expand(v, workdir) for v in value]
    if isinstance(value, dict):
        return {k: _expand(v, workdir) for k, v in value.items()}
    return value


def _arguments(func: Callable[..., Any], args: dict[str, Any], overwrite: bool, label: str) -> dict[str, Any]:
    """The step's keywords, plus ``mode="overwrite"`` / ``overwrite=True`` where the function takes them."""
    parameters = inspect.signature(func).parameters
    kwargs = dict(args)
    if overwrite and "mode" in parameters and "mode" not in kwargs:
        kwargs["mode"] = "overwrite"
    if overwrite and "overwrite" in parameters and "overwrite" not in kwargs:
        kwargs["overwrite"] = True
    try:
        inspect.signature(func).bind(**kwargs)
    except TypeError as exc:
        msg = f"{label}: arguments {sorted(kwargs)} do not fit {func.__module__}.{func.__name__}: {exc}"
        raise SpecError(msg) from None
    return kwargs


def run_pipeline(
    pipeline: str | os.PathLike[str] | LoadedSpec,
    *,
    workdir: str | os.PathLike[str] | None = None,
    overwrite: bool = False,
    on_step: Callable[[str, Any], None] | None = None,
) -> list[tuple[str, Any]]:
    """Run every step of ``pipeline`` in order; return ``(step label, result)`` pairs.

    ``workdir`` (default ``stores/<pipeline name>``) replaces ``{workdir}`` in the arguments;
    ``overwrite`` lets steps replace their outputs; ``on_step`` is called after each step.
    A failing step stops the pipeline with its error, prefixed by the step.
    """
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
        steps.append((label, func, _arguments(func, _expand(step.args, folder), overwrite, label)))
    results = []
    for label, func, kwargs in steps:
        try:
            result = func(**kwargs)
        except PhysgenError as exc:
            raise type(exc)(f"{label}: {exc}") from None
        results.append((label, result))
        if on_step is not None:
            on_step(label, result)
    return results
