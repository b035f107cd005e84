"""The ``quality`` step: figures of merit of a generated store against a reference, with targets.

A quality pipeline lists its figures in the step's ``figures`` argument, each a registered metric
(:func:`physgen.metrics.get_metric`) with options, an optional event selection (``where: {signal: 1}``
for the W-jet class) and an optional target (pass when value ≤ target)::

    - {label: "M_ll mean shift", metric: mean_shift, options: {names: [m_ll]}, target: 0.5, units: GeV,
       source: "issue 14 target"}
    - {label: "KS", metric: ks_sum, each: [mu1_px, mu1_pz, ...]}      # one value per name

``baseline`` (optional) names a second reference store, independent of ``reference`` (e.g. the training
sample): every figure is also computed for its first N events against ``reference``, N the generated
sample's size — the statistical floor of the figure at these sample sizes (the KS sum or the AUC a
perfect generator would get).

The step writes ``OUT/quality.json`` (values, targets, pass/fail, the reference's and the generated
store's provenance in brief, and the mean and spread of the default observables of the generated
store's feature schema in both stores, per class of the model's label: :func:`observable_summary`, what a shipped model's regression
test compares a fresh sample to) and ``OUT/quality.md`` (the table), and returns the JSON content. For an
average-image figure (``mean_image_difference``) it also draws the two average images and their
relative difference (``OUT/figures/<label>.png``, paper 000 Fig. 6 style).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import yaml
from pydantic import Field, ValidationError, model_validator

from physgen.errors import PhysgenError, SpecError, did_you_mean
from physgen.metrics import event_average, event_columns, event_weights, get_metric, weighted_moments
from physgen.observables import default_observables
from physgen.schema import EVENT
from physgen.specs._base import SpecModel
from physgen.store import open_store

__all__ = ["Figure", "check_figures", "observable_summary", "quality", "quality_table", "store_summary"]


class Figure(SpecModel):
    """One figure of merit of a quality run."""

    label: str = Field(description="what the table shows, e.g. 'M_ll mean shift'")
    metric: str = Field(description="a registered metric (physgen.metrics.metric_names())")
    options: dict[str, Any] = Field(default_factory=dict)
    where: dict[str, float] = Field(default_factory=dict, description="per-event variable == value, both stores")
    each: list[str] | None = Field(None, description="evaluate once per name (as options.names = [name])")
    target: float | None = Field(None, description="pass when the value (every value with `each`) is ≤ target")
    units: str = ""
    source: str = Field("", description="where the target comes from")

    @model_validator(mode="after")
    def _known_metric_and_options(self) -> Figure:
        """The metric is registered and takes every option (``weights`` names the generated weights)."""
        try:
            metric = get_metric(self.metric)
        except PhysgenError as exc:
            raise ValueError(str(exc)) from None
        known = [*metric.options, "weights"]
        for key in self.options:
            if key not in known:
                raise ValueError(f"metric {self.metric!r} takes no option {key!r}{did_you_mean(key, known)}")
        return self


def _selected(ds: xr.Dataset, where: dict[str, float], role: str) -> xr.Dataset:
    for name, value in where.items():
        if name not in ds.data_vars or ds[name].dims != (EVENT,):
            msg = f"the {role} store has no per-event variable {name!r} to select {name} == {value} on"
            raise PhysgenError(msg)
        mask = np.asarray(ds[name].values == value)
        if not mask.any():
            msg = f"the {role} store has no event with {name} == {value}"
            raise PhysgenError(msg)
        ds = ds.isel({EVENT: mask})
    return ds


def observable_summary(ds: xr.Dataset, names: list[str], label: str | None = None) -> dict[str, Any]:
    """Mean, standard deviation and count of the per-event columns ``names`` of ``ds``, per value of the
    class ``label`` when given (else one group ``all``); mean and spread weighted by the store's event
    weights (a biased reference), the count the number of stored events."""
    columns = {k: v for cols in event_columns(ds, names).values() for k, v in cols.items()}
    weights = event_weights(ds, "the store")
    weights = np.ones(ds.sizes[EVENT]) if weights is None else weights
    groups = {"all": np.ones(ds.sizes[EVENT], bool)}
    if label is not None:
        values = np.asarray(ds[label].values)
        groups = {f"{v:g}": values == v for v in np.unique(values)}
    return {"label": label, "names": names, "groups": {
        group: {k: _moments(c[mask], weights[mask]) | {"events": int(mask.sum())}
                for k, c in columns.items()} for group, mask in groups.items()}}


def _moments(x: np.ndarray, w: np.ndarray) -> dict[str, float]:
    mean, std, _ = weighted_moments(x, w)
    return {"mean": mean, "std": std}


def _summaries(reference: xr.Dataset, generated: xr.Dataset) -> dict[str, Any]:
    """:func:`observable_summary` of both stores: the default observables of the generated store's feature
    schema (written by this installation, so its names are current; an older reference store, e.g. a
    shipped Geant4 sample, may name observables renamed since), else the scalar features both stores
    hold, per class of the generating model's label (from the generated store's provenance)."""
    model = generated.physgen.provenance.get("specs", {}).get("model")
    labels = yaml.safe_load(model["text"]).get("data", {}).get("labels", []) if model else []
    label = labels[0] if labels and labels[0] in reference.data_vars else None
    names = list(default_observables(generated)) or sorted(
        n for n, v in generated.data_vars.items() if v.dims == (EVENT,) and n in reference.data_vars and n != label)
    return {"reference": observable_summary(reference, names, label),
            "generated": observable_summary(generated, names, label)}


def store_summary(url: str | os.PathLike[str]) -> dict[str, Any]:
    """What a quality record says about a store: events, producer, seed and the name and hash of each spec."""
    ds = open_store(url)
    meta = ds.physgen.provenance
    producer = meta.get("producer", {})
    return {"store": os.fspath(url), "events": int(ds.sizes.get(EVENT, 0)), "seed": meta.get("seed"),
            "producer": {k: producer.get(k) for k in ("kind", "name", "checkpoint_sha256", "shipped") if k in producer},
            "specs": {role: {"name": s.get("name"), "hash": s.get("hash")} for role, s in meta.get("specs", {}).items()}}


def check_figures(figures: list[dict[str, Any]]) -> list[Figure]:
    """The parsed figures; a SpecError names a malformed figure or an unknown metric (checked before any run)."""
    parsed = []
    for i, figure in enumerate(figures):
        try:
            parsed.append(Figure.model_validate(figure))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            msg = f"quality figure {i} ({figure.get('label', '?')!r}): {problems}"
            raise SpecError(msg) from None
        get_metric(parsed[-1].metric)  # an unknown metric fails before any figure is computed
    return parsed


def _value(figure: Figure, reference: xr.Dataset, generated: xr.Dataset, names: list[str] | None) -> float:
    options = figure.options | ({"names": names} if names is not None else {})
    weights = options.pop("weights", None)  # the generated store's weight variable (DCTR), not a metric option
    try:
        metric = get_metric(figure.metric)
        metric.check_options(options)
    except PhysgenError as exc:
        msg = f"quality figure {figure.label!r}: {exc}"
        raise SpecError(msg) from None
    return metric(reference, generated, weights=weights, **options).value


def _passes(values: list[float], target: float | None) -> bool | None:
    if target is None:
        return None
    return all(math.isfinite(v) and v <= target for v in values)


def _evaluate(figure: Figure, reference: xr.Dataset, other: xr.Dataset) -> float | dict[str, float]:
    if figure.each is None:
        return _value(figure, reference, other, None)
    return {name: _value(figure, reference, other, [name]) for name in figure.each}


def _average_images(figure: Figure, reference: xr.Dataset, generated: xr.Dataset, folder: Path) -> str:
    """PNG of the event-averaged images of ``reference`` and ``generated`` and their relative difference."""
    import base64
    import re

    import dask

    from physgen.report._plots import image_triplet

    (name,) = figure.options["names"][:1]
    ref, gen = dask.compute(event_average(reference[name], event_weights(reference, "the reference")),
                            event_average(generated[name]))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", figure.label).strip("_") + ".png")
    png = image_triplet(f"{name} ({figure.label})", ref.values, gen.values, tuple(map(str, ref.dims)))
    path.write_bytes(base64.b64decode(png))
    return str(path)


def quality(reference: str | os.PathLike[str], generated: str | os.PathLike[str], out: str | os.PathLike[str], *,
            figures: list[Figure], baseline: str | os.PathLike[str] | None = None,
            title: str = "") -> dict[str, Any]:
    """Compute ``figures`` of ``generated`` (and of ``baseline``) against ``reference``; write
    ``out/quality.json`` and ``out/quality.md``."""
    parsed = check_figures(figures)
    ref_ds, gen_ds = open_store(reference), open_store(generated)
    base_ds = None
    if baseline is not None:  # as many events as the generated sample: the floor of a sample of that size
        base_ds = open_store(baseline)
        base_ds = base_ds.isel({EVENT: slice(0, min(base_ds.sizes[EVENT], gen_ds.sizes[EVENT]))})
    rows = []
    for figure in parsed:
        ref_sel = _selected(ref_ds, figure.where, "reference")
        row: dict[str, Any] = figure.to_dict()
        value = _evaluate(figure, ref_sel, _selected(gen_ds, figure.where, "generated"))
        row["values" if figure.each else "value"] = value
        weights = figure.options.get("weights")
        if base_ds is not None and (weights is None or weights in base_ds.data_vars):
            # (a figure of generated-event weights has no floor: the second reference has no weights)
            row["baseline_values" if figure.each else "baseline_value"] = _evaluate(
                figure, ref_sel, _selected(base_ds, figure.where, "baseline"))
        row["passed"] = _passes(list(value.values()) if figure.each else [value], figure.target)
        if figure.metric == "mean_image_difference":
            row["figure"] = _average_images(figure, ref_sel, _selected(gen_ds, figure.where, "generated"),
                                            Path(out) / "figures")
        rows.append(row)
    judged = [r["passed"] for r in rows if r["passed"] is not None]
    result = {
        "title": title, "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "reference": store_summary(reference), "generated": store_summary(generated),
        "baseline": None if baseline is None else store_summary(baseline),
        "figures": rows, "targets_met": sum(judged), "targets": len(judged),
        "observables": _summaries(ref_ds, gen_ds),
    }
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "quality.json").write_text(json.dumps(result, indent=1, default=str))
    (folder / "quality.md").write_text(quality_table(result))
    return result


def _fmt(value: float) -> str:
    return f"{value:.3g}" if math.isfinite(value) else str(value)


def quality_table(result: dict[str, Any]) -> str:
    """The Markdown table of a quality record: one row per figure (per name for ``each`` figures)."""
    base = result.get("baseline")
    lines = [f"### {result['title'] or 'quality'}", "",
             f"reference: {result['reference']['events']} events · generated: {result['generated']['events']} events"
             + (f" · floor: {min(base['events'], result['generated']['events'])} events of a second reference in its "
                "place" if base else ""),
             "", "| figure | selection | value | floor | target | met |", "|---|---|---|---|---|---|"]
    for row in result["figures"]:
        where = ", ".join(f"{k} = {v:g}" for k, v in row.get("where", {}).items()) or "all"
        target = "–" if row.get("target") is None else f"≤ {row['target']:g} {row.get('units', '')}".strip()
        met = {True: "yes", False: "**no**", None: "–"}[row["passed"]]
        if "values" in row:
            value = ", ".join(f"{k} {_fmt(v)}" for k, v in row["values"].items())
            floor = ", ".join(f"{k} {_fmt(v)}" for k, v in row.get("baseline_values", {}).items()) or "–"
        else:
            value = f"{_fmt(row['value'])} {row.get('units', '')}".strip()
            floor = _fmt(row["baseline_value"]) if "baseline_value" in row else "–"
        lines.append(f"| {row['label']} | {where} | {value} | {floor} | {target} | {met} |")
    lines += ["", f"targets met: {result['targets_met']} of {result['targets']}"]
    return "\n".join(lines) + "\n"
