"""``physgen evaluate``: every metric between a reference and a generated store, and the HTML report."""

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

from physgen.errors import PhysgenError, SchemaError
from physgen.metrics import (
    classifier_test, common_edges, dilution, effective_sample_size, emd_minimax_score, event_columns, fpd, kpd,
    ks_statistic, separation_power, wasserstein_1d, weight_values,
)
from physgen.metrics.named import KS_SUM_VARIABLES
from physgen.observables import compute, default_observables, observable_names
from physgen.progress import event_progress
from physgen.report import _plots
from physgen.report._html import render_html
from physgen.schema import EVENT
from physgen.store import open_store
from physgen.units import ureg

__all__ = ["evaluate", "BINS"]

BINS = 50
"""Bins of every 1D histogram (common binning spanning both samples)."""


def _definition(entry: dict[str, Any]) -> tuple:
    """What must agree for two stores' variables to be compared: dims, shape and units (not the dtype)."""
    units = entry.get("units") or "dimensionless"
    try:
        units = ureg.Unit(units)
    except Exception:  # noqa: BLE001 (pint raises several types; an unparsable string compares as text)
        pass
    return tuple(entry.get("dims", ())), tuple(entry.get("shape", ())), units


def _comparison_plan(ref: xr.Dataset, gen: xr.Dataset, names: list[str] | None, weights: list[str]
                     ) -> tuple[list[str], dict[str, str]]:
    """The columns to compare (observables computable from both stores, then per-event variables both
    stores hold) and the skipped ones with the reason, e.g. ``{"jet_eta": "only in the reference store"}``.

    A generated store often holds fewer variables than the reference (a model generates the cells and the
    conditions it was trained with, not the reference's bookkeeping such as ``n_pileup`` or ``weight``), so
    variables held by one store only are skipped, not an error. Variables both hold must agree in dims,
    shape and units; explicitly requested ``names`` must exist on both sides.
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
        missing = {n: side for n in names for side, obs, ds in (("reference", ref_obs, ref), ("generated", gen_obs, gen))
                   if n not in obs and n not in ds.data_vars}
        if missing:
            listed = ", ".join(f"{n} (missing in the {side} store)" for n, side in missing.items())
            msg = f"cannot compare {listed}"
            raise SchemaError(msg)
        return list(names), {}
    skipped: dict[str, str] = {}
    columns = []
    for name in default_observables(ref):
        if name in gen_obs:
            columns.append(name)
        else:
            skipped[name] = "observable not computable from the generated store's variables"
    for name, entry in ref_schema.items():
        if name in columns or name in weights or len(entry.get("dims", ())) != 0:
            continue
        if name in gen_schema:
            columns.append(name)
        else:
            skipped[name] = "only in the reference store (the generator does not produce it)"
    for name, entry in gen_schema.items():
        if name not in ref_schema and len(entry.get("dims", ())) == 0:
            skipped[name] = "only in the generated store"
    if not columns:
        msg = (f"the stores share no per-event observable or variable to compare (reference: {sorted(ref_schema)}, "
               f"generated: {sorted(gen_schema)})")
        raise SchemaError(msg)
    return columns, skipped


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


def _mean_images(ds: xr.Dataset) -> dict[str, xr.DataArray]:
    """Per-event cell arrays (≥ 2 dims after event) averaged over events; 3D voxels summed over the first dim."""
    out = {}
    for name, var in ds.data_vars.items():
        if var.dims[:1] == (EVENT,) and var.ndim >= 3:
            mean = var.astype("float64").mean(EVENT)
            out[str(name)] = mean.sum(mean.dims[0]) if mean.ndim == 3 else mean
    return out


def evaluate(reference: str | os.PathLike[str], generated: str | os.PathLike[str], out: str | os.PathLike[str], *,
             weights: list[str] | None = None, names: list[str] | None = None, seed: int = 0,
             classifier_epochs: int = 20, html: bool = True, progress: bool = True) -> dict[str, Any]:
    """Compare a generated store with a reference; write ``out/metrics.json`` and (``html``) ``out/report.html``.

    What is compared and what is skipped: see :func:`_comparison_plan`. ``progress``: bars counting the
    events read (observables computed store chunk by store chunk) and the metric steps."""
    weights = list(weights or [])
    ref_ds, gen_ds = open_store(reference), open_store(generated)
    names, skipped = _comparison_plan(ref_ds, gen_ds, names, weights)
    w = {name: weight_values(gen_ds, name) for name in weights}
    total = int(ref_ds.sizes[EVENT]) + int(gen_ds.sizes[EVENT])
    with event_progress("evaluate: observables", total=total, enabled=progress) as advance:
        ref = _columns(ref_ds, names, tuple(weights), advance)
        gen = _columns(gen_ds, names, tuple(weights), advance)
    if not ref:
        msg = "the stores have no per-event observables or features to compare"
        raise PhysgenError(msg)
    observables = compute(ref_ds, [n for n in names if n not in ref_ds.data_vars])
    units = {k: v.attrs.get("units", "") for k, v in observables.data_vars.items()}
    units |= {k: v.attrs.get("units", "") for k, v in ref_ds.data_vars.items() if k not in units}

    per_column: dict[str, dict[str, Any]] = {}
    figures: list[tuple[str, str]] = []
    with event_progress("evaluate: metrics", total=len(ref) + 2 + int(html), enabled=progress, unit="step") as step:
        for column in ref:
            a, b = ref[column], gen[column]
            edges = common_edges(a, b, BINS)
            entry: dict[str, Any] = {
                "s2": separation_power(a, b, bins=edges), "w1": wasserstein_1d(a, b), "ks": ks_statistic(a, b),
                "mean_reference": float(a.mean()), "mean_generated": float(b.mean()),
            }
            weighted = {}
            for wname, wv in w.items():
                s2w = separation_power(a, b, bins=edges, weights_b=wv)
                r = dilution(a, b, wv)
                entry[f"s2_{wname}"] = s2w
                entry[f"s2_ratio_{wname}"] = _finite(s2w / entry["s2"]) if entry["s2"] > 0 else None
                entry[f"dilution_{wname}"] = _finite(r)
                entry[f"ks_{wname}"] = ks_statistic(a, b, weights_b=wv)
                weighted[wname] = (wv, s2w, r)
            per_column[column] = entry
            base = column if column in units else column.rsplit("_", 1)[0]
            if html:
                figures.append((column, _plots.histogram_with_ratio(column, units.get(base, ""), a, b, edges,
                                                                    entry["s2"], weighted)))
            step(1)

        summary = _summary(ref_ds, gen_ds, ref, gen, per_column, w, seed, classifier_epochs)
        step(2)
        for (na, wa), (nb, wb) in _pairs_of(w):
            summary[f"weight_correlation_{na}_{nb}"] = float(np.corrcoef(wa, wb)[0, 1])
        result = {
            "reference": str(reference), "generated": str(generated), "weights": weights,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "events": {"reference": int(ref_ds.sizes[EVENT]), "generated": int(gen_ds.sizes[EVENT])},
            "summary": summary, "observables": per_column, "skipped": skipped,
        }
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        result = _json_safe(result)
        if html:
            sections = _figures(ref_ds, gen_ds, ref, gen, w)
            step(1)
    if html:
        _write_whole(out / "report.html", render_html(result, figures, *sections).encode())
        result["figures"] = _write_pngs(out / "figures", [figures, *sections])
    _write_whole(out / "metrics.json", json.dumps(result, indent=2, allow_nan=False).encode())
    return result


def _columns(ds: xr.Dataset, names: list[str], exclude: tuple[str, ...], advance) -> dict[str, np.ndarray]:
    """:func:`event_columns` of ``ds`` one store chunk at a time, advancing the progress bar by events."""
    n_events = int(ds.sizes[EVENT])
    step = max(int(ds.physgen.provenance.get("chunk_events") or n_events), 1)
    parts = []
    for start in range(0, n_events, step):
        parts.append(event_columns(ds.isel({EVENT: slice(start, start + step)}), names, exclude=exclude))
        advance(min(step, n_events - start))
    if len(parts) == 1:
        return parts[0]
    if not parts:
        return event_columns(ds, names, exclude=exclude)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _write_whole(path: Path, data: bytes) -> None:
    """Write a temporary sibling and rename it: an interrupted evaluate leaves old or new files, never half."""
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_pngs(folder: Path, sections: list[list[tuple[str, str]]]) -> dict[str, str]:
    """Every report figure also as ``folder/<caption>.png`` (for READMEs); caption → path."""
    folder.mkdir(exist_ok=True)
    paths = {}
    for caption, png in (item for section in sections for item in section):
        path = folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", caption).strip("_") + ".png")
        _write_whole(path, base64.b64decode(png))
        paths[caption] = str(path)
    return paths


def _pairs_of(weights: dict[str, np.ndarray]) -> list[tuple[tuple[str, np.ndarray], tuple[str, np.ndarray]]]:
    items = list(weights.items())
    return [(items[i], items[j]) for i in range(len(items)) for j in range(i + 1, len(items))]


def _figures(ref_ds, gen_ds, ref, gen, w):
    """Average images, correlation matrices (unweighted and per weight), weight distributions."""
    images = _image_figures(ref_ds, gen_ds)
    labels = sorted(ref)
    ref_m, gen_m = (np.stack([c[k] for k in labels], axis=1) for c in (ref, gen))
    ref_corr = _weighted_corr(ref_m, None)
    correlations = [("unweighted", _plots.correlation_triplet(labels, ref_corr, _weighted_corr(gen_m, None)))]
    correlations += [(f"weighted by {n}", _plots.correlation_triplet(labels, ref_corr, _weighted_corr(gen_m, wv),
                                                                      f"generated × {n}")) for n, wv in w.items()]
    weight_figures = [("weight distributions", _plots.weight_histograms(w))] if w else []
    weight_figures += [(f"{na} vs {nb}", _plots.weight_correlation(na, wa, nb, wb)) for (na, wa), (nb, wb) in _pairs_of(w)]
    return images, correlations, weight_figures


def _summary(ref_ds, gen_ds, ref, gen, per_column, w, seed, epochs) -> dict[str, Any]:
    columns = list(ref)
    ref_m, gen_m = (np.stack([c[k] for k in columns], axis=1) for c in (ref, gen))
    test = classifier_test(ref_m, gen_m, seed=seed, epochs=epochs)
    summary: dict[str, Any] = {
        "s2_mean": float(np.mean([e["s2"] for e in per_column.values()])),
        "ks_sum": float(sum(e["ks"] for e in per_column.values())),
        "w1_mean": float(np.mean([e["w1"] / (ref[k].std() or 1.0) for k, e in per_column.items()])),
        "c2st_auc": test.auc, "c2st_jsd": test.jsd, "c2st_temperature": test.temperature,
        "fpd": _finite(fpd(ref_m, gen_m, seed=seed).value), "kpd": _finite(kpd(ref_m, gen_m, seed=seed).value),
    }
    if all(k in per_column for k in KS_SUM_VARIABLES):
        summary["ks_sum_paper002"] = float(sum(per_column[k]["ks"] for k in KS_SUM_VARIABLES))
    if {"jet_mass", "tau_21", "signal"} <= set(columns):
        classes = sorted(set(np.unique(ref["signal"])) & set(np.unique(gen["signal"])))
        pick = lambda c, k: (c["jet_mass"][c["signal"] == k], c["tau_21"][c["signal"] == k])  # noqa: E731
        summary["emd_minimax"] = emd_minimax_score({k: pick(ref, k) for k in classes}, {k: pick(gen, k) for k in classes})
    for name, wv in w.items():
        summary[f"s2_mean_{name}"] = float(np.mean([e[f"s2_{name}"] for e in per_column.values()]))
        summary[f"s2_mean_ratio_{name}"] = (summary[f"s2_mean_{name}"] / summary["s2_mean"]
                                            if summary["s2_mean"] > 0 else None)
        ratios = [e[f"s2_ratio_{name}"] for e in per_column.values() if e[f"s2_ratio_{name}"] is not None]
        summary[f"s2_ratio_median_{name}"] = float(np.median(ratios)) if ratios else None
        dilutions = [e[f"dilution_{name}"] for e in per_column.values() if e[f"dilution_{name}"] is not None]
        summary[f"dilution_median_{name}"] = float(np.median(dilutions)) if dilutions else None
        summary[f"effective_sample_size_{name}"] = effective_sample_size(wv)
        summary[f"ks_sum_{name}"] = float(sum(e[f"ks_{name}"] for e in per_column.values()))
    return summary


def _image_figures(ref_ds: xr.Dataset, gen_ds: xr.Dataset) -> list[tuple[str, str]]:
    ref_images, gen_images = _mean_images(ref_ds), _mean_images(gen_ds)
    ref_images, gen_images = dask.compute(ref_images, gen_images)
    return [(name, _plots.image_triplet(name, ref_images[name].values, gen_images[name].values,
                                        tuple(map(str, ref_images[name].dims))))
            for name in ref_images if name in gen_images]
