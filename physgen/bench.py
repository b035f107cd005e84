"""``physgen bench``: run the benchmark scripts of ``benchmarks/`` and refresh the README tables.

Each script ``benchmarks/bench_<what>.py`` measures one thing, prints a table and writes
``benchmarks/results/<what>.json`` and ``<what>.md``. :func:`collect_tables` pastes every
``.md`` result into the README between ``<!-- benchmarks:begin -->`` and ``<!-- benchmarks:end -->``,
except a result that has a section of its own in the README (``<!-- metrics-crosscheck:begin -->`` …
``<!-- metrics-crosscheck:end -->`` for ``metrics_crosscheck.md``): that one is refreshed there, so
every table appears once.
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


def _markers(name: str) -> tuple[str, str]:
    """The README markers of a result's own section (``metrics_crosscheck`` → ``<!-- metrics-crosscheck:begin -->``)."""
    slug = name.replace("_", "-")
    return f"<!-- {slug}:begin -->", f"<!-- {slug}:end -->"


def _replace_between(text: str, begin: str, end: str, body: str) -> str:
    head, rest = text.split(begin, 1)
    return f"{head}{begin}\n{body}\n{end}{rest.split(end, 1)[1]}"


def collect_tables(readme: Path | None = None) -> Path:
    """Replace the README's benchmark section with every ``benchmarks/results/*.md`` table; a table
    with a README section of its own (see :func:`_markers`) is refreshed there instead."""
    readme = readme or benchmark_dir().parent / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        msg = f"{readme} has no '{BEGIN}' … '{END}' section"
        raise PhysgenError(msg)
    tables = []
    for path in sorted((benchmark_dir() / "results").glob("*.md")):
        begin, end = _markers(path.stem)
        if begin in text and end in text:  # its own section: the table without its heading
            lines = path.read_text().strip().splitlines()
            heading = bool(lines) and lines[0].startswith("#")
            text = _replace_between(text, begin, end, "\n".join(lines[heading:]).strip())
        else:
            tables.append(_as_section(path))
    body = "\n\n".join(tables) if tables else "_No benchmark results yet: run `physgen bench`._"
    readme.write_text(_replace_between(text, BEGIN, END, body))
    return readme
