"""The zoo's index: shipped generators by name, with their file, sha256, reference, measured quality
and training cost; resolving a name (or a run directory, or a checkpoint file) to a loaded generator;
shipping the result of a quality run; retraining a shipped model with the pipeline that made it.

``physgen/zoo/index.json`` maps each name to its entry; the weights live in ``physgen/zoo/weights/``
and are part of the installed package (wheel included), at most :data:`MAX_ZOO_BYTES` in all.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
import yaml

from physgen.errors import PhysgenError, did_you_mean
from physgen.pipeline import read_record
from physgen.provenance import file_sha256, json_sha256
from physgen.store import read_provenance
from physgen.train import LoadedRun, load_run
from physgen.zoo._checkpoint import load_checkpoint, read_checkpoint

__all__ = ["MAX_ZOO_BYTES", "README_MARKERS", "ZOO_DIR", "load_generator", "quality_table", "reference_changes",
           "retrain", "ship", "shipped_model", "shipped_models"]

ZOO_DIR = Path(__file__).parent
"""The folder of the shipped index (``index.json``) and weights (``weights/``) inside the package."""

MAX_ZOO_BYTES = 30 * 1024 * 1024
"""Budget for all shipped weights together (they travel in every wheel)."""

QUALITY_KEYS = ("label", "metric", "where", "value", "values", "baseline_value", "baseline_values", "target", "passed",
                "units", "source")


def _index_path(zoo: Path | None) -> Path:
    return (zoo or ZOO_DIR) / "index.json"


def shipped_models(zoo: str | os.PathLike[str] | None = None) -> dict[str, dict[str, Any]]:
    """Every shipped generator: name → index entry (file, sha256, reference, quality, cost, pipeline)."""
    path = _index_path(Path(zoo) if zoo else None)
    return json.loads(path.read_text()) if path.is_file() else {}


def shipped_model(name: str, zoo: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """The index entry of the shipped generator ``name``; a clear error names the shipped ones."""
    models = shipped_models(zoo)
    if name not in models:
        msg = (f"{name!r} is not a run directory, a shipped-checkpoint file or a shipped model"
               f"{did_you_mean(name, models, listing='shipped models')}")
        raise PhysgenError(msg)
    return models[name]


def load_generator(source: str | os.PathLike[str], *, checkpoint: str = "best", device: torch.device | str = "cpu",
                   zoo: str | os.PathLike[str] | None = None) -> LoadedRun:
    """A trained generator from ``source``: a run directory (``checkpoint`` picks the snapshot), a shipped
    checkpoint file, or the name of a shipped model (its sha256 is checked against the index)."""
    path = Path(source)
    if path.is_dir():
        return load_run(path, checkpoint=checkpoint, device=device)
    if path.is_file():
        return load_checkpoint(path, device=device)
    entry = shipped_model(os.fspath(source), zoo)
    folder = Path(zoo) if zoo else ZOO_DIR
    file = folder / entry["file"]
    if not file.is_file():
        msg = f"shipped model {os.fspath(source)!r}: its weights {str(file)!r} are missing from this installation"
        raise PhysgenError(msg)
    sha = file_sha256(file)
    if sha != entry["sha256"]:
        msg = f"shipped model {os.fspath(source)!r}: {str(file)!r} has {sha}, the index says {entry['sha256']}"
        raise PhysgenError(msg)
    summary = {"sha256": sha, "quality": entry.get("quality"), "pipeline": entry.get("pipeline")}
    return load_checkpoint(file, device=device, shipped=summary)


def _steps(record: dict[str, Any], verb: str, workdir: Path) -> list[dict[str, Any]]:
    """The recorded ``verb`` steps of a pipeline run, in the order of its spec; at least one."""
    found = [s for s in record["steps"] if s["run"] == verb]
    if not found:
        msg = (f"the pipeline run in {str(workdir)!r} has no '{verb}' step; shipping needs one "
               f"(steps: {[s['run'] for s in record['steps']]})")
        raise PhysgenError(msg)
    return sorted(found, key=lambda s: int(s["label"].rsplit(" step ", 1)[1].split()[0]))


def _step(record: dict[str, Any], verb: str, workdir: Path) -> dict[str, Any]:
    found = _steps(record, verb, workdir)
    if len(found) != 1:
        msg = (f"the pipeline run in {str(workdir)!r} has {len(found)} '{verb}' steps; shipping needs exactly one "
               f"(steps: {[s['run'] for s in record['steps']]})")
        raise PhysgenError(msg)
    return found[0]


def _quality_record(step: dict[str, Any], record: dict[str, Any], workdir: Path) -> dict[str, Any]:
    path = _here(step["args"]["out"], record, workdir) / "quality.json"
    if not path.is_file():
        msg = f"no quality record {str(path)!r}: the quality step of {str(workdir)!r} has not finished"
        raise PhysgenError(msg)
    return json.loads(path.read_text())


def _quality_summary(quality: dict[str, Any]) -> dict[str, Any]:
    return {"title": quality.get("title", ""), "evaluated_against": quality["reference"],
            "generated_events": quality["generated"]["events"],
            "figures": [{k: row[k] for k in QUALITY_KEYS if k in row} for row in quality["figures"]],
            "targets_met": quality["targets_met"], "targets": quality["targets"]}


def _cost(record: dict[str, Any]) -> dict[str, Any]:
    train = [s for s in record["steps"] if s["run"] == "train"]
    simulate = [s for s in record["steps"] if s["run"] == "simulate"]
    return {"train_wall_s": sum(s["wall_s"] for s in train), "train_cpu_s": sum(s["cpu_s"] for s in train),
            "reference_wall_s": sum(s["wall_s"] for s in simulate), "reference_cpu_s": sum(s["cpu_s"] for s in simulate),
            "train_load_average": [s["load_average"] for s in train], "hardware": record["hardware"],
            "started": record["started"], "finished": record.get("finished")}


def _training(content: dict[str, Any], record: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """The checkpoint's training notes, plus whether the train step stopped at its ``time_limit_s`` and the last
    step its run logged (such a run may have no final checkpoint to take the step count from)."""
    train = [s for s in record["steps"] if s["run"] == "train"]
    if not train:
        return content["training"]
    metrics = _here(train[-1]["args"]["run_dir"], record, workdir) / "metrics.jsonl"
    lines = metrics.read_text().splitlines() if metrics.is_file() else []
    steps = [json.loads(line)["step"] for line in lines if line.strip().endswith("}")]
    return content["training"] | {"stopped_at_time_limit": bool(train[-1].get("stopped_at_time_limit")),
                                  "last_logged_step": max(steps, default=None)}


def _here(path: str, record: dict[str, Any], workdir: Path) -> Path:
    """``path`` as recorded by a pipeline run, moved along with its working folder (a GPU run unpacked here): a
    path inside the recorded working folder is read inside ``workdir``, even where the recorded one still exists
    (another run may have been made there since)."""
    recorded = Path(path)
    if not recorded.is_relative_to(record["workdir"]):
        return recorded
    return workdir / recorded.relative_to(record["workdir"])


def _is_shipped_pipeline(record: dict[str, Any]) -> bool:
    """Whether the run used the shipped pipeline spec of its name unchanged (else e.g. a reduced copy)."""
    from physgen.specs import SpecRegistry

    try:
        return SpecRegistry.default().get("pipeline", record["pipeline"]).hash == record["spec"]["hash"]
    except PhysgenError:
        return False


def ship(workdir: str | os.PathLike[str], *, name: str | None = None,
         zoo: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Ship the generator of the quality run in ``workdir``: copy its exported checkpoint into the zoo under
    ``name`` (default: the name it was exported with) and record its reference, measured quality (the
    first quality step: against the reference of its training; later quality steps, e.g. against a
    Geant4 sample, as ``comparisons``), the summary of its observables (reference and generated, per class, from the quality record),
    training cost and pipeline in the index. Refuses (and changes nothing) when the zoo would exceed
    :data:`MAX_ZOO_BYTES` or the run has no quality record."""
    workdir = Path(workdir)
    record = read_record(workdir)
    exported = _here(_step(record, "export", workdir)["result"], record, workdir)
    quality, *comparisons = [_quality_record(s, record, workdir) for s in _steps(record, "quality", workdir)]
    content = read_checkpoint(exported)
    name = name or content["name"]
    spec = yaml.safe_load(content["info"]["model_spec"]["text"])
    folder = Path(zoo) if zoo else ZOO_DIR
    models = shipped_models(folder)
    others = sum((folder / e["file"]).stat().st_size for n, e in models.items() if n != name
                 and (folder / e["file"]).is_file())
    size = exported.stat().st_size
    if others + size > MAX_ZOO_BYTES:
        msg = (f"shipping {name!r} ({size / 2**20:.1f} MiB) would bring the zoo to {(others + size) / 2**20:.1f} MiB, "
               f"over its budget of {MAX_ZOO_BYTES / 2**20:.0f} MiB")
        raise PhysgenError(msg)
    store = content["reference"].get("store")
    reference = content["reference"] | _producer(store and str(_here(store, record, workdir)))
    target = folder / "weights" / f"{name}.pt"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(exported, tmp)
    os.replace(tmp, target)
    models[name] = {
        "file": str(target.relative_to(folder)), "sha256": file_sha256(target), "bytes": size,
        "model_spec": content["info"]["model_spec"]["name"],
        "architecture": spec["architecture"],
        "dtype": content["dtype"], "reference": reference, "training": _training(content, record, workdir),
        "quality": _quality_summary(quality), "comparisons": [_quality_summary(c) for c in comparisons],
        "observables": quality["observables"], "cost": _cost(record),
        "pipeline": record["pipeline"], "pipeline_hash": record["spec"]["hash"],
        "pipeline_description": yaml.safe_load(record["spec"]["text"]).get("description", ""),
        "pipeline_is_shipped_spec": _is_shipped_pipeline(record),
        "shipped": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    index = _index_path(folder)
    tmp = index.with_name(".index.json.tmp")
    tmp.write_text(json.dumps(dict(sorted(models.items())), indent=1) + "\n")
    os.replace(tmp, index)
    return models[name]


def _physics_hash(producer: dict[str, Any]) -> str:
    """Hash of what in a producer record decides the simulated events (:meth:`Simulator.physics` of
    the simulator it names; the whole record for a producer that is not a registered simulator)."""
    from physgen.sim import get_simulator

    try:
        producer = get_simulator(producer["name"]).physics(producer)
    except (PhysgenError, KeyError, TypeError):
        pass
    return json_sha256(producer)


def _producer(store: str | None) -> dict[str, str]:
    """``{"producer": hash}`` of the physics in the training store's producer record (the simulator,
    its versions, options and the tune constants it uses), or nothing when the store is gone."""
    try:
        return {"producer": _physics_hash(read_provenance(store)["producer"])}
    except (PhysgenError, OSError, KeyError, TypeError):
        return {}


def reference_changes(entry: dict[str, Any]) -> list[str]:
    """What changed since the shipped model's reference was made: its dataset spec, or the physics
    the simulator of that spec would record now (versions, options, the tune constants it uses: a
    refitted ``tunes.yaml`` changes the physics without touching a spec). Empty when it is current; a producer
    hash missing from older entries is not checked."""
    from physgen.sim import build_simulator
    from physgen.specs import SpecRegistry
    from physgen.store import resolve_dataset

    dataset = entry["reference"]["specs"].get("dataset", {})
    try:
        if SpecRegistry.default().get("dataset", dataset.get("name")).hash != dataset.get("hash"):
            return ["dataset spec"]
        shipped = entry["reference"].get("producer")
        if shipped is not None and _physics_hash(build_simulator(resolve_dataset(dataset["name"])).producer()) != shipped:
            return ["simulator (version, options or tune)"]
    except PhysgenError:
        return ["dataset spec (no longer shipped)"]
    return []


README_MARKERS = ("<!-- zoo:begin -->", "<!-- zoo:end -->")
"""The README section :func:`quality_table` refreshes (``physgen zoo table --readme README.md``)."""


def _worst(values: dict[str, float]) -> str:
    worst = max(values.values())
    return f"max {worst:.3g}" if len(values) > 1 else f"{worst:.3g}"


def _figure_cell(row: dict[str, Any], floor: str = "") -> str:
    """One figure in a table cell; ``floor`` names the baseline to quote beside the value (none when empty)."""
    value = _worst(row["values"]) if "values" in row else f"{row['value']:.3g}"
    if floor and ("baseline_values" in row or "baseline_value" in row):
        baseline = _worst(row["baseline_values"]) if "baseline_values" in row else f"{row['baseline_value']:.3g}"
        value += f" ({floor}: {baseline})"
    where = ", ".join(f"{k} = {v:g}" for k, v in row.get("where", {}).items())
    target = "" if row.get("target") is None else f" (≤ {row['target']:g}{' ✓' if row['passed'] else ' ✗'})"
    return f"{row['label']}{f' [{where}]' if where else ''}: {value}{target}".replace("|", "\\|")  # a Markdown cell


def _steps_cell(training: dict[str, Any]) -> str:
    steps = training.get("steps") or training.get("last_logged_step")
    return f"{steps} steps" + (" (stopped at its time limit)" if training.get("stopped_at_time_limit") else "")


def quality_table(zoo: str | os.PathLike[str] | None = None) -> str:
    """The Markdown quality table of the shipped models: reference, training cost and hardware, figures vs targets."""
    lines = ["| model | reference (train / eval events) | training | hardware (load) | targets met | figures |",
             "|---|---|---|---|---|---|"]
    for name, entry in shipped_models(zoo).items():
        reference, quality, cost = entry["reference"], entry["quality"], entry["cost"]
        hw = cost["hardware"]
        loads = [s["start"][0] for s in cost.get("train_load_average", [])]
        device = hw["gpu"] or f"{hw['affinity']} × {hw['cpu']}"
        lines.append(
            f"| `{name}` ({entry['architecture']}) | {reference['specs'].get('dataset', {}).get('name')} "
            f"{reference.get('events')} / {quality['evaluated_against']['events']} | "
            f"{_steps_cell(entry['training'])}, {cost['train_wall_s'] / 60:.0f} min wall, "
            f"{cost['train_cpu_s'] / 60:.0f} CPU-min | {device} ({', '.join(f'{x:.1f}' for x in loads)}) | "
            f"{quality['targets_met']}/{quality['targets']} | "
            + "; ".join(_figure_cell(row) for row in quality["figures"] if row.get("target") is not None) + " |")
        for comparison in entry.get("comparisons", []):
            against = comparison["evaluated_against"]
            lines.append(
                f"| ↳ `{name}` vs {against['specs'].get('dataset', {}).get('name')} ({against['producer'].get('name')}) "
                f"| – / {against['events']} | – | – | {comparison['targets_met']}/{comparison['targets']} | "
                + "; ".join(_figure_cell(row, floor="training simulator") for row in comparison["figures"]
                            if row.get("target") is not None)
                + " |")
    return "\n".join(lines) + "\n"


def retrain(name: str, *, workdir: str | os.PathLike[str] | None = None, resume: bool = False,
            zoo: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Rerun the quality pipeline that made the shipped model ``name`` (references, training, quality) and
    ship its result under the same name: one command when a reference changes."""
    from physgen.pipeline import run_pipeline

    entry = shipped_model(name, zoo)
    folder = Path(workdir) if workdir is not None else Path("stores") / entry["pipeline"]
    run_pipeline(entry["pipeline"], workdir=folder, overwrite=not resume, resume=resume)
    return ship(folder, name=name, zoo=zoo)
