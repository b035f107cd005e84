"""Cost against the number of events: simulate, observables, one training epoch and generation at
N, 2N, 4N, 8N events, the fitted exponent of CPU time ∝ N^k (target k = 1.0 ± 0.1) and the peak
RSS of each stage at each N (memory should not grow with N: everything streams in chunks).

Stages (each measured in a fresh process, so that its peak RSS is its own):

* ``simulate``: ``physgen.sim.simulate("calogan_eplus", events=n)``, one worker (parametric showers
  into a new store);
* ``observables``: every calorimeter observable of that store, reduced to one number each (dask); with
  ``--observables-store STORE`` of the first ``n`` showers of STORE instead (e.g. a large synthetic store
  of ``bench_observables.py``), so that its N can be large without simulating as many showers;
* ``train``: one epoch of ``toy_gan_circle_8`` (snapshot selection off) on a ``toy_circle_8`` store
  of ``n`` events made beforehand — the paper-size networks cost minutes per epoch on a loaded CPU
  (see the ``training`` table for their steps per second);
* ``generate``: ``physgen.generate`` of ``n`` events from that run into a new store.

Each stage has its own base ``N`` (``--n simulate=2000`` …) so that fixed costs (process start-up,
opening stores, building graphs and networks) are small beside the work at 1 N. CPU seconds
(process and children) are what the exponent is fitted to; wall seconds are listed too.

    python benchmarks/bench_scaling.py [--n simulate=10000 train=100000 generate=200000]
        [--folder DIR] [--device cpu|cuda]

Writes ``benchmarks/results/scaling[_cuda].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

BASE = {"simulate": 10_000, "observables": 10_000, "train": 100_000, "generate": 200_000}
"""Base N per stage; the observables read the stores simulate made (so they use its N when both run)."""
FACTORS = (1, 2, 4, 8)


def _cpu() -> float:
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def measure(stage: str, n: int, folder: Path, device: str, source: int, observables_store: str | None = None) -> dict:
    """One stage at ``n`` events, in this (fresh) process; ``source``: the size of the store (observables)
    or of the training store of the run (generate) the stage reads; ``observables_store``: a store whose
    first ``n`` showers the observables stage reads instead."""
    import yaml

    from physgen.sim import simulate
    from physgen.specs import SpecRegistry

    store = folder / f"showers_{source if stage == 'observables' else n}.zarr"
    toy = folder / f"toy_{n}.zarr"
    run = folder / f"run_{source if stage == 'generate' else n}"
    if stage == "train":  # the training store is made before the timing
        simulate("toy_circle_8", toy, events=n, progress=False, workers=1, mode="overwrite")
        spec = yaml.safe_load(SpecRegistry.default().get("model", "toy_gan_circle_8").text)
        spec["training"] |= {"selection": None, "checkpoint_every": 10**9}
        spec_path = folder / "toy_gan_scaling.yaml"
        spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    generated = folder / f"generated_{n}.zarr"
    shutil.rmtree(generated, ignore_errors=True)  # from an earlier pass; not timed
    wall, cpu = time.perf_counter(), _cpu()
    if stage == "simulate":
        simulate("calogan_eplus", store, events=n, progress=False, workers=1, mode="overwrite")
    elif stage == "observables":
        import dask

        from physgen.observables import compute, observable_names
        from physgen.store import open_store

        ds = open_store(observables_store) if observables_store else open_store(store)
        if observables_store:
            ds = ds.isel(event=slice(0, n))
        names = [name for name in observable_names(ds) if name != "average_image"]
        dask.compute(*[v.data.sum() for v in compute(ds, names).data_vars.values()])
    elif stage == "train":
        from physgen.train import train

        train(spec_path, toy, run, epochs=1, overwrite=True, device=device, progress=False)
    elif stage == "generate":
        from physgen.generate import generate

        generate(run, events=n, out=generated, device=device, progress=False)
    else:
        raise SystemExit(f"unknown stage {stage!r}")
    return {"stage": stage, "n": n, "wall_s": time.perf_counter() - wall, "cpu_s": _cpu() - cpu,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def exponent(ns: list[int], seconds: list[float]) -> float:
    """Least-squares slope of log(seconds) against log(n)."""
    return float(np.polyfit(np.log(ns), np.log(seconds), 1)[0])


def marginal_exponent(seconds: list[float]) -> float | None:
    """The exponent of the cost of more events, fixed costs cancelled: (t(8N) − t(4N)) ÷ (t(2N) − t(N)) = 4^k."""
    low, high = seconds[1] - seconds[0], seconds[3] - seconds[2]
    return float(np.log(high / low) / np.log(4)) if low > 0 and high > 0 else None


def power_fit(ns: list[int], seconds: list[float]) -> tuple[float, float] | None:
    """k and its standard error from t = a + b·(N/N₀)^k fitted to every pass's time (a ≥ 0: the fixed
    cost); uses all measurements, not the least per point, so one lucky or unlucky pass weighs less."""
    from scipy.optimize import curve_fit

    if len(set(ns)) < 3 or len(ns) < 4:
        return None
    x, t = np.asarray(ns, dtype=float) / min(ns), np.asarray(seconds, dtype=float)
    try:
        p, cov = curve_fit(lambda x, a, b, k: a + b * x**k, x, t, p0=(0.1 * t.min(), t.min(), 1.0),
                           bounds=([0.0, 0.0, 0.3], [np.inf, np.inf, 3.0]))
    except RuntimeError:  # no convergence
        return None
    return float(p[2]), float(np.sqrt(cov[2, 2]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", nargs="*", default=[], help="stage=N base sizes (default " +
                   " ".join(f"{k}={v}" for k, v in BASE.items()) + ")")
    p.add_argument("--stages", nargs="+", default=list(BASE), choices=list(BASE))
    p.add_argument("--folder", type=Path, default=None, help="where the stores go (default: a temporary folder)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--observables-store", default=None,
                   help="the observables stage reads the first N showers of this store (default: simulate's store)")
    p.add_argument("--repeats", type=int, default=1,
                   help="passes over N … 8N, alternately up and down; each point's least CPU time is kept")
    p.add_argument("--keep-other-stages", action="store_true",
                   help="keep the stages not run now from the previous result file (rerun some stages only)")
    p.add_argument("--measure", help=argparse.SUPPRESS)
    p.add_argument("--events", type=int, help=argparse.SUPPRESS)
    p.add_argument("--source", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.measure:
        print(json.dumps(measure(args.measure, args.events, args.folder, args.device, args.source,
                                     args.observables_store)))
        return 0
    base = BASE | {k: int(v) for k, v in (item.split("=") for item in args.n)}
    env = dict(os.environ, PYTHONPATH=str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    rows, fits = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        best: dict[tuple[str, int], dict] = {}
        passes: dict[str, list[dict]] = {s: [] for s in args.stages}
        for repeat in range(args.repeats):  # every stage at N before any at 2N: simulate makes the observables'
            # store, train the run that generate samples from; odd repeats go from 8N down, so that a load that
            # changes during the run does not tilt the fit (the least CPU time of each point is kept)
            for factor in FACTORS if repeat % 2 == 0 else FACTORS[::-1]:
                for stage in args.stages:
                    n = base[stage] * factor
                    if stage == "observables" and "simulate" in args.stages and not args.observables_store:
                        n = base["simulate"] * factor  # the observables of the store simulate wrote
                    source = {"observables": base["simulate"], "generate": base["train"]}.get(stage, base[stage])
                    out = subprocess.run([sys.executable, __file__, "--measure", stage, "--events", str(n),
                                          "--source", str(source * factor), "--folder", str(folder),
                                          "--device", args.device,
                                          *(["--observables-store", args.observables_store] if args.observables_store
                                            else [])],
                                         env=env, check=True, capture_output=True, text=True).stdout
                    result = json.loads(out.strip().splitlines()[-1])
                    passes[stage].append(result)
                    if (stage, factor) not in best or result["cpu_s"] < best[stage, factor]["cpu_s"]:
                        best[stage, factor] = result
                    print(f"{stage:12s} n={n:>9,}: {result['cpu_s']:8.2f} CPU s {result['wall_s']:8.2f} wall s "
                          f"peak {result['peak_rss_mib']:7.0f} MiB", flush=True)
        results: dict[str, list[dict]] = {s: [best[s, f] for f in FACTORS] for s in args.stages}
    name = "scaling" if args.device == "cpu" else f"scaling_{args.device}"
    kept_note = None
    from _benchio import RESULTS, write_results

    if args.keep_other_stages and (RESULTS / f"{name}.json").exists():
        previous = json.loads((RESULTS / f"{name}.json").read_text())
        kept = {s: r for s, r in previous["results"].items() if s not in results}
        passes |= {s: r for s, r in previous.get("passes", {}).items() if s in kept}
        if kept:
            base = base | {s: previous["base"][s] for s in kept}
            results = {s: kept.get(s) or results[s] for s in BASE if s in kept or s in results}
            kept_note = (f"{', '.join(kept)} from the run of {previous['date']} (load average "
                         f"{previous['hardware']['load_average']}); {', '.join(args.stages)} from this run.")
    for stage, measured in results.items():
        ns = [r["n"] for r in measured]
        fits[stage] = {"cpu": exponent(ns, [r["cpu_s"] for r in measured]),
                       "wall": exponent(ns, [r["wall_s"] for r in measured]),
                       "cpu_marginal": marginal_exponent([r["cpu_s"] for r in measured]),
                       "cpu_power": power_fit([r["n"] for r in passes.get(stage, [])],
                                              [r["cpu_s"] for r in passes.get(stage, [])])}
        for r in measured:
            rows.append({"stage": stage, "events": f"{r['n']:,}", "CPU s": f"{r['cpu_s']:.2f}",
                         "wall s": f"{r['wall_s']:.2f}", "events/CPU-s": f"{r['n'] / r['cpu_s']:,.0f}",
                         "peak RSS MiB": f"{r['peak_rss_mib']:.0f}"})
        marginal, power = fits[stage]["cpu_marginal"], fits[stage]["cpu_power"]
        rows.append({"stage": f"**{stage}: exponent**", "events": "N … 8N",
                     "CPU s": f"k = {fits[stage]['cpu']:.2f}", "wall s": f"k = {fits[stage]['wall']:.2f}",
                     "events/CPU-s": "marginal k = " + (f"{marginal:.2f}" if marginal is not None else "n/a")
                     + "; a + b·N^k: " + (f"k = {power[0]:.2f} ± {power[1]:.2f}" if power else "n/a"),
                     "peak RSS MiB": ""})
    notes = [f"device {args.device}; base N per stage: " + ", ".join(f"{s} {base[s]:,}" for s in results) +
             "; each point one fresh process (peak RSS is that stage's own, including Python, torch and dask).",
             f"{args.repeats} pass(es) over the sizes, alternately up and down, least CPU time per point. "
             "k: least-squares slope of log(time) against log(N) over N, 2N, 4N, 8N (target 1.0 ± 0.1); fixed costs "
             "(opening stores, building graphs and networks, writing provenance) pull k below 1 at small N. "
             "marginal k: from the cost of the added events alone, (t(8N) − t(4N)) ÷ (t(2N) − t(N)) = 4^k, which "
             "cancels the fixed costs (noisier: a difference of measurements). a + b·N^k: k and its standard "
             "error from a least-squares fit of every pass's CPU time (not only the least) with a fixed cost a ≥ 0 "
             "(n/a for stages kept from a run that did not record its passes).",
             "simulate: calogan_eplus parametric showers, one worker; observables: every calorimeter observable of " +
             (f"the first N showers of {Path(args.observables_store).name} (synthetic CaloGAN showers)"
              if args.observables_store else "that store") +
             "; train: one epoch of toy_gan_circle_8 (batch 128) on a toy_circle_8 store of N events; "
             "generate: N events from that run into a new store.",
             "The machine is shared (see the load average): CPU seconds are the steadier measure."]
    if kept_note:
        notes.append(kept_note)
    write_results(name, rows, ["stage", "events", "CPU s", "wall s", "events/CPU-s", "peak RSS MiB"], notes,
                  extra={"exponents": fits, "base": base, "results": results, "passes": passes})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
