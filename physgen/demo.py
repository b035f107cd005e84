"""``physgen demo``: the main job on embedded defaults, small enough for a laptop.

Validates every shipped spec, simulates a small store of each kind the toolkit can
produce, opens them lazily and prints a summary; then trains the toy GAN of paper 004 on
the eight-Gaussian circle briefly, generates a store with it and evaluates it against the
reference with :func:`physgen.report.evaluate` (metrics.json and report.html; the headline
metrics and the population of the eight modes are printed).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from physgen.sim import simulate
from physgen.specs import SpecRegistry
from physgen.store import open_store, validate_store

__all__ = ["run_demo", "DEMO_DATASETS"]

DEMO_DATASETS = {"toy_circle_8": 20_000}
"""Dataset spec names and event counts the demo simulates."""

DEMO_TRAINING = ("toy_gan_circle_8", "toy_circle_8", 1500)
"""Model spec, training store (one of DEMO_DATASETS) and steps of the demo's brief training."""

DEMO_CLASSIFIER_EPOCHS = 5
"""Epochs of the evaluation's classifier two-sample test (short: the demo runs in about a minute)."""

HEADLINE_METRICS = {"ks_sum_columns": "Σ KS (x, y)", "s2_mean": "mean separation power ⟨S²⟩ (paper 004)",
                    "w1_mean": "mean W1 / σ (JetNet batches)", "c2st_auc": "classifier two-sample AUC (0.5: indistinguishable)",
                    "fpd": "Fréchet physics distance (JetNet)", "coverage": "coverage (Naeem et al., 1 at best)"}
"""Summary metrics of physgen.report.evaluate the demo prints."""


def run_demo(out: Path, console: Console) -> None:
    registry = SpecRegistry.default()
    names = registry.names()
    for kind, name in names:
        registry.get(kind, name)
    console.print(f"[green]validated[/] {len(names)} shipped specs")
    out.mkdir(parents=True, exist_ok=True)
    table = Table("dataset", "events", "variables", "store")
    for name, n in DEMO_DATASETS.items():
        url = simulate(name, out / f"{name}.zarr", events=n, mode="overwrite")
        problems = validate_store(url)
        if problems:
            raise RuntimeError(f"demo store {url} is invalid: {problems}")
        ds = open_store(url)
        table.add_row(name, str(ds.sizes["event"]), ", ".join(ds.data_vars), url)
    console.print(table)
    _train_generate_evaluate(out, console)


def _train_generate_evaluate(out: Path, console: Console) -> None:
    """simulate → train (briefly) → generate → evaluate (metrics.json + report.html), on the circle toy."""
    import shutil

    import numpy as np

    from physgen.generate import generate
    from physgen.report import evaluate
    from physgen.train import train

    model, dataset, steps = DEMO_TRAINING
    run_dir = out / f"{model}.run"
    shutil.rmtree(run_dir, ignore_errors=True)
    reference = out / f"{dataset}.zarr"
    train(model, reference, run_dir, steps=steps, device="auto")
    generated = generate(run_dir, DEMO_DATASETS[dataset], out / f"{model}.generated.zarr", mode="overwrite",
                         checkpoint="last")
    problems = validate_store(generated)
    if problems:
        raise RuntimeError(f"generated store {generated} is invalid: {problems}")
    report = out / f"{model}.report"
    result = evaluate(reference, generated, report, classifier_epochs=DEMO_CLASSIFIER_EPOCHS)
    table = Table("metric (generated vs reference)", "value", title=f"{model} after {steps} steps")
    for key, label in HEADLINE_METRICS.items():
        value = result["summary"].get(key)
        table.add_row(label, "n/a" if value is None else f"{value:.3g}")
    for name, entry in result["observables"].items():
        table.add_row(f"KS statistic of {name}", f"{entry['ks']:.3f}")
    console.print(table)
    gen = open_store(generated)
    x, y = gen.x.values, gen.y.values
    mode = np.round(np.arctan2(y, x) / (2 * np.pi / 8)).astype(int) % 8
    on_ring = np.abs(np.hypot(x, y) - 1) < 0.3
    shares = np.bincount(mode[on_ring], minlength=8) / len(x)
    console.print("generated events per circle mode (reference: 0.125 each): "
                  + " ".join(f"{s:.3f}" for s in shares), highlight=False, soft_wrap=True)
    console.print(f"report: {report / 'report.html'}", highlight=False)
