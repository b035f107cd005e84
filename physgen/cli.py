"""The ``physgen`` command line (typer). Stable verbs: see ``physgen --help``.

User errors (:class:`physgen.errors.PhysgenError`) print one red line and exit with code 2, and
so do the operating system's refusals to write (disk full, read-only file system, permissions);
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import functools
import inspect
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from physgen.errors import PhysgenError, PhysgenWarning

app = typer.Typer(help="physgen: spec-driven fast simulation for particle physics.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
specs_app = typer.Typer(help="List, show and validate specs.", no_args_is_help=True)
store_app = typer.Typer(help="Inspect and validate stores.", no_args_is_help=True)
zoo_app = typer.Typer(help="Shipped trained generators: list, ship a quality run, retrain.", no_args_is_help=True)
app.add_typer(specs_app, name="specs")
app.add_typer(store_app, name="store")
app.add_typer(zoo_app, name="zoo")

PIPED_WIDTH = 160
"""Columns of standard output that goes to a file or a pipe with no COLUMNS set: rich's default of 80 squeezed the
tables (`physgen zoo list > models.txt` cut every name and status to a few letters)."""
console = Console(width=None if sys.stdout.isatty() or os.environ.get("COLUMNS") else PIPED_WIDTH)
err_console = Console(stderr=True)


OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EEXIST, errno.ENOTDIR,
                 errno.EISDIR}
"""Operating-system errors that mean "cannot write there": the user's to fix, not a bug."""


def user_errors(func):
    """Turn :class:`PhysgenError` (and a refused write) into one message on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default", PhysgenWarning)
                warnings.showwarning = _notice
                return func(*args, **kwargs)
        except PhysgenError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except OSError as exc:
            if exc.errno not in OUTPUT_ERRNOS:
                raise
            where = f": {exc.filename}" if exc.filename else ""
            err_console.print(f"[bold red]error:[/] cannot write{where}: {exc.strerror or exc}", highlight=False,
                              soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print(f"[bold red]interrupted[/]: {_after_interrupt(func)}", highlight=False, soft_wrap=True)
            raise typer.Exit(130) from None

    return wrapper


def _after_interrupt(func) -> str:
    """What an interrupted command leaves behind, and how to continue: only what exists."""
    if func.__name__ == "run_pipeline":
        return "the finished steps keep their outputs; rerun the same command with --resume to continue"
    if func.__name__ in ("train", "reweight"):
        return ("the last training checkpoint is kept (weights are written only when complete); rerun the "
                "same command with --resume to continue")
    if "resume" in inspect.signature(func).parameters:
        return "committed events are kept; rerun the same command with --resume to continue"
    return "outputs are written only when complete, so nothing partial was left; run the command again"


def _cli_output(url: str) -> str:
    """An output named on the command line must outlive the command: ``memory://`` is refused."""
    if url.startswith("memory://"):
        msg = (f"--out {url!r}: a memory:// output vanishes when the command exits; write to a path or a "
               f"persistent URL (file://, s3:// …), or call physgen from Python to keep it in memory")
        raise PhysgenError(msg)
    return url


def _notice(message, category, *_args, **_kwargs) -> None:
    """physgen's own warnings as one yellow line (no source line); others as Python prints them."""
    if issubclass(category, PhysgenWarning):
        err_console.print(f"[bold yellow]notice:[/] {escape(str(message))}", highlight=False, soft_wrap=True)
    else:
        _show_python_warning(message, category, *_args, **_kwargs)


_show_python_warning = warnings.showwarning


@app.callback()
@user_errors
def _session(
    specs: Annotated[Optional[list[Path]], typer.Option(
        "--specs", metavar="DIR", help="spec folder searched by name before $PHYSGEN_SPEC_PATH, the project's "
                                       "and the shipped specs (repeatable)")] = None,
) -> None:
    from physgen.specs import set_spec_dirs

    set_spec_dirs(specs or [])


def _mode(resume: bool, overwrite: bool) -> str:
    if resume and overwrite:
        raise PhysgenError("--resume and --overwrite exclude each other")
    return "resume" if resume else "overwrite" if overwrite else "create"


Resume = Annotated[bool, typer.Option("--resume", help="continue an interrupted run into the existing store")]
Sets = Annotated[Optional[list[str]], typer.Option(
    "--set", metavar="KEY=VALUE", help="change one key of the spec, e.g. --set training.optimizer.lr=1e-3 "
                                      "(repeatable; validated like the spec and recorded in provenance)")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="replace an existing store")]
NoLock = Annotated[bool, typer.Option("--no-lock", help="write without the store's writer lock (object stores "
                                                         "have none): make sure no other process writes it")]


# ---------------------------------------------------------------- specs
@specs_app.command("list")
@user_errors
def specs_list(kind: Annotated[Optional[str], typer.Option(help="only this kind")] = None) -> None:
    """List the specs physgen can find by name."""
    from physgen.specs import SpecRegistry

    registry = SpecRegistry.default()
    table = Table("kind", "name", "file")
    for k, name in registry.names(kind):
        table.add_row(k, name, str(registry.paths[(k, name)]))
    console.print(table)


@specs_app.command("show")
@user_errors
def specs_show(name: str, sets: Sets = None) -> None:
    """Print a spec (by name or path) as validated YAML."""
    from physgen.specs import dump_spec, load_with_overrides

    loaded = load_with_overrides(name, None, sets or [])
    console.print(f"# {loaded.source}  {loaded.hash}", style="dim", highlight=False)
    console.print(dump_spec(loaded.spec), highlight=False, markup=False)


@specs_app.command("validate")
@user_errors
def specs_validate(paths: list[Path], sets: Sets = None) -> None:
    """Validate spec files, including the specs they refer to by name and every plug-in option; a
    dataset's simulator is built (not run), so that what validates simulates."""
    from physgen.sim import build_simulator
    from physgen.specs import DatasetSpec, apply_overrides, load_spec
    from physgen.store import resolve_dataset

    failures = []
    for path in paths:
        try:
            loaded = apply_overrides(load_spec(path), sets or [])
            if isinstance(loaded.spec, DatasetSpec):
                resolved = resolve_dataset(loaded)
                if loaded.spec.simulator is not None:
                    build_simulator(resolved)
            console.print(f"[green]ok[/] {path} ({loaded.spec.kind} {loaded.spec.name!r})", highlight=False)
        except PhysgenError as exc:
            failures.append(str(exc))
    if failures:
        raise PhysgenError("\n".join(failures))


# ---------------------------------------------------------------- simulate
@app.command()
@user_errors
def simulate(
    dataset: Annotated[str, typer.Argument(help="dataset spec: a YAML path or a name")],
    out: Annotated[str, typer.Option(help="output store: path or fsspec URL")],
    events: Annotated[Optional[int], typer.Option(help="number of events (default: the spec's)")] = None,
    seed: Annotated[Optional[int], typer.Option(help="seed (default: the spec's)")] = None,
    workers: Annotated[Optional[int], typer.Option(
        help="processes on a local dask cluster (1: in this process; default: every core for Pythia simulators)")] = None,
    scheduler: Annotated[Optional[str], typer.Option(help="address of a running dask scheduler")] = None,
    resume: Resume = False,
    overwrite: Overwrite = False,
    sets: Sets = None,
    no_lock: NoLock = False,
) -> None:
    """Run the dataset's reference simulator into a store."""
    from physgen.sim import simulate as run
    from physgen.specs import load_with_overrides

    url = run(load_with_overrides(dataset, "dataset", sets or []), _cli_output(out), events=events, seed=seed,
              workers=workers, scheduler=scheduler, mode=_mode(resume, overwrite), lock=not no_lock)
    console.print(f"wrote {url}")


# ---------------------------------------------------------------- import
@app.command("import")
@user_errors
def import_(
    fmt: Annotated[str, typer.Argument(metavar="FORMAT", help="calogan, lagan, calochallenge or ild")],
    files: Annotated[list[Path], typer.Argument(help="HDF5 files in that format")],
    out: Annotated[str, typer.Option(help="output store: path or fsspec URL")],
    resume: Resume = False,
    overwrite: Overwrite = False,
    no_lock: NoLock = False,
) -> None:
    """Import public HDF5 datasets into a store (streamed, resumable, with checksums)."""
    from physgen.io import import_files

    url = import_files(fmt, files, _cli_output(out), mode=_mode(resume, overwrite), lock=not no_lock)
    console.print(f"wrote {url}")


# ---------------------------------------------------------------- train / generate
@app.command()
@user_errors
def train(
    model_spec: Annotated[str, typer.Argument(help="model spec: a YAML path or a name")],
    data: Annotated[str, typer.Option(help="training store: path or fsspec URL")],
    out: Annotated[Path, typer.Option(help="run directory (checkpoints, metrics.jsonl, snapshots)")],
    steps: Annotated[Optional[int], typer.Option(help="optimisation steps (default: the spec's)")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="epochs instead of steps")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue from RUN_DIR/checkpoint.pt")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace a run directory holding a checkpoint")] = False,
    device: Annotated[Optional[str], typer.Option(
        help="auto (CUDA if available), cpu, cuda or cuda:N (default: the spec's training.options.device)")] = None,
    workers: Annotated[Optional[int], typer.Option(help="data-loader worker processes")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="events per batch and rank (the spec's "
                                                           "training.batch_size)")] = None,
    time_limit: Annotated[Optional[float], typer.Option(
        help="stop after this many seconds at a step boundary, with a checkpoint to --resume from")] = None,
    sets: Sets = None,
) -> None:
    """Train a model spec on a store (launch with torchrun for several processes)."""
    from physgen.specs import load_with_overrides
    from physgen.train import train as run

    overrides = [*(sets or []), *([f"training.batch_size={batch_size}"] if batch_size is not None else [])]
    result = run(load_with_overrides(model_spec, "model", overrides), data, out, steps=steps, epochs=epochs,
                 resume=resume, overwrite=overwrite, device=device, num_workers=workers, time_limit_s=time_limit)
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun every rank runs this command: one summary
        stopped = " (time limit: --resume continues)" if result.stopped_at_time_limit else ""
        console.print(f"trained {result.step} steps into {result.run_dir}{stopped}", highlight=False)


@app.command()
@user_errors
def generate(
    run_dir: Annotated[str, typer.Argument(help="run directory of a trained model, a shipped-checkpoint file, "
                                                "or a shipped model name (physgen zoo list)")],
    events: Annotated[int, typer.Option(help="number of events")],
    out: Annotated[str, typer.Option(help="output store: path or fsspec URL")],
    conditions_from: Annotated[Optional[str], typer.Option(help="copy conditions from this store")] = None,
    seed: Annotated[int, typer.Option(help="seed (batch i uses SeedSequence(seed, spawn_key=(i,)))")] = 0,
    checkpoint: Annotated[str, typer.Option(help="best (selected snapshot), last, or a .pt path")] = "best",
    device: Annotated[str, typer.Option(help="auto (CUDA if available), cpu or cuda")] = "auto",
    bf16: Annotated[bool, typer.Option(help="bfloat16 autocast: faster, per-mille differences")] = False,
    compression: Annotated[Optional[str], typer.Option(
        help="codec of the store: zstd, zstd-1, lz4 or none (default: the training dataset spec's)")] = None,
    resume: Resume = False,
    overwrite: Overwrite = False,
    no_lock: NoLock = False,
) -> None:
    """Generate events with a trained or a shipped model into a store of the training store's schema."""
    from physgen.generate import generate as run

    url = run(run_dir, events, _cli_output(out), conditions_from=conditions_from, seed=seed,
              mode=_mode(resume, overwrite), checkpoint=checkpoint, device=device, bf16=bf16,
              compression=compression, lock=not no_lock)
    console.print(f"wrote {url}")


# ---------------------------------------------------------------- store
@store_app.command("info")
@user_errors
def store_info(store: str) -> None:
    """Summarise a store: events, variables with dims and units, chunking, provenance."""
    from physgen.store import open_store

    ds = open_store(store)
    meta = ds.physgen.provenance
    console.print(f"[bold]{store}[/]: {ds.sizes.get('event', 0)} committed events, "
                  f"chunks of {meta['chunk_events']} events", highlight=False, soft_wrap=True)
    table = Table("variable", "dims", "shape", "dtype", "units")
    for name, var in ds.data_vars.items():
        table.add_row(name, ", ".join(map(str, var.dims)), str(var.shape), str(var.dtype), var.attrs.get("units", "?"))
    console.print(table)
    specs = {role: f"{s['name']} ({s['hash'][:19]})" for role, s in meta.get("specs", {}).items()}
    summary = {k: meta.get(k) for k in ("producer", "seed", "physgen_version", "created")} | {"specs": specs}
    console.print_json(json.dumps(summary, default=str))


@store_app.command("validate")
@user_errors
def store_validate(stores: list[str]) -> None:
    """Check schema, units, provenance and value ranges; exit 2 on any problem."""
    from physgen.store import validate_store

    problems = []
    for store in stores:
        found = validate_store(store, progress=True)
        problems += [f"{store}: {p}" for p in found]
        if not found:
            console.print(f"[green]valid[/] {store}", highlight=False)
    if problems:
        raise PhysgenError("\n".join(problems))


# ---------------------------------------------------------------- bench
@app.command()
@user_errors
def bench(
    what: Annotated[Optional[list[str]], typer.Argument(help="benchmarks to run (default: all)")] = None,
    collect_only: Annotated[bool, typer.Option("--collect-only", help="only refresh the README tables")] = False,
) -> None:
    """Run benchmarks/bench_*.py and paste their tables into the README."""
    from physgen.bench import available_benchmarks, collect_tables, run_benchmark

    if not collect_only:
        for name in what or available_benchmarks():
            console.print(f"[bold]benchmark {name}[/]")
            run_benchmark(name)
    console.print(f"updated {collect_tables()}")


# ---------------------------------------------------------------- reweight
@app.command()
@user_errors
def reweight(
    reference: Annotated[str, typer.Argument(help="reference store (label 1)")],
    generated: Annotated[str, typer.Argument(help="generated store (label 0); receives the weight variable")],
    model: Annotated[str, typer.Option(help="DCTR model spec: a YAML path or a name")],
    out: Annotated[Path, typer.Option(help="run directory: classifier, calibration, metrics.json")],
    name: Annotated[Optional[str], typer.Option(help="weight variable name (default: the spec's)")] = None,
    seed: Annotated[Optional[int], typer.Option(help="seed (default: the spec's training.seed)")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace the weight variable and run files")] = False,
    sets: Sets = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue the interrupted training in RUN_DIR")] = False,
    device: Annotated[Optional[str], typer.Option(
        help="auto (CUDA if available), cpu, cuda or cuda:N (default: the spec's training.options.device)")] = None,
    no_lock: NoLock = False,
) -> None:
    """Train a DCTR classifier and add per-event weights to GENERATED (paper 004)."""
    from physgen.reweight import reweight as run
    from physgen.specs import load_with_overrides

    metrics = run(reference, generated, load_with_overrides(model, "model", sets or []), out=out, name=name,
                  seed=seed, overwrite=overwrite, resume=resume, device=device, lock=not no_lock)
    w = metrics["weights"]
    console.print(f"added [bold]{metrics['variable']}[/] to {generated}: T = {metrics['temperature']:.3f}, "
                  f"AUC = {metrics['auc_after_calibration']:.3f}, weights std {w['std']:.3f}, max {w['max']:.2f}, "
                  f"clipped {w['fraction_clipped']:.2%}", highlight=False)


# ---------------------------------------------------------------- run (pipelines)
@app.command("run")
@user_errors
def run_pipeline(
    pipeline: Annotated[str, typer.Argument(help="pipeline spec: a YAML path or a name")],
    workdir: Annotated[Optional[Path], typer.Option(help="folder for the pipeline's stores and runs "
                                                          "(default: stores/<pipeline name>)")] = None,
    overwrite: Overwrite = False,
    sets: Sets = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue: keep finished stores and training runs")] = False,
) -> None:
    """Run every step of a pipeline spec (simulate, train, generate, reweight, evaluate, export, quality...)."""
    from physgen.pipeline import run_pipeline as run
    from physgen.specs import load_with_overrides

    run(load_with_overrides(pipeline, "pipeline", sets or []), workdir=workdir, overwrite=overwrite, resume=resume,
        on_step=lambda step, _: console.print(f"[green]done[/] {step}", highlight=False))


# ---------------------------------------------------------------- zoo
def _quality_cell(entry: dict) -> str:
    quality = entry.get("quality") or {}
    return f"{quality.get('targets_met', 0)}/{quality.get('targets', 0)}"


@zoo_app.command("list")
@user_errors
def zoo_list() -> None:
    """The shipped generators: model, reference, training cost, targets met."""
    from physgen.zoo import reference_changes, shipped_models

    # the name in full on a narrow terminal; the model spec only where it is not the name
    table = Table(Column("name", no_wrap=True), "reference", "reference spec", "train CPU-s", "hardware", "targets met",
                  "MiB")
    for name, entry in shipped_models().items():
        reference = entry["reference"]
        dataset = reference["specs"].get("dataset", {})
        changed = reference_changes(entry)
        spec = "" if entry["model_spec"] == name else f"\n(spec {entry['model_spec']})"
        table.add_row(name + spec, f"{dataset.get('name')} ({reference.get('events')} events)",
                      f"[yellow]changed since ({', '.join(changed)}): retrain[/]" if changed else "current",
                      f"{entry['cost']['train_cpu_s']:.0f}", entry["cost"]["hardware"]["gpu"] or "CPU",
                      _quality_cell(entry), f"{entry['bytes'] / 2**20:.2f}")
    console.print(table)


@zoo_app.command("show")
@user_errors
def zoo_show(name: str) -> None:
    """The full index entry of a shipped generator (reference, quality figures, cost, pipeline)."""
    from physgen.zoo import shipped_model

    console.print_json(json.dumps(shipped_model(name)))


@zoo_app.command("table")
@user_errors
def zoo_table(
    readme: Annotated[Optional[Path], typer.Option(help="paste the table between the zoo markers of this file")] = None,
) -> None:
    """The quality table of the shipped models (Markdown), printed or pasted into the README."""
    from physgen.zoo import README_MARKERS, quality_table

    table = quality_table()
    if readme is None:
        console.print(table, highlight=False, soft_wrap=True)
        return
    text = readme.read_text()
    begin, end = README_MARKERS
    if begin not in text or end not in text:
        raise PhysgenError(f"{readme} has no {begin} … {end} section to paste the table into")
    head, rest = text.split(begin, 1)
    readme.write_text(f"{head}{begin}\n{table}{end}{rest.split(end, 1)[1]}")
    console.print(f"updated {readme}")


@zoo_app.command("ship")
@user_errors
def zoo_ship(
    workdir: Annotated[Path, typer.Argument(help="working folder of a finished quality pipeline run")],
    name: Annotated[Optional[str], typer.Option(help="shipped name (default: the exported one)")] = None,
) -> None:
    """Put the exported generator of a quality run, with its quality and cost, into the zoo."""
    from physgen.zoo import ship

    entry = ship(workdir, name=name)
    console.print(f"shipped {entry['file']} ({entry['sha256'][:19]}), targets met {_quality_cell(entry)}",
                  highlight=False)


@zoo_app.command("retrain")
@user_errors
def zoo_retrain(
    name: str,
    workdir: Annotated[Optional[Path], typer.Option(help="folder of the pipeline run (default: stores/<pipeline>)")] = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue an interrupted retraining")] = False,
) -> None:
    """Rerun the quality pipeline of a shipped model (new references, training, quality) and ship the result."""
    from physgen.zoo import retrain

    entry = retrain(name, workdir=workdir, resume=resume)
    console.print(f"retrained and shipped {entry['file']} ({entry['sha256'][:19]}), targets met "
                  f"{_quality_cell(entry)}", highlight=False)


# ---------------------------------------------------------------- observables, evaluate
def _name_list(text: str | None) -> list[str] | None:
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


@app.command()
@user_errors
def observables(
    store: Annotated[str, typer.Argument(help="store: path or fsspec URL")],
    names: Annotated[Optional[str], typer.Option(
        help="comma-separated observables or stored variables (default: the schema's observables, else the "
             "per-event variables)")] = None,
    out: Annotated[Optional[str], typer.Option(help="output (path or fsspec URL): FILE.csv, FILE.parquet or a "
                                                    "Zarr store (FOLDER.zarr or no suffix)")] = None,
    overwrite: Overwrite = False,
    no_lock: NoLock = False,
) -> None:
    """Compute named observables of a store (lazily, with a progress bar); print a summary or write them."""
    from physgen.observables import write_observables
    from physgen.store import open_store

    result = write_observables(open_store(store), _name_list(names), _cli_output(out) if out else None,
                               overwrite=overwrite, lock=not no_lock)
    table = Table("observable", "dims", "units", "mean", "std")
    for name, var in result.data_vars.items():
        table.add_row(name, ", ".join(map(str, var.dims)), var.attrs.get("units", ""), f"{float(var.mean()):.4g}",
                      f"{float(var.std()):.4g}")
    console.print(table)
    if out is not None:
        console.print(f"wrote {out}")


@app.command()
@user_errors
def evaluate(
    reference: Annotated[str, typer.Argument(help="reference store")],
    generated: Annotated[str, typer.Argument(help="generated store (same schema)")],
    out: Annotated[Path, typer.Option(help="folder for metrics.json and report.html")],
    weights: Annotated[Optional[str], typer.Option(help="comma-separated per-event weight variables of GENERATED")] = None,
    names: Annotated[Optional[str], typer.Option(
        help="comma-separated observables or stored variables (default: the schema's observables, else the "
             "per-event variables)")] = None,
    seed: Annotated[Optional[int], typer.Option(help="seed of every sampling metric (default: each metric's own)")] = None,
    metrics: Annotated[Optional[str], typer.Option(help="comma-separated registered metrics (default: all that apply)")] = None,
    ablation: Annotated[bool, typer.Option(
        "--ablation", help="also the classifier AUC on each observable and each readout layer alone and without it "
                           "(one classifier each: minutes)")] = False,
    given: Annotated[Optional[str], typer.Option(
        help="with --ablation, comma-separated names kept in every subset (the conditions, e.g. energy)")] = None,
) -> None:
    """Compare a generated store with a reference: metrics.json and a self-contained report.html."""
    from physgen.report import evaluate as run

    if given and not ablation:
        raise typer.BadParameter("--given only applies with --ablation", param_hint="--given")
    result = run(reference, generated, out, weights=_name_list(weights), names=_name_list(names),
                 metrics=_name_list(metrics), seed=seed, ablation=ablation, given=_name_list(given))
    reasons: dict[str, list[str]] = {}
    for variable, reason in result.get("skipped", {}).items():
        reasons.setdefault(reason, []).append(variable)
    for reason, variables in reasons.items():
        err_console.print(f"[yellow]skipped[/] {', '.join(variables)}: {reason}", highlight=False, soft_wrap=True)
    table = Table("metric", "value")
    for key, value in result["summary"].items():
        table.add_row(key, "–" if value is None else f"{value:.4g}")
    console.print(table)
    if "classifier_ablation" in result:
        groups = dict(result["classifier_ablation"])
        everything = groups.pop("all columns")["auc"]
        table = Table(f"columns (AUC on all: {everything:.3f})", "AUC alone", "AUC without")
        for group, aucs in groups.items():
            table.add_row(group, f"{aucs['alone']:.3f}", f"{aucs['without']:.3f}")
        console.print(table)
    console.print(f"wrote {out / 'metrics.json'} and {out / 'report.html'}")


# ---------------------------------------------------------------- demo
@app.command()
@user_errors
def demo(
    out: Annotated[Path, typer.Option(help="folder for the demo's stores")] = Path("stores/demo"),
    toy: Annotated[bool, typer.Option("--toy", help="the quick toy loop instead of the calorimeter demo")] = False,
    showers: Annotated[int, typer.Option(help="showers to simulate and to generate", min=100)] = 1000,  # physgen.demo.DEMO_SHOWERS
) -> None:
    """Calorimeter showers: simulate, generate with a shipped CaloGAN, figures of merit, speed-up, report."""
    from physgen.demo import run_demo

    run_demo(out, console, toy=toy, showers=showers)


def main() -> None:  # pragma: no cover - entry point
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover - `python -m physgen.cli`
    main()
