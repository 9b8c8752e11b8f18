"""Smoke test of benchmarks/bench_cli.py on one round (timings are measured, never tested)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_cli  # noqa: E402


def test_cli_records_time_the_command_against_the_bare_interpreter():
    records = bench_cli.records(["symreg --help"], repeats=1)
    assert [r["command"] for r in records] == [bench_cli.BASELINE, "symreg --help"]
    assert all(r["bench"] == "cli" and r["median_s"] > 0 for r in records)
    assert records[0]["ratio_to_python"] == 1.0 and records[1]["ratio_to_python"] > 0
