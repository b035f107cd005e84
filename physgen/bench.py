"""``physgen bench``: run the benchmark scripts of ``benchmarks/`` and refresh the README tables.

Each script ``benchmarks/bench_<what>.py`` measures one thing, prints a table and writes
``benchmarks/results/<what>.json`` and ``<what>.md``. :func:`collect_tables` pastes every
``.md`` result into the README between ``<!-- benchmarks:begin -->`` and ``<!-- benchmarks:end -->``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from physgen.errors import PhysgenError

__all__ = ["benchmark_dir", "available_benchmarks", "run_benchmark", "collect_tables"]

BEGIN, END = "<!-- benchmarks:begin -->", "<!-- benchmarks:end -->"


def benchmark_dir() -> Path:
    """The repository's ``benchmarks/`` folder (benchmarks are not installed with the package)."""
    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    if not folder.is_dir():
        msg = f"no benchmarks/ folder next to the physgen package ({folder}); run from a source checkout"
        raise PhysgenError(msg)
    return folder


def available_benchmarks() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in benchmark_dir().glob("bench_*.py"))


def run_benchmark(what: str, extra_args: list[str] | None = None) -> None:
    """Run one benchmark script in a fresh interpreter (so its timings see a clean process)."""
    known = available_benchmarks()
    if what not in known:
        msg = f"unknown benchmark {what!r}; available: {', '.join(known)}"
        raise PhysgenError(msg)
    script = benchmark_dir() / f"bench_{what}.py"
    result = subprocess.run([sys.executable, str(script), *(extra_args or [])], check=False)
    if result.returncode:
        msg = f"benchmark {what!r} failed with exit code {result.returncode}"
        raise PhysgenError(msg)


def _as_section(path: Path) -> str:
    """A result table under a ``###`` heading: its own first heading, or the file name."""
    lines = path.read_text().strip().splitlines()
    if lines and lines[0].startswith("#"):
        return "\n".join(["### " + lines[0].lstrip("# ").strip(), *lines[1:]])
    return "\n".join([f"### {path.stem}", "", *lines])


def collect_tables(readme: Path | None = None) -> Path:
    """Replace the README's benchmark section with every ``benchmarks/results/*.md`` table."""
    readme = readme or benchmark_dir().parent / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        msg = f"{readme} has no '{BEGIN}' … '{END}' section"
        raise PhysgenError(msg)
    tables = [_as_section(p) for p in sorted((benchmark_dir() / "results").glob("*.md"))]
    body = "\n\n".join(tables) if tables else "_No benchmark results yet: run `physgen bench`._"
    head, rest = text.split(BEGIN, 1)
    tail = rest.split(END, 1)[1]
    readme.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}")
    return readme
