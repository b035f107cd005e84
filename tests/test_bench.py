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


def test_a_table_with_its_own_readme_section_is_pasted_there_once(tmp_path):
    """metrics_crosscheck.md has a README section of its own: collecting refreshes it there and does not
    paste it a second time among the benchmark tables (it was pasted twice); prose around both sections stays."""
    own_begin, own_end = "<!-- metrics-crosscheck:begin -->", "<!-- metrics-crosscheck:end -->"
    table = (benchmark_dir() / "results" / "metrics_crosscheck.md").read_text().strip().splitlines()
    stamp = next(line for line in table if "crosscheck_metrics.py" in line)  # its date · hardware · command line
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{own_begin}\n{stamp}\nold rows\n{own_end}\n\nprose after\n\n{BEGIN}\nstale\n{END}\n")
    collect_tables(readme)
    once = readme.read_text()
    collect_tables(readme)
    text = readme.read_text()
    assert text == once  # collecting again changes nothing
    assert text.count(stamp) == 1 and "old rows" not in text and "stale" not in text and "\nprose after\n" in text
    assert stamp in text.split(own_begin)[1].split(own_end)[0] and "### metrics_crosscheck" not in text
    assert "### loader" in text.split(BEGIN)[1].split(END)[0]  # the other tables are pasted as before
