"""The benchmark code runs (on a tiny budget) and writes both reports with the keys CI reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_benchmark_runs_on_a_tiny_budget_and_writes_both_reports(tmp_path):
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench", "--tiny", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads((tmp_path / "benchmarks.json").read_text())
    for key in ("examples_per_second", "speedup_vs_gradcheck_slow", "ci_verify_wall_s", "grade_wall_s", "peak_rss_mb"):
        assert isinstance(data[key], float) and data[key] > 0, key
    assert all(row["exit_code"] == 0 for row in data["commands"].values())
    assert (tmp_path / "benchmarks.md").read_text().startswith("# Benchmarks")
