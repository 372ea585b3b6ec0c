"""The benchmark report's table of targets, as benchmarks/run.py writes it into the README."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def run_module():
    sys.path.insert(0, str(BENCHMARKS))  # run.py imports its sibling sections.py as a script does
    try:
        spec = importlib.util.spec_from_file_location("benchmarks_run", BENCHMARKS / "run.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCHMARKS))


RESULTS = {
    "machine": "x86_64, 2 CPUs, Python 3.11.7",
    "stage_dates": {"cli": "2026-12-01 03:51", "build": "2026-12-01 03:50"},
    "cli": {
        "search": {"median_s": 0.5, "peak_rss_mb": 193.0},
        "ask": {"median_s": 1.7, "peak_rss_mb": 204.0},
        "--help": {"median_s": 0.19, "peak_rss_mb": 38.0},
    },
    "build": {"time_ratio_library_over_langchain": 0.343, "runs": [{}, {}, {}]},
}


def test_targets_say_met_or_missed_against_each_limit(run_module):
    rows = run_module.target_rows(RESULTS)
    assert rows == [
        "| `aseancyberdocs search` wall time | 0.50 s | <= 1.0 s | met |",
        "| `aseancyberdocs ask` wall time | 1.70 s | <= 1.5 s | missed |",
        "| peak RSS of a query process | 204 MB | <= 300 MB | met |",
        "| cold build / LangChain recipe, median of 3 same-run pairs | 0.34 | <= 0.35 | met |",
    ]


def test_readme_table_replaced_between_its_markers_only(run_module, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# Title\n\nbefore\n\n{run_module.README_BEGIN}\nold table\n{run_module.README_END}\n\nafter\n", encoding="utf-8"
    )
    assert run_module.write_readme_targets(readme, RESULTS)
    text = readme.read_text(encoding="utf-8")
    assert "old table" not in text
    assert text.startswith("# Title\n\nbefore\n\n<!-- benchmark-targets:begin -->\nWritten by `benchmarks/run.py` (cli 2026-12-01 03:51, build")
    assert "| `aseancyberdocs ask` wall time | 1.70 s | <= 1.5 s | missed |\n" in text
    assert text.endswith("| 0.34 | <= 0.35 | met |\n<!-- benchmark-targets:end -->\n\nafter\n")
    # Written again, the same.
    assert run_module.write_readme_targets(readme, RESULTS)
    assert readme.read_text(encoding="utf-8") == text


def test_readme_without_markers_is_left_alone(run_module, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Title\n\nno table here\n", encoding="utf-8")
    assert not run_module.write_readme_targets(readme, RESULTS)
    assert readme.read_text(encoding="utf-8") == "# Title\n\nno table here\n"
