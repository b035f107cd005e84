"""``physgen evaluate``: every metric between a reference and a generated store, and the HTML report.

``report.html`` and then ``metrics.json`` are written atomically (temporary file, then rename), so
a ``metrics.json`` present is a complete evaluation; a killed run is redone by rerunning it.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import math
import os
import re
from pathlib import Path
from typing import Any

import dask
import numpy as np
import xarray as xr

from physgen.errors import PhysgenError, SchemaError, check_seed
from physgen.metrics import (
    Comparison, check_given, classifier_ablation, column_values, default_metric_names, dilution, effective_sample_size, event_average, fill,
    get_metric, metric_names, reference_edges,
)
from physgen.observables import compute, default_observables, observable_names
from physgen.progress import event_progress
from physgen.report import _plots
from physgen.report._html import render_html
from physgen.schema import EVENT
from physgen.store import open_store
from physgen.train._run import atomic_write_bytes, atomic_write_text
from physgen.units import ureg

__all__ = ["evaluate", "BINS", "DEFAULT_METRICS", "metrics_summary"]

BINS = 50
"""Bins of every 1D histogram, spanning the reference's range (generated outliers in the end bins)."""

EXPENSIVE_METRICS = ("emd_mmd", "emd_coverage")
"""Registered metrics left out of the default set: thousands of event-level transport problems
(request them with ``metrics=``)."""

DEFAULT_METRICS = tuple(n for n in metric_names()
                        if n not in EXPENSIVE_METRICS and not get_metric(n).required_options)
"""The registered metrics ``evaluate`` reports by default (each only where it applies; those that need options,
such as the quality runs' one-column figures, only when asked for)."""

COLUMN_OPTIONS = {"s2": {"bins": BINS, "binning": "reference"}, "chi2_ndf": {"bins": BINS, "binning": "reference"},
                  "ks": {}, "w1": {}}
"""Options of the per-column table: the defaults of the dataset metrics that average them, so
the table and ``s2_mean``, ``chi2_ndf_mean``, ``ks_sum_columns`` and ``w1_mean`` are one computation."""


def _definition(entry: dict[str, Any]) -> tuple:
    """What must agree for two stores' variables to be compared: dims, shape and units (not the dtype)."""
    units = entry.get("units") or "dimensionless"
    try:
        units = ureg.Unit(units)
    except Exception:  # noqa: BLE001 (pint raises several types; an unparsable string compares as text)
        pass
    return tuple(entry.get("dims", ())), tuple(entry.get("shape", ())), units


def _comparison_plan(ref: xr.Dataset, gen: xr.Dataset, names: list[str] | None, weights: list[str]) -> dict[str, str]:
    """What is not compared and why, e.g. ``{"jet_eta": "only in the reference store ..."}``, after checking
    that a comparison makes sense.

    A generated store often holds fewer variables than the reference (a model generates the cells and the
    conditions it was trained with, not bookkeeping such as ``n_pileup`` or ``weight``), so the default
    columns the generated store cannot provide are skipped, not an error (:meth:`Comparison.columns` leaves
    them out). Variables both stores hold must agree in dims, shape and units; explicitly requested
    ``names`` must exist on both sides.
    """
    ref_schema = ref.physgen.provenance.get("schema", {})
    gen_schema = gen.physgen.provenance.get("schema", {})
    differing = [f"{k} (reference {ref_schema[k]}, generated {gen_schema[k]})" for k in ref_schema
                 if k in gen_schema and _definition(ref_schema[k]) != _definition(gen_schema[k])]
    if differing:
        msg = f"reference and generated stores define variables differently: {'; '.join(differing)}"
        raise SchemaError(msg)
    ref_obs, gen_obs = set(observable_names(ref)), set(observable_names(gen))
    if names is not None:
        sides = (("reference", ref_obs, ref), ("generated", gen_obs, gen))
        missing = {n: side for n in names for side, obs, ds in sides if n not in obs and n not in ds.data_vars}
        if missing:
            listed = ", ".join(f"{n} (missing in the {side} store)" for n, side in missing.items())
            msg = f"cannot compare {listed}"
            raise SchemaError(msg)
        return {}
    skipped: dict[str, str] = {}
    for name in default_metric_names(ref):
        if name in gen_obs or name in gen.data_vars:
            continue
        skipped[name] = ("observable not computable from the generated store's variables" if name in ref_obs
                         else "only in the reference store (the generator does not produce it)")
    extra = set(gen.physgen.provenance.get("extra_variables", {})) | set(weights)
    for name in default_metric_names(gen):
        if name not in ref_obs and name not in ref.data_vars and name not in extra:
            skipped[name] = "only in the generated store"
    if all(name in skipped for name in default_metric_names(ref)):
        msg = (f"the stores share no per-event observable or variable to compare (reference: {sorted(ref_schema)}, "
               f"generated: {sorted(gen_schema)})")
        raise SchemaError(msg)
    return skipped


def _finite(x: float) -> float | None:
    return float(x) if x is not None and math.isfinite(x) else None


def _json_safe(value: Any) -> Any:
    """NaN and infinities (a constant column, a zero-variance weight) become null in metrics.json."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return _finite(float(value))
    return value


def _weighted_corr(matrix: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """Correlation matrix of the columns of ``matrix`` (events × features), optionally weighted."""
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = np.atleast_2d(np.cov(matrix, rowvar=False, aweights=w))
        sigma = np.sqrt(np.diag(cov))
        corr = cov / np.outer(sigma, sigma)
    return np.nan_to_num(corr)


def _mean_images(ds: xr.Dataset, weights: np.ndarray | None) -> dict[str, xr.DataArray]:
    """Per-event cell arrays (≥ 2 dims after event) averaged over events with their event ``weights``;
    3D voxels summed over the first dim."""
    out = {}
    for name, var in ds.data_vars.items():
        if var.dims[:1] == (EVENT,) and var.ndim >= 3:
            mean = event_average(var, weights)
            out[str(name)] = mean.sum(mean.dims[0]) if mean.ndim == 3 else mean
    return out


def evaluate(reference: str | os.PathLike[str], generated: str | os.PathLike[str], out: str | os.PathLike[str], *,
             weights: list[str] | None = None, names: list[str] | None = None, metrics: list[str] | None = None,
             seed: int | None = None, classifier_epochs: int = 20, html: bool = True,
             ablation: bool = False, given: list[str] | None = None, progress: bool = True) -> dict[str, Any]:
    """Compare a generated store with a reference; write ``out/metrics.json`` and (``html``) ``out/report.html``.

    The generated store may hold fewer variables than the reference: what is not compared, and why, is
    printed by the CLI and written under ``skipped`` (see :func:`_comparison_plan`). ``progress``: bars
    counting the events read (observables computed store chunk by store chunk) and the metric steps.

    ``metrics`` names registered metrics (default :data:`DEFAULT_METRICS`, each where it applies);
    ``names`` the observables or features compared (default: the schema's metric columns);
    ``seed`` replaces every metric's own seed (default: theirs, e.g. JetNet's 42 for FPD/KPD).
    ``ablation``: also the classifier's AUC on each observable and each readout layer alone and without it
    (:func:`physgen.metrics.classifier_ablation`; ``given``: names kept in every subset, e.g. the conditions).
    """
    if seed is not None:
        check_seed(seed)
    weights = list(weights or [])
    ref_ds, gen_ds = open_store(reference), open_store(generated)
    skipped = _comparison_plan(ref_ds, gen_ds, names, weights)
    comparison = Comparison(ref_ds, gen_ds)
    metrics = _check_metrics(comparison, metrics)
    if ablation:
        check_given(comparison, names, given or [])
    weighted = {name: comparison.weighted(name) for name in weights}
    w = {name: c.weights for name, c in weighted.items()}
    total = int(ref_ds.sizes[EVENT]) + int(gen_ds.sizes[EVENT])
    with event_progress("evaluate: observables", total=total, enabled=progress) as advance:
        comparison.prefetch(names, advance=advance)
    ref, gen = comparison.columns(names)
    observables = compute(ref_ds, [n for n in (names or default_observables(ref_ds)) if n not in ref_ds.data_vars])
    units = {k: v.attrs.get("units", "") for k, v in observables.data_vars.items()}
    units |= {k: v.attrs.get("units", "") for k, v in ref_ds.data_vars.items() if k not in units}

    steps = 2 + len(weighted) + (len(ref) + 1 if html else 0) + ablation
    with event_progress("evaluate: metrics", total=steps, enabled=progress, unit="step") as step:
        per_column = _column_table(comparison, weighted, names)
        step(1)
        figures: list[tuple[str, str]] = []
        if html:
            for column, entry in per_column.items():
                a, b = ref[column], gen[column]
                edges = reference_edges(a, BINS)
                weighted_hists = {n: (fill(b, edges, wv), entry[f"s2_{n}"], entry[f"dilution_{n}"])
                                  for n, wv in w.items()}
                base = column if column in units else column.rsplit("_", 1)[0]
                figures.append((column, _plots.histogram_with_ratio(column, units.get(base, ""),
                                                                    fill(a, edges, comparison.reference_weights),
                                                                    fill(b, edges), entry["s2"], weighted_hists)))
                step(1)

        summary = metrics_summary(comparison, metrics, names=names, seed=seed, classifier_epochs=classifier_epochs)
        step(1)
        for name, c in weighted.items():
            summary |= {f"{k}_{name}": v for k, v in metrics_summary(c, metrics, names=names, seed=seed).items()}
            summary |= _weight_summary(name, c.weights, per_column, summary)
            step(1)
        for (na, wa), (nb, wb) in _pairs_of(w):
            summary[f"weight_correlation_{na}_{nb}"] = float(np.corrcoef(wa, wb)[0, 1])
        separation = None
        if ablation:
            separation = classifier_ablation(comparison, names, given=given or [], seed=seed or 0,
                                             epochs=classifier_epochs)
            step(1)
        result = {
            "reference": str(reference), "generated": str(generated), "weights": weights,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "events": {"reference": int(ref_ds.sizes[EVENT]), "generated": int(gen_ds.sizes[EVENT])},
            "summary": summary, "observables": per_column, "skipped": skipped,
            **({"classifier_ablation": separation} if separation is not None else {}),
            "metrics": {n: {"description": get_metric(n).description, "source": get_metric(n).source,
                            "ideal": get_metric(n).ideal} for n in metric_names()
                        if n in summary},
        }
        result = _json_safe(result)
        sections = _figures(ref_ds, gen_ds, ref, gen, w, comparison.reference_weights) if html else ()
        if html:
            step(1)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if html:
        atomic_write_text(out / "report.html", render_html(result, figures, *sections))
        result["figures"] = _write_pngs(out / "figures", [figures, *sections])
    atomic_write_text(out / "metrics.json", json.dumps(result, indent=2, allow_nan=False))
    return result


def _check_metrics(comparison: Comparison, metrics: list[str] | None) -> list[str] | None:
    """``metrics`` unchanged once every name is registered and applies to the stores (before any work)."""
    for name in metrics or []:
        metric = get_metric(name)
        if not metric.applies(comparison):
            msg = f"metric {name!r} does not apply to these stores: it needs {metric.requires.__doc__}"
            raise PhysgenError(msg)
    return metrics


def metrics_summary(comparison: Comparison, metrics: list[str] | None = None, *, names: list[str] | None = None,
                    seed: int | None = None, classifier_epochs: int = 20) -> dict[str, float]:
    """Every metric of ``metrics`` (default :data:`DEFAULT_METRICS`) that applies to ``comparison``
    (only weight-aware ones when either sample is weighted), from the registry: ``{name: value, name_error: error}``."""
    summary: dict[str, float] = {}
    for name in metrics or DEFAULT_METRICS:
        metric = get_metric(name)
        if (comparison.is_weighted and not metric.weighted) or not metric.applies(comparison):
            continue
        offered = {"names": names, "seed": seed, "epochs": classifier_epochs}
        options = {k: v for k, v in offered.items() if k in metric.options and v is not None}
        estimate = metric.evaluate(comparison, **options)
        summary[name] = estimate.value
        if estimate.has_error:
            summary[f"{name}_error"] = estimate.error
    return summary


def _column_table(comparison: Comparison, weighted: dict[str, Comparison], names) -> dict[str, dict[str, Any]]:
    """Per column: ⟨S²⟩, χ²/ndf, KS, W1 ± error and the means; per weight ⟨S²⟩, its ratio to the
    unweighted one, KS and the dilution r (paper 004)."""
    ref, gen = comparison.columns(names)
    w_ref = comparison.reference_weights
    table: dict[str, dict[str, Any]] = {k: {"mean_reference": float(np.average(ref[k], weights=w_ref)),
                                            "mean_generated": float(gen[k].mean())} for k in ref}
    for metric, options in COLUMN_OPTIONS.items():
        for column, estimate in column_values(comparison, metric, names, **options).items():
            table[column][metric] = estimate.value
            if estimate.has_error:
                table[column][f"{metric}_error"] = estimate.error
    for wname, c in weighted.items():
        s2 = column_values(c, "s2", names, **COLUMN_OPTIONS["s2"])
        ks = column_values(c, "ks", names)
        for column, entry in table.items():
            entry[f"s2_{wname}"] = s2[column].value
            entry[f"s2_ratio_{wname}"] = _finite(s2[column].value / entry["s2"]) if entry["s2"] > 0 else None
            entry[f"dilution_{wname}"] = _finite(dilution(ref[column], gen[column], c.weights))
            entry[f"ks_{wname}"] = ks[column].value
    return table


def _weight_summary(name: str, weights: np.ndarray, per_column: dict[str, dict[str, Any]],
                    summary: dict[str, Any]) -> dict[str, Any]:
    """How a weighting changed ⟨S²⟩ (mean ratio, median per-column ratio), its dilution and N_eff."""
    ratios = [e[f"s2_ratio_{name}"] for e in per_column.values() if e[f"s2_ratio_{name}"] is not None]
    dilutions = [e[f"dilution_{name}"] for e in per_column.values() if e[f"dilution_{name}"] is not None]
    s2, s2w = summary.get("s2_mean"), summary.get(f"s2_mean_{name}")
    return {
        f"s2_mean_ratio_{name}": s2w / s2 if s2 and s2w is not None else None,
        f"s2_ratio_median_{name}": float(np.median(ratios)) if ratios else None,
        f"dilution_median_{name}": float(np.median(dilutions)) if dilutions else None,
        f"effective_sample_size_{name}": effective_sample_size(weights),
    }


def _write_pngs(folder: Path, sections: list[list[tuple[str, str]]]) -> dict[str, str]:
    """Every report figure also as ``folder/<caption>.png`` (for READMEs); caption → path."""
    folder.mkdir(exist_ok=True)
    paths = {}
    for caption, png in (item for section in sections for item in section):
        path = folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", caption).strip("_") + ".png")
        atomic_write_bytes(path, base64.b64decode(png))
        paths[caption] = str(path)
    return paths


def _pairs_of(weights: dict[str, np.ndarray]) -> list[tuple[tuple[str, np.ndarray], tuple[str, np.ndarray]]]:
    items = list(weights.items())
    return [(items[i], items[j]) for i in range(len(items)) for j in range(i + 1, len(items))]


def _figures(ref_ds, gen_ds, ref, gen, w, w_ref):
    """Average images, correlation matrices (unweighted and per weight; the reference's with its own
    event weights ``w_ref``), weight distributions."""
    images = _image_figures(ref_ds, gen_ds, w_ref)
    labels = sorted(ref)
    ref_m, gen_m = (np.stack([c[k] for k in labels], axis=1) for c in (ref, gen))
    ref_corr = _weighted_corr(ref_m, w_ref)
    correlations = [("unweighted", _plots.correlation_triplet(labels, ref_corr, _weighted_corr(gen_m, None)))]
    correlations += [(f"weighted by {n}", _plots.correlation_triplet(labels, ref_corr, _weighted_corr(gen_m, wv),
                                                                      f"generated × {n}")) for n, wv in w.items()]
    weight_figures = [("weight distributions", _plots.weight_histograms(w))] if w else []
    weight_figures += [(f"{na} vs {nb}", _plots.weight_correlation(na, wa, nb, wb)) for (na, wa), (nb, wb) in _pairs_of(w)]
    return images, correlations, weight_figures


def _image_figures(ref_ds: xr.Dataset, gen_ds: xr.Dataset, w_ref: np.ndarray | None) -> list[tuple[str, str]]:
    ref_images, gen_images = _mean_images(ref_ds, w_ref), _mean_images(gen_ds, None)
    ref_images, gen_images = dask.compute(ref_images, gen_images)
    return [(name, _plots.image_triplet(name, ref_images[name].values, gen_images[name].values,
                                        tuple(map(str, ref_images[name].dims))))
            for name in ref_images if name in gen_images]
