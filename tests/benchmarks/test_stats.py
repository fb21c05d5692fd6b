"""The benchmark statistics (Wilson intervals, paired comparisons) and the evaluation split."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def load(name: str):
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        sys.modules[spec.name] = module  # type: ignore[union-attr]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


stats, arith = load("stats"), load("arith")


def test_wilson_matches_the_textbook_values() -> None:
    # Wilson 95% for 20/30 and 0/10 (Newcombe 1998's method 3).
    assert stats.wilson(20, 30) == pytest.approx((0.4878, 0.8077), abs=1e-4)
    assert stats.wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert stats.wilson(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert stats.wilson(0, 0) == (0.0, 1.0)


def test_mcnemar_exact_is_a_two_sided_binomial_test() -> None:
    assert stats.mcnemar_exact(1, 8) == pytest.approx(2 * 10 / 512)
    assert stats.mcnemar_exact(4, 4) == 1.0 and stats.mcnemar_exact(0, 0) == 1.0
    assert stats.mcnemar_exact(0, 6) == pytest.approx(2 / 64)


def rows_of(outcomes: dict[str, list[list[int]]]) -> list[dict]:
    """Rows for ``setup -> [problem][seed] -> correct``."""
    return [{"setup": setup, "problem": f"p{i}", "seed": k, "correct": bool(c), "tokens": 10}
            for setup, grid in outcomes.items() for i, seeds in enumerate(grid)
            for k, c in enumerate(seeds)]


def test_a_large_consistent_gain_is_a_difference_and_noise_is_not() -> None:
    better = rows_of({"a": [[1, 1, 1]] * 30, "b": [[1, 1, 1]] * 10 + [[0, 0, 0]] * 20})
    result = stats.paired(better, "a", "b")
    assert result.delta == pytest.approx(2 / 3) and result.significant
    assert (result.wins, result.losses, result.pairs) == (60, 0, 90)
    # a wins every seed of half the problems and loses every seed of the other half
    noise = rows_of({"a": [[1, 1, 1], [0, 0, 0]] * 10, "b": [[0, 0, 0], [1, 1, 1]] * 10})
    result = stats.paired(noise, "a", "b")
    assert result.delta == 0.0 and result.low < 0 < result.high and not result.significant
    assert "no significant difference" in result.line()


def test_pairs_are_only_the_problems_and_seeds_both_solved() -> None:
    rows = rows_of({"a": [[1, 1]] * 3, "b": [[0, 0]] * 2})
    assert stats.paired(rows, "a", "b").pairs == 4
    with pytest.raises(ValueError, match="no .problem, seed. pair"):
        stats.paired(rows, "a", "c")


def test_the_comparison_table_and_its_command_line(tmp_path: Path) -> None:
    rows = rows_of({"pot": [[1, 0, 1]] * 10, "verified": [[1, 1, 1]] * 10})
    text = stats.comparison_table(rows, ["pot", "verified"], "pot")
    assert "| pot | 66.7% (20/30) [48.8, 80.8] | 10 | 1.00x | — | — | — |" in text
    assert "| verified | 100.0% (30/30) [88.6, 100.0] | 10 | 1.00x | +33.3 [+33.3, +33.3] * | 10/0 |" in text
    log = tmp_path / "rows.jsonl"
    log.write_text("\n".join(json.dumps({**r, "dataset": "d"}) for r in rows) + "\n")
    done = subprocess.run([sys.executable, str(BENCHMARKS / "stats.py"), str(log), "--baseline", "pot"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "verified vs pot: Δ +33.3 points [+33.3, +33.3] over 30 pairs" in done.stdout


def test_evaluation_problems_never_repeat_a_tuning_question() -> None:
    for steps in (1, 2):
        held_out = arith.generate(steps, 200, seed=0, split="eval")
        assert len(held_out) == len({p.question for p in held_out}) == 200
        tuning = {p.question for seed in arith.TUNING_SEEDS
                  for p in arith.generate(steps, arith.TUNING_N, seed)}
        assert not tuning & {p.question for p in held_out}
        assert held_out[0].id == f"arith{steps}-eval0-0" and held_out[0].meta["split"] == "eval"
        assert held_out == arith.generate(steps, 200, seed=0, split="eval")  # reproducible
        assert held_out[:5] != arith.generate(steps, 5, seed=1, split="eval")
    with pytest.raises(ValueError, match="split"):
        arith.generate(1, 3, split="test")


def test_the_tuning_split_is_unchanged() -> None:
    # The sets benchmarks/README.md measured before the split existed.
    first = arith.generate(1, 2, seed=0)
    assert [p.id for p in first] == ["arith1-0", "arith1-1"] and first[0].meta["split"] == "tune"
    assert arith.generate(2, 30, seed=1) == arith.generate(2, 30, seed=1, split="tune")


def scaling_rows(outcomes: dict[str, list[int]]) -> list[dict]:
    """One-seed ``scaling.py`` rows for ``setup -> [problem] -> correct``."""
    return [{"setup": setup, "dataset": "arith-1step", "problem": f"arith1-{i}", "seed": 0,
             "correct": bool(c), "tokens": 100 * (1 + setup.count("8")), "latency_s": 0.1,
             "samples": 8 if setup.endswith("8") else 4, "error": None}
            for setup, column in outcomes.items() for i, c in enumerate(column)]


def test_the_replot_gives_every_secondary_accuracy_an_interval(tmp_path: Path) -> None:
    half, all_right = [1] * 5 + [0] * 5, [1] * 10
    rows = scaling_rows({"sc-8": half, "sc-ada-8": [1] * 4 + [0] * 6, "pot-8": all_right,
                         "verified-8": all_right, "pot-4": half, "verified-4": half,
                         "checked-4-c1-b70": [1] * 6 + [0] * 4})
    log = tmp_path / "rows.jsonl"
    log.write_text(json.dumps({"meta": {"date": "2026-12-03", "cores": 2}}) + "\n"
                   + "\n".join(json.dumps(r) for r in rows) + "\n")
    done = subprocess.run([sys.executable, str(BENCHMARKS / "scaling.py"), "--replot", str(log),
                           "--out", str(tmp_path), "--name", "rows"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "rows.md").read_text()
    lost = stats.paired(rows, "sc-ada-8", "sc-8")
    assert lost.delta == pytest.approx(-0.1) and (lost.wins, lost.losses) == (0, 1)
    # stop rules against fixed N: Wilson interval, paired Δ with its interval, won/lost
    assert ("| self-consistency | 8 | fixed | 50.0% (5/10) [23.7, 76.3] | — | — | 200 | 1.00x "
            "| 8.0 | 0/10 |") in text
    assert (f"| self-consistency | 8 | adaptive | 40.0% (4/10) [16.8, 68.7] | {lost.cell()} | 0/1 "
            "| 200 |") in text
    # verification where it pays: the same against pot
    gain = stats.paired(rows, "checked-4-c1-b70", "pot-4")
    assert f"| 60.0% (6/10) [31.3, 83.2] | {gain.cell()} | 1/0 |" in text
    # the headline comparisons: both accuracies with intervals, Δ with its interval, a verdict
    code = stats.paired(rows, "pot-8", "sc-8")
    assert code.significant
    assert ("- pot N=8 vs self-consistency N=8 (code vs prose, both voted): accuracy "
            "100.0% (10/10) [72.2, 100.0] vs 50.0% (5/10) [23.7, 76.3], "
            f"Δ {code.interval()} points (5 won, 0 lost): a difference; tokens 1.00x") in text
    assert ("- verified N=8 vs pot N=8: accuracy 100.0% (10/10) [72.2, 100.0] vs 100.0% (10/10) "
            "[72.2, 100.0], Δ +0.0 [+0.0, +0.0] points (0 won, 0 lost): no significant difference") in text
