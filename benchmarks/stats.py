"""Uncertainty for benchmark tables: Wilson intervals and paired comparisons.

At 30 problems and a handful of samples, one run's accuracy moves by about ±13 points between
seeds, so every accuracy here carries a 95% Wilson interval, and two setups are compared on
the *same* problems and seeds (paired): the difference in accuracy with a paired-bootstrap
95% interval (resampling problems, each with all its seeds, so that seeds of one problem stay
together), and McNemar's exact test on the discordant (problem, seed) pairs. A difference is
called one only when the bootstrap interval excludes 0; McNemar's test treats every (problem,
seed) pair as independent, which overstates the evidence when the seeds of one problem agree
(they mostly do), so its p-value is shown but does not decide.

    from stats import wilson, paired
    wilson(20, 30)                       # (0.4878, 0.8077)
    paired(rows, "verified-4", "pot-4")  # Δ, interval, wins, losses, McNemar p

    python benchmarks/stats.py results/checked_eval.jsonl --baseline pot-4
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Z95 = 1.959963984540054


def wilson(right: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (95% by default); ``(0, 1)`` for ``n = 0``.

    >>> [round(x, 4) for x in wilson(20, 30)]
    [0.4878, 0.8077]
    """
    if n <= 0:
        return 0.0, 1.0
    p = right / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(wins: int, losses: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs (a binomial test at 1/2).

    >>> mcnemar_exact(0, 0), round(mcnemar_exact(1, 8), 4)
    (1.0, 0.0391)
    """
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(wins, losses) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


@dataclass(frozen=True)
class Paired:
    """``a`` against ``b`` on the same (problem, seed) pairs."""

    a: str
    b: str
    pairs: int
    delta: float  # accuracy of a minus accuracy of b
    low: float
    high: float
    wins: int  # pairs a got right and b wrong
    losses: int  # pairs b got right and a wrong
    p_mcnemar: float

    @property
    def significant(self) -> bool:
        """Whether the 95% interval of the difference excludes 0."""
        return self.low > 0 or self.high < 0

    def interval(self) -> str:
        """``+3.3 [−5.6, +12.2]``: the difference and its 95% interval, in points."""
        return f"{self.delta * 100:+.1f} [{self.low * 100:+.1f}, {self.high * 100:+.1f}]"

    def cell(self) -> str:
        """The interval for a table, marked ``*`` when it excludes 0."""
        return self.interval() + (" *" if self.significant else "")

    @property
    def verdict(self) -> str:
        return "a difference" if self.significant else "no significant difference"

    def line(self) -> str:
        """``Δ +3.3 points [−5.6, +12.2]`` with the discordant pairs and McNemar's p."""
        return (f"{self.a} vs {self.b}: Δ {self.delta * 100:+.1f} points "
                f"[{self.low * 100:+.1f}, {self.high * 100:+.1f}] over {self.pairs} pairs "
                f"({self.wins} won, {self.losses} lost; McNemar p = {self.p_mcnemar:.3f}): "
                f"{self.verdict}")


def outcomes(rows: Sequence[dict[str, Any]], setup: str) -> dict[tuple[str, Any], bool]:
    """``(problem, seed) -> correct`` for one setup's rows."""
    return {(r["problem"], r.get("seed")): bool(r["correct"]) for r in rows if r["setup"] == setup}


def paired(rows: Sequence[dict[str, Any]], a: str, b: str, *, resamples: int = 10000,
           rng_seed: int = 0) -> Paired:
    """Setup ``a`` against ``b`` on the (problem, seed) pairs both solved.

    The bootstrap resamples *problems* with replacement (each carries all its seeds), so the
    interval accounts for problems being the unit that varies most; the difference is that of
    the mean accuracies. Percentile interval, 95%.
    """
    left, right = outcomes(rows, a), outcomes(rows, b)
    keys = sorted(set(left) & set(right), key=str)
    if not keys:
        raise ValueError(f"no (problem, seed) pair solved by both {a!r} and {b!r}")
    by_problem: dict[str, list[int]] = {}
    for key in keys:
        by_problem.setdefault(key[0], []).append(int(left[key]) - int(right[key]))
    diffs = list(by_problem.values())
    delta = sum(map(sum, diffs)) / len(keys)
    rng = random.Random(rng_seed)
    stats = []
    for _ in range(resamples):
        draw = [diffs[rng.randrange(len(diffs))] for _ in diffs]
        stats.append(sum(map(sum, draw)) / max(1, sum(map(len, draw))))
    stats.sort()
    low, high = stats[int(0.025 * resamples)], stats[int(0.975 * resamples) - 1]
    wins = sum(left[k] and not right[k] for k in keys)
    losses = sum(right[k] and not left[k] for k in keys)
    return Paired(a, b, len(keys), delta, low, high, wins, losses, mcnemar_exact(wins, losses))


def accuracy_cell(right: int, n: int) -> str:
    """``66.7% (60/90) [56.4, 75.6]``: accuracy, counts and the Wilson 95% interval."""
    low, high = wilson(right, n)
    return f"{right / max(n, 1):.1%} ({right}/{n}) [{low * 100:.1f}, {high * 100:.1f}]"


def comparison_table(rows: Sequence[dict[str, Any]], setups: Sequence[str], baseline: str,
                     labels: dict[str, str] | None = None) -> str:
    """One row per setup: accuracy with its interval, tokens, and Δ against ``baseline``."""
    labels = labels or {}
    base_tokens = _mean([r["tokens"] for r in rows if r["setup"] == baseline]) or 1.0
    lines = [f"| setup | accuracy [95% CI] | tokens/problem | × {labels.get(baseline, baseline)} "
             f"tokens | Δ vs {labels.get(baseline, baseline)} [95% CI] | won/lost | McNemar p |",
             "|---|---|---|---|---|---|---|"]
    for setup in setups:
        mine = [r for r in rows if r["setup"] == setup]
        if not mine:
            continue
        tokens = _mean([r["tokens"] for r in mine])
        cells = [labels.get(setup, setup), accuracy_cell(sum(r["correct"] for r in mine), len(mine)),
                 f"{tokens:.0f}", f"{tokens / base_tokens:.2f}x"]
        if setup == baseline:
            cells += ["—", "—", "—"]
        else:
            p = paired(rows, setup, baseline)
            cells += [p.cell(), f"{p.wins}/{p.losses}", f"{p.p_mcnemar:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Accuracy with Wilson intervals and paired "
                                     "differences from a scaling.py JSONL file.")
    parser.add_argument("jsonl", type=Path)
    parser.add_argument("--baseline", required=True, help="the setup every other is compared with")
    parser.add_argument("--dataset", help="only rows of this dataset")
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.jsonl.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "meta" not in r and (args.dataset is None or r["dataset"] == args.dataset)]
    setups = list(dict.fromkeys(r["setup"] for r in rows))
    if args.baseline not in setups:
        parser.error(f"no rows for {args.baseline!r}; setups: {', '.join(setups)}")
    print(comparison_table(rows, setups, args.baseline))
    for setup in setups:
        if setup != args.baseline:
            print("- " + paired(rows, setup, args.baseline).line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
