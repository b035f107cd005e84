"""Shared bits of the benchmark scripts: hardware description and writing JSON + Markdown results."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path

RESULTS = Path(os.environ.get("PHYSGEN_BENCH_RESULTS") or Path(__file__).parent / "results")
"""Where results go: ``benchmarks/results``, or ``$PHYSGEN_BENCH_RESULTS`` (the GPU script collects them there)."""


def hardware() -> dict[str, str]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "gpu": gpu, "torch": torch.__version__,
            "torch_threads": str(torch.get_num_threads()), "load_average": load}


def write_results(name: str, rows: list[dict], columns: list[str], notes: list[str], extra: dict | None = None) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    meta = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "hardware": hardware(),
            "command": " ".join([Path(sys.executable).name, *sys.argv])}
    (RESULTS / f"{name}.json").write_text(json.dumps(meta | {"rows": rows, "notes": notes} | (extra or {}), indent=1))
    hw = meta["hardware"]
    lines = [f"### {name}", "", f"{meta['date']} · {hw['nproc']} × {hw['cpu']} · GPU: {hw['gpu']} · "
             f"torch {hw['torch']} ({hw['torch_threads']} threads) · load average {hw['load_average']} · "
             f"`{meta['command']}`", "",
             "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]
    lines += [""] + [f"- {n}" for n in notes]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (loader workers, subprocesses) so far."""
    import time

    t = os.times()
    return time.process_time() + t.children_user + t.children_system


def timed(fn, *args, **kwargs) -> tuple[float, float, object]:
    """``(wall seconds, CPU seconds, result)`` of one call. On a shared machine CPU seconds are the
    steadier measure: other processes stretch the wall time, much less the CPU time."""
    import time

    wall, cpu = time.perf_counter(), cpu_seconds()
    result = fn(*args, **kwargs)
    return time.perf_counter() - wall, cpu_seconds() - cpu, result


def matmul_peak(dtype, device, n: int = 2048, seconds: float = 1.0) -> float:
    """Measured GFLOP/s of one large square matrix product in ``dtype`` on ``device`` — the
    machine's practical dense-arithmetic limit, measured in the same run as what is compared with
    it. On a CPU per CPU second of this process (steady under other load), on a GPU per wall second."""
    import time

    import torch

    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds or best == 0.0:
        if device.type == "cuda":
            torch.cuda.synchronize()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(3):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        spent = time.perf_counter() - wall if device.type == "cuda" else time.process_time() - cpu
        best = max(best, 3 * 2 * n**3 / max(spent, 1e-9) / 1e9)
    return best
