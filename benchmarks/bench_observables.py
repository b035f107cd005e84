"""Benchmark: every CaloGAN observable on a store of many showers, against the floor of only reading
and decompressing the same arrays; peak memory at two store sizes.

    python benchmarks/bench_observables.py [--events 1000000 250000] [--folder benchmarks/out]

Each measurement runs in a fresh subprocess so that its peak RSS is its own. The observables are
reduced to one number each (a sum over events) so that nothing grows with N but the work.
Stores are synthetic showers of the ``calogan_lar3`` schema (physgen.testing), made once and kept.
Writes benchmarks/results/observables.json and .md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = Path(os.environ.get("PHYSGEN_BENCH_RESULTS") or HERE / "results")
LAYERS = ["layer_0", "layer_1", "layer_2", "overflow", "energy"]


def _peak_rss_mib() -> float:
    """This process's peak RSS: VmHWM, which exec resets (``ru_maxrss`` keeps the forking parent's peak, so
    the measurements inherited the 1 M-shower store's maker's ~520 MiB in a run that made the store)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


MEASURES = ("floor", "kernel", "compiled", "one", "observables")
"""floor: read + decompress every array; kernel: the fused kernel alone on chunks already in memory (no
reading, no dask); compiled: the same with its per-layer summary a one-pass compiled loop (numba: what a compiled
kernel would save); one: the one observable total_energy through dask;
observables: all of them through dask."""


def _compiled_summary():
    """A one-pass numba version of ``physgen.observables.calo._summary_kernel`` (the same eight numbers per
    shower and layer in one loop over the cells: float64 sums, the count above the cut, the two hottest
    cells). A probe of the limit, not physgen's kernel: it saves 3–5 %, so the observables stay numpy."""
    import numba
    import numpy as np

    @numba.njit(nogil=True, fastmath=True, cache=True)
    def one_pass(flat, x, y, cut, out):  # pragma: no cover - compiled
        n, m = flat.shape
        for i in range(n):
            s0 = s1 = s2 = s3 = s4 = 0.0
            active = 0
            for j in range(m):
                e = np.float64(flat[i, j])
                active += flat[i, j] > cut
                s0 += e
                s1 += e * x[j]
                s2 += e * x[j] * x[j]
                s3 += e * y[j]
                s4 += e * y[j] * y[j]
            top, at = flat[i, 0], 0
            for j in range(1, m):
                if flat[i, j] > top:
                    top, at = flat[i, j], j
            second = -np.inf
            for j in range(m):
                if j != at and flat[i, j] > second:
                    second = flat[i, j]
            out[i, 0], out[i, 1], out[i, 2], out[i, 3], out[i, 4] = s0, s1, s2, s3, s4
            out[i, 5], out[i, 6], out[i, 7] = active, top, second if m > 1 else 0.0

    def summary(cells, weights, cut):
        flat = np.ascontiguousarray(cells.reshape(-1, cells.shape[-2] * cells.shape[-1]))
        out = np.empty((len(flat), 8))
        one_pass(flat, np.ascontiguousarray(weights[:, 1]), np.ascontiguousarray(weights[:, 3]), flat.dtype.type(cut),
                 out)
        return out.reshape(*cells.shape[:-2], 8)

    return summary


def _kernel_only(ds, compiled: bool = False) -> tuple[float, float]:
    """Wall and CPU seconds spent inside the numpy kernel (``physgen.observables.calo._table_kernel``)
    on each event chunk of ``ds`` loaded into memory beforehand (loading and the xarray calls around the
    kernel not timed): the kernel's own cost, without reads, dask or xarray. ``compiled``: with the
    per-layer summary replaced by :func:`_compiled_summary` (compiled before the timing), checked to give
    the same table."""
    import numpy as np

    import physgen.observables.calo as calo

    if compiled:
        summary, numpy_summary = _compiled_summary(), calo._summary_kernel
        probe = ds.isel(event=slice(0, 100)).compute()
        expected = calo.shower_table(probe.copy()).values
        calo._summary_kernel = summary
        np.testing.assert_allclose(calo.shower_table(probe.copy()).values, expected, rtol=1e-9, atol=1e-9)
        calo._summary_kernel = summary if summary is not None else numpy_summary
    inner, spent = calo._table_kernel, [0.0, 0.0]

    def timed_kernel(*args, **kwargs):
        t, c = time.perf_counter(), time.process_time()
        out = inner(*args, **kwargs)
        spent[0], spent[1] = spent[0] + time.perf_counter() - t, spent[1] + time.process_time() - c
        return out

    calo._table_kernel = timed_kernel
    start = 0
    for size in ds["layer_0"].chunks[0]:
        chunk = ds.isel(event=slice(start, start + size)).compute()
        start += size
        calo.shower_table(chunk).values.sum()
    return spent[0], spent[1]


def measure(store: str, what: str) -> dict:
    """Run in a subprocess: time one of :data:`MEASURES` on ``store``."""
    import dask
    import numpy as np

    from physgen.observables import compute, observable_names
    from physgen.store import open_store

    ds = open_store(store)
    if what in ("kernel", "compiled"):
        wall, cpu = _kernel_only(ds, compiled=what == "compiled")
        return {"what": what, "seconds": wall, "cpu_seconds": cpu, "peak_rss_mib": _peak_rss_mib(), "tasks": 0,
                "events": int(ds.sizes["event"]), "observables": []}
    start, cpu = time.perf_counter(), time.process_time()
    if what == "floor":
        blocks = [b for name in LAYERS for b in ds[name].data.to_delayed().ravel()]
        dask.compute(*[dask.delayed(np.size)(b) for b in blocks])
        names: list[str] = []
    else:
        names = ["total_energy"] if what == "one" else [n for n in observable_names(ds) if n != "average_image"]
        obs = compute(ds, names)
        dask.compute(*[var.data.sum() for var in obs.data_vars.values()])
    return {"what": what, "seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
            "peak_rss_mib": _peak_rss_mib(), "tasks": _tasks(ds, names),
            "events": int(ds.sizes["event"]), "observables": names}


def _tasks(ds, names: list[str]) -> int:
    """Tasks in the optimised graph of the observables (0 for the floor)."""
    if not names:
        return 0
    from dask.base import collections_to_expr

    from physgen.observables import compute

    sums = [var.data.sum() for var in compute(ds, names).data_vars.values()]
    return len(dict(collections_to_expr(sums, optimize_graph=True).__dask_graph__()))


def make(store: Path, n: int) -> None:
    from physgen.testing._observable_strategies import make_store

    if not store.exists():
        t = time.perf_counter()
        make_store(store, detector="calogan_lar3", features="calo_conditions", n_events=n, seed=1, chunk_events=5000,
                   batch_events=20_000)
        print(f"made {store} ({n} showers) in {time.perf_counter() - t:.0f} s", flush=True)


def run(events: list[int], folder: Path, repeats: int) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(HERE.parent) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    rows = []
    for n in events:
        store = folder / f"calogan_synthetic_{n}.zarr"
        make(store, n)
        for what in MEASURES:
            best = None
            for _ in range(repeats):  # best of the repeats, by CPU time
                out = subprocess.run([sys.executable, __file__, "--measure", what, "--store", str(store)], env=env,
                                     check=True, capture_output=True, text=True).stdout
                result = json.loads(out.strip().splitlines()[-1])
                best = result if best is None or result["cpu_seconds"] < best["cpu_seconds"] else best
            rows.append(best)
            print(f"{n:>9} {what:<12} {best['seconds']:7.2f} s  peak {best['peak_rss_mib']:7.0f} MiB", flush=True)
    return {"rows": rows}


def hardware() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"nproc": os.cpu_count(), "cpu": model, "load_average_1min_at_end": load, "python": platform.python_version()}


def write(result: dict, command: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    by = {(r["events"], r["what"]): r for r in result["rows"]}
    sizes = sorted({r["events"] for r in result["rows"]})
    result |= {"date": result.get("date") or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
               "hardware": result.get("hardware") or hardware(), "command": result.get("command") or command,
               "ratio": {str(n): by[n, "observables"]["seconds"] / by[n, "floor"]["seconds"] for n in sizes},
               "cpu_ratio": {str(n): by[n, "observables"]["cpu_seconds"] / by[n, "floor"]["cpu_seconds"] for n in sizes},
               "target_ratio": 1.5}
    hw = result["hardware"]
    marginal = {}
    if len(sizes) > 1:  # per added shower between the two sizes: fixed costs (imports, graph) cancel
        for what in ("kernel", "compiled", "observables"):
            cost = {w: [by[n, w]["cpu_seconds"] for n in sizes[:2]] for w in ("floor", what)}
            marginal[what] = (cost[what][1] - cost[what][0]) / (cost["floor"][1] - cost["floor"][0])
    result["marginal_cpu_ratio"] = marginal
    (RESULTS / "observables.json").write_text(json.dumps(result, indent=2))
    lines = [
        "# All CaloGAN observables vs read + decompress (floor)", "",
        f"date {result['date']} · {hw['nproc']} × {hw['cpu']} (1-min load at end: {hw['load_average_1min_at_end']:.1f}) · "
        f"`{result['command']}`", "",
        f"{len(by[sizes[0], 'observables']['observables'])} observables: "
        + ", ".join(by[sizes[0], 'observables']['observables']), "",
        "| showers | floor CPU s | kernel alone CPU s | compiled kernel alone CPU s | one observable CPU s | "
        "all observables CPU s | CPU ratio (target ≤ 1.5) | (floor + kernel) ÷ floor | (floor + compiled kernel) "
        "÷ floor | dask + xarray share | wall ratio | showers/CPU-s | tasks | peak RSS floor MiB | "
        "peak RSS observables MiB |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in sizes:
        f, k, c, one, o = (by[n, what] for what in MEASURES)
        overhead = o["cpu_seconds"] - f["cpu_seconds"] - k["cpu_seconds"]
        lines.append(f"| {n:,} | {f['cpu_seconds']:.2f} | {k['cpu_seconds']:.2f} | {c['cpu_seconds']:.2f} | "
                     f"{one['cpu_seconds']:.2f} | {o['cpu_seconds']:.2f} | {o['cpu_seconds'] / f['cpu_seconds']:.2f} | "
                     f"{(f['cpu_seconds'] + k['cpu_seconds']) / f['cpu_seconds']:.2f} | "
                     f"{(f['cpu_seconds'] + c['cpu_seconds']) / f['cpu_seconds']:.2f} | "
                     f"{overhead / o['cpu_seconds']:.0%} | {o['seconds'] / f['seconds']:.2f} | "
                     f"{n / o['cpu_seconds']:,.0f} | {o['tasks']:,} | {f['peak_rss_mib']:.0f} | {o['peak_rss_mib']:.0f} |")
    if marginal:
        lines.append(f"| per added shower ({sizes[0]:,} → {sizes[1]:,}) | 1 | {marginal['kernel']:.2f} | "
                     f"{marginal['compiled']:.2f} | | {marginal['observables']:.2f} | **{marginal['observables']:.2f}** | "
                     f"{1 + marginal['kernel']:.2f} | {1 + marginal['compiled']:.2f} | "
                     f"{(marginal['observables'] - 1 - marginal['kernel']) / marginal['observables']:.0%} | | | | | |")
    lines += ["", "- Each number is the best of the repeats (by CPU time), each in a fresh process (its own peak RSS). "
              "CPU seconds are the process's own, summed over dask's threads: the steady measure on this shared machine; "
              "the wall ratio is listed but other processes' load stretches it arbitrarily. The last row divides the "
              "differences between the two sizes, so the fixed costs of a fresh process (first-call set-up of pint, "
              "xarray and dask, the graph: ~0.15 CPU s) cancel: the cost of each further shower.",
              "- floor: read + decompress every array of the store; kernel alone: the time spent inside the numpy "
              "kernel (physgen.observables.calo._table_kernel) on each event chunk already in memory, no reads, no "
              "dask, no xarray; one observable: total_energy through dask; all observables: every one through dask "
              "(one kernel task per store chunk shared by all, its outputs merged into 50 000-event table blocks, "
              "reduced to one number each). dask + xarray share = (all − floor − kernel) ÷ all.",
              "- The kernel per layer: ΣE, ΣxE, Σx²E, ΣyE, Σy²E as one float64 matrix product of the (showers, "
              "cells) energies with the cells' coordinate columns (in row blocks that keep BLAS single-threaded "
              "inside dask's threads), the count of cells above threshold, and the two hottest cells (an argmax, then "
              "the max of the matrix product's float64 block with the hottest removed): five passes over the cells, "
              "each its own numpy C loop, then the table from the per-layer sums. Measured limit: the kernel alone costs "
              + " and ".join(f"{by[n, 'kernel']['cpu_seconds'] / by[n, 'floor']['cpu_seconds']:.2f}×" for n in sizes)
              + " the floor's CPU, so (floor + kernel) ÷ floor is above the 1.5 target even with no dask overhead at "
              "all. compiled: the same kernel with the five passes fused into one compiled loop per shower (numba, "
              "fastmath; a probe in this script, checked to give the same table to 1e-9, not physgen's kernel) "
              "costs "
              + " and ".join(f"{by[n, 'compiled']['cpu_seconds'] / by[n, 'floor']['cpu_seconds']:.2f}×" for n in sizes)
              + " the floor: the passes are arithmetic-bound (five float64 multiply-adds, a comparison and a "
              "running maximum per cell), so fusing them saves less than the dask + xarray share costs. "
              "Tried and measured on one 5 000-shower chunk: float32 matrix products (0.5 ms less per chunk of ~7, but "
              "~1e-7 relative energies and ~0.02 mm spurious widths in single-cell layers), numpy reductions along the layers' short axes "
              "(3× slower than the product for 12 × 12 and 12 × 6 layers), np.partition or torch.topk for the two "
              "hottest cells (4× and 3× slower), cache-sized event blocks (no gain: the passes are compute-bound), "
              "dask's synchronous scheduler instead of threads (same CPU)."]
    (RESULTS / "observables.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, nargs="+", default=[250_000, 1_000_000])
    parser.add_argument("--folder", type=Path, default=HERE / "out")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--measure", choices=MEASURES, help=argparse.SUPPRESS)
    parser.add_argument("--store", help=argparse.SUPPRESS)
    parser.add_argument("--rewrite", action="store_true", help="only rewrite the table from the saved JSON")
    args = parser.parse_args()
    if args.rewrite:
        write(json.loads((RESULTS / "observables.json").read_text()), "")
        return
    if args.measure:
        print(json.dumps(measure(args.store, args.measure)))
        return
    write(run(args.events, args.folder, args.repeats), "python " + " ".join(sys.argv))


if __name__ == "__main__":
    main()
