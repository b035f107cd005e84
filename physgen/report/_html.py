"""A self-contained HTML page (inline CSS, figures as base64 PNG) from the evaluation results."""

from __future__ import annotations

import html
from typing import Any

from physgen.report._explanations import explain

__all__ = ["render_html"]

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1500px; }
h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.6em; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; } figcaption { font-size: .8em; color: #555; text-align: center; }
img { max-width: 100%; } .meta { color: #555; font-size: .9em; } .legend { font-size: .85em; color: #333; }
"""


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _table(rows: list[dict[str, Any]], first: str) -> str:
    keys = [first] + [k for k in rows[0] if k != first] if rows else [first]
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r.get(k))}</td>" for k in keys) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figures(items: list[tuple[str, str]]) -> str:
    return "<div class='grid'>" + "".join(
        f"<figure><img alt='{html.escape(c)}' src='data:image/png;base64,{b}'><figcaption>{html.escape(c)}"
        f"</figcaption></figure>" for c, b in items) + "</div>"


def _legend(keys: list[str], weights: list[str]) -> str:
    items = "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(explain(k, weights=weights, column=True) or '')}"
                    f"</li>" for k in keys)
    return f"<ul class='legend'>{items}</ul>"


def _skipped(skipped: dict[str, str]) -> list[str]:
    if not skipped:
        return []
    items = "".join(f"<li><code>{html.escape(k)}</code>: {html.escape(v)}</li>" for k, v in skipped.items())
    return ["<h2>Not compared</h2>", f"<ul class='legend'>{items}</ul>"]


def _ablation(ablation: dict[str, dict[str, float]] | None) -> list[str]:
    if not ablation:
        return []
    everything = ablation["all columns"]["auc"]
    rows = [{"columns": k, "AUC alone": v["alone"], "AUC without": v["without"]} for k, v in ablation.items()
            if k != "all columns"]
    return [f"<h2>Where the classifier separates</h2><p>AUC on all columns {_fmt(everything)}; on each group of "
            "columns alone (with the given ones) and on all columns without it.</p>", _table(rows, "columns")]


def render_html(result: dict[str, Any], histograms, images, correlations, weight_figures) -> str:
    summary_rows = [{"metric": k, "value": v, "what it measures": explain(k, weights=result["weights"]) or ""}
                    for k, v in result["summary"].items()]
    column_rows = [{"observable": k, **v} for k, v in result["observables"].items()]
    column_keys = list(dict.fromkeys(k for v in result["observables"].values() for k in v))
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>physgen evaluation</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>physgen evaluation</h1>",
        f"<p class='meta'>reference: <code>{html.escape(result['reference'])}</code> "
        f"({result['events']['reference']} events)<br>generated: <code>{html.escape(result['generated'])}</code> "
        f"({result['events']['generated']} events)<br>weights: {html.escape(', '.join(result['weights']) or 'none')}"
        f" · created {html.escape(result['created'])}</p>",
        "<h2>Summary metrics</h2>", _table(summary_rows, "metric"),
        "<h2>Per-observable metrics</h2>", _table(column_rows, "observable"), _legend(column_keys, result["weights"]),
        *_skipped(result.get("skipped", {})),
        *_ablation(result.get("classifier_ablation")),
        "<h2>Histograms</h2>", _figures(histograms),
    ]
    if weight_figures:
        parts += ["<h2>Weights</h2>", _figures(weight_figures)]
    if images:
        parts += ["<h2>Average images</h2>", _figures(images)]
    parts += ["<h2>Correlation matrices</h2>", _figures(correlations), "</body></html>"]
    return "\n".join(parts)
