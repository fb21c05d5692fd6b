"""The fast benchmarks run at smoke size and print their tables (timings are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.parametrize(("script", "rows"), [
    ("overhead.py", ["| bare litellm.acompletion |", "| graph cot (prebuilt) |", "| `ponder --help` |"]),
    ("parallel.py", ["| litellm gather | 4 |", "| ponder self-consistency | 1 | 4 |",
                     "| ponder self-consistency | 4 | 4 |"]),
    ("judge_bench.py", ["| self-consistency | 4 |", "| best-of-n (judge picks) | 4 |",
                        "| beam, judge scorer | 2×4 |"]),
    ("stop_bench.py", ["| fixed-8 |", "| ada-16 |", "| 16 | adaptive |", "- ada-16 vs fixed-16: Δ"]),
])
def test_benchmark_smoke_prints_its_table(script: str, rows: list[str]) -> None:
    done = subprocess.run([sys.executable, str(BENCHMARKS / script), "--smoke"],
                          capture_output=True, text=True, timeout=300, cwd=BENCHMARKS.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("|---") for line in lines), done.stdout
    for row in rows:
        assert any(line.startswith(row) for line in lines), f"{row!r} missing from:\n{done.stdout}"
