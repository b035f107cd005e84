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
    classifier_test, common_edges, dilution, effective_sample_size, emd_minimax_score, event_columns, fpd, kpd,
    ks_statistic, separation_power, wasserstein_1d, weight_values,
)
from physgen.metrics.named import KS_SUM_VARIABLES
from physgen.observables import compute, default_observables
from physgen.report import _plots
from physgen.report._html import render_html
from physgen.schema import EVENT
from physgen.store import open_store
from physgen.train._run import atomic_write_text

__all__ = ["evaluate", "BINS"]

BINS = 50
"""Bins of every 1D histogram (common binning spanning both samples)."""


def _check_same_schema(ref: xr.Dataset, gen: xr.Dataset) -> None:
    """Every variable of the reference must exist in the generated store with the same definition;
    the generated store may hold more (the weights DCTR adds)."""
    ref_schema = ref.physgen.provenance.get("schema", {})
    gen_schema = gen.physgen.provenance.get("schema", {})
    differ = sorted(k for k, v in ref_schema.items() if gen_schema.get(k) != v)
    if differ:
        msg = f"reference and generated stores have different schemas (variables differing: {differ})"
        raise SchemaError(msg)


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
             classifier_epochs: int = 20, html: bool = True) -> dict[str, Any]:
    """Compare two stores of the same schema; write ``out/metrics.json`` and (``html``) ``out/report.html``."""
    check_seed(seed)
    weights = list(weights or [])
    ref_ds, gen_ds = open_store(reference), open_store(generated)
    _check_same_schema(ref_ds, gen_ds)
    w = {name: weight_values(gen_ds, name) for name in weights}
    ref = event_columns(ref_ds, names, exclude=tuple(weights))
    gen = event_columns(gen_ds, names, exclude=tuple(weights))
    if not ref:
        msg = "the stores have no per-event observables or features to compare"
        raise PhysgenError(msg)
    observables = compute(ref_ds, [n for n in (names or default_observables(ref_ds)) if n not in ref_ds.data_vars])
    units = {k: v.attrs.get("units", "") for k, v in observables.data_vars.items()}
    units |= {k: v.attrs.get("units", "") for k, v in ref_ds.data_vars.items() if k not in units}

    per_column: dict[str, dict[str, Any]] = {}
    figures: list[tuple[str, str]] = []
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

    summary = _summary(ref_ds, gen_ds, ref, gen, per_column, w, seed, classifier_epochs)
    for (na, wa), (nb, wb) in _pairs_of(w):
        summary[f"weight_correlation_{na}_{nb}"] = float(np.corrcoef(wa, wb)[0, 1])
    result = {
        "reference": str(reference), "generated": str(generated), "weights": weights,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "events": {"reference": int(ref_ds.sizes[EVENT]), "generated": int(gen_ds.sizes[EVENT])},
        "summary": summary, "observables": per_column,
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result = _json_safe(result)
    if html:
        sections = _figures(ref_ds, gen_ds, ref, gen, w)
        atomic_write_text(out / "report.html", render_html(result, figures, *sections))
        result["figures"] = _write_pngs(out / "figures", [figures, *sections])
    atomic_write_text(out / "metrics.json", json.dumps(result, indent=2, allow_nan=False))
    return result


def _write_pngs(folder: Path, sections: list[list[tuple[str, str]]]) -> dict[str, str]:
    """Every report figure also as ``folder/<caption>.png`` (for READMEs); caption → path."""
    folder.mkdir(exist_ok=True)
    paths = {}
    for caption, png in (item for section in sections for item in section):
        path = folder / (re.sub(r"[^A-Za-z0-9_.-]+", "_", caption).strip("_") + ".png")
        path.write_bytes(base64.b64decode(png))
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
