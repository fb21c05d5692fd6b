"""The stop rule's calibration check in benchmarks/stop_bench.py: an early stop counts as kept
when it answered as the same problem and seed did at the full budget."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load_stop_bench():
    sys.path.insert(0, str(BENCHMARKS))  # it imports its neighbours (arith, stats)
    try:
        spec = importlib.util.spec_from_file_location("bench_stop_bench", BENCHMARKS / "stop_bench.py")
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


def row(setup: str, problem: str, seed: int, answer: str, samples: int, n: int = 8) -> dict:
    return {"setup": setup, "problem": problem, "seed": seed, "answer": answer,
            "samples": samples, "n": n, "correct": answer == "1", "tokens": 10 * samples,
            "level": "easy"}


ROWS = [row("fixed-8", "p1", 0, "1", 8), row("ada-8", "p1", 0, "1", 4),     # stopped, kept
        row("fixed-8", "p2", 0, "2", 8), row("ada-8", "p2", 0, "1", 4),     # stopped, flipped
        row("fixed-8", "p3", 0, "1", 8), row("ada-8", "p3", 0, "3", 8),     # ran to the end
        row("cons-8", "p1", 0, "1", 8), row("cons-8", "p2", 0, "2", 8), row("cons-8", "p3", 0, "1", 8)]


def test_only_early_stops_count_and_a_flip_is_not_kept() -> None:
    bench = load_stop_bench()
    assert bench.kept_winner(ROWS, "ada-8", "fixed-8", 8) == (1, 2)
    assert bench.kept_winner(ROWS, "cons-8", "fixed-8", 8) == (0, 0)
    assert "1/2 early stops" in bench.calibration_line("adaptive", 1, 2)
    assert bench.calibration_line("x", 0, 0).endswith("never stopped early")
    assert "below the threshold" in bench.calibration_line("x", 50, 100)
    assert "meets the threshold" in bench.calibration_line("x", 1000, 1000)


def test_replot_reports_the_calibration_from_stored_rows(tmp_path: Path) -> None:
    log = tmp_path / "stops.jsonl"
    meta = {"command": "test", "problems": 3, "seeds": [0], "mix": [1, 0, 0]}
    log.write_text("\n".join(json.dumps(r) for r in [{"meta": meta}, *ROWS]) + "\n")
    done = subprocess.run([sys.executable, str(BENCHMARKS / "stop_bench.py"), "--replot", str(log)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "adaptive, N = 8: kept the full-budget winner in 1/2 early stops" in done.stdout
    assert log.with_suffix(".md").read_text() == done.stdout.rstrip("\n") + "\n"
