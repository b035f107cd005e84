"""``physgen bench``: the README's benchmark section is rebuilt from benchmarks/results/*.md."""

from __future__ import annotations

import pytest

from physgen.bench import BEGIN, END, available_benchmarks, benchmark_dir, collect_tables, run_benchmark
from physgen.errors import PhysgenError


def test_collect_tables_replaces_only_the_marked_section(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n\n{BEGIN}\nstale table\n{END}\n\nafter\n")
    collect_tables(readme)
    text = readme.read_text()
    assert "stale table" not in text and text.startswith("# title\n\nbefore") and text.endswith("after\n")
    section = text.split(BEGIN)[1].split(END)[0]
    results = sorted((benchmark_dir() / "results").glob("*.md"))
    assert results and section.count("\n### ") + section.startswith("\n### ") >= len(results)


def test_unknown_benchmark_and_missing_markers(tmp_path):
    assert "showers" in available_benchmarks()
    with pytest.raises(PhysgenError, match="unknown benchmark 'nope'; available: .*showers"):
        run_benchmark("nope")
    readme = tmp_path / "README.md"
    readme.write_text("# no markers\n")
    with pytest.raises(PhysgenError, match="no '<!-- benchmarks:begin -->'"):
        collect_tables(readme)
