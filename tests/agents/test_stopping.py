"""The adaptive stopping rule (Adaptive-Consistency's Beta criterion over a finite budget)
against the conservative one, on constructed vote sequences."""

from __future__ import annotations

import math

import pytest

from ponder.agents.voter import is_decided, leader_holds, stop_reason, tally
from ponder.types import Branch, ExecResult


def votes_of(answers: list[str]):
    """Program-only branches (weight 1 each, the most one more such branch can weigh)."""
    return tally([Branch(index=i, answer=a, code_answer=a, execution=ExecResult(status="ok"))
                  for i, a in enumerate(answers)])


def stops_after(sequence: list[str], budget: int, rule: str, threshold: float = 0.95) -> int:
    """Samples drawn when ``rule`` first says stop, drawing one at a time (``budget`` if never)."""
    for n in range(1, budget):
        if is_decided(votes_of(sequence[:n]), budget - n, rule=rule, threshold=threshold,
                      max_weight=1.0):
            return n
    return budget


def brute_force_holds(leader: int, runner_up: int, remaining: int, grid: int = 20000) -> float:
    """The same probability by integrating over p numerically (midpoint rule)."""
    total = 0.0
    norm = 0.0
    for i in range(grid):
        p = (i + 0.5) / grid
        density = p ** leader * (1 - p) ** runner_up
        norm += density
        total += density * sum(math.comb(remaining, k) * p ** k * (1 - p) ** (remaining - k)
                               for k in range(remaining + 1)
                               if leader + k > runner_up + remaining - k)
    return total / norm


@pytest.mark.parametrize("counts", [(4, 0, 12), (3, 1, 12), (5, 3, 8), (2, 0, 6), (7, 5, 4)])
def test_leader_holds_is_the_beta_binomial_posterior(counts) -> None:
    assert leader_holds(*counts) == pytest.approx(brute_force_holds(*counts), abs=1e-4)


def test_leader_holds_at_the_edges() -> None:
    assert leader_holds(9, 0, 7) == 1.0  # cannot be overtaken
    assert leader_holds(3, 3, 0) == 0.0  # a final tie does not hold
    assert leader_holds(3, 3, 10) < 0.5  # symmetric, and a final tie does not count


def test_a_4_0_start_stops_early_under_adaptive_not_under_conservative() -> None:
    sequence = ["7"] * 4 + ["8", "7", "9", "7"] * 3
    assert stops_after(sequence, 16, "adaptive") == 4
    assert stops_after(sequence, 16, "conservative") > 8
    assert stop_reason(votes_of(sequence[:4]), 12, max_weight=1.0) == "adaptive"


def test_a_3_3_split_never_stops() -> None:
    split = votes_of(["7", "8"] * 3)
    for rule in ("adaptive", "conservative"):
        for remaining in range(0, 11):
            assert not is_decided(split, remaining, rule=rule, threshold=0.5, max_weight=1.0)
    alternating = ["7", "8"] * 8
    assert stops_after(alternating, 16, "adaptive") == 16


def test_a_clear_majority_stops_before_the_budget_and_a_close_one_does_not() -> None:
    clear = ["7", "7", "8", "7", "7", "7", "9", "7"] + ["7"] * 8  # 6:1 after 8
    close = ["7", "8", "7", "8", "7", "9", "8", "7"] * 2
    assert stops_after(clear, 16, "adaptive") <= 8
    assert stops_after(close, 16, "adaptive") == 16


def test_a_stricter_threshold_waits_longer() -> None:
    sequence = ["7", "7", "8"] + ["7"] * 13
    assert stops_after(sequence, 16, "adaptive", 0.8) < stops_after(sequence, 16, "adaptive", 0.99)


def test_the_certain_stop_is_named_decided() -> None:
    votes = votes_of(["7"] * 9)
    assert is_decided(votes, 7, rule="adaptive", max_weight=1.0)
    assert stop_reason(votes, 7, max_weight=1.0) == "decided"
