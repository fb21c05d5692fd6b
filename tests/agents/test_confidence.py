"""Confidence that means something, and escalation read from the raw vote."""

from __future__ import annotations

import shutil

import pytest

import ponder
from ponder.agents.deps import Deps
from ponder.graphs.strategies.escalate import EscalateSettings, needs_escalation
from ponder.agents.voter import assess, beta_stability, decide, tally, vote
from ponder.config import SolveOptions
from ponder.scripted import register_script
from ponder.types import Branch, Problem

LUCY = "Lucy has 14 stickers and gets 6 more. How many stickers does she have?"


def b(i: int, answer: str, verdict: str = "unverified", confidence: float | None = None) -> Branch:
    return Branch(index=i, answer=answer, verdict=verdict, confidence=confidence)


def test_beta_stability_is_the_beta_posterior() -> None:
    assert beta_stability(1, 0) == 0.75
    assert beta_stability(2, 0) == 0.875
    assert beta_stability(3, 3) == 0.5
    assert beta_stability(3, 1) == pytest.approx(26 / 32)
    assert beta_stability(8, 0) > 0.99 > beta_stability(2, 0)  # more samples, more stable


def test_few_samples_mean_lower_confidence() -> None:
    two, eight = [b(i, "42") for i in range(2)], [b(i, "42") for i in range(8)]
    assert assess(two, "42", 1.0)["confidence"] == 0.875
    assert assess(eight, "42", 1.0)["confidence"] > 0.99


def test_two_refuted_branches_agreeing_are_unverified_with_no_confidence() -> None:
    branches = [b(0, "8", "refuted"), b(1, "8", "refuted")]
    answer, share = decide(tally(branches))
    parts = assess(branches, answer, share)
    assert (answer, share) == ("8", 1.0)  # the old confidence: 1.00
    assert parts["status"] == "unverified" and parts["confidence"] == 0.0
    assert parts["summary"] == "2 of 2 branches agree; 0 verified, 2 refuted; token confidence n/a"


def test_parts_show_verification_and_token_confidence() -> None:
    branches = [b(0, "7", "verified", 0.8), b(1, "7", "refuted", 0.6), b(2, "7", confidence=0.7),
                b(3, "5", "verified", 0.9)]
    votes = tally(branches)
    parts = assess(branches, *decide(votes))
    assert (parts["agree"], parts["counted"], parts["verified"], parts["refuted"]) == (3, 4, 1, 1)
    assert parts["verification"] == 0.5 and parts["token_confidence"] == pytest.approx(0.7)
    assert parts["confidence"] == pytest.approx(min(parts["share"], beta_stability(3, 1)) * 0.5,
                                                abs=1e-4)
    assert "3 of 4 branches agree; 1 verified, 1 refuted; token confidence 0.70" == parts["summary"]


def split_3_3() -> dict:
    """3:3 in the raw vote; the confidence filter drops one '2' branch (share 0.6 after)."""
    branches = [b(0, "1", confidence=0.9), b(1, "1", confidence=0.9), b(2, "1", confidence=0.9),
                b(3, "2", confidence=0.9), b(4, "2", confidence=0.9), b(5, "2", confidence=0.1)]
    deps = Deps(models=None, options=SolveOptions(samples=6))  # type: ignore[arg-type]
    state = {"problem": Problem(question="?"), "branches": branches, "stage_samples": 6}
    return {**state, **vote(state, deps=deps)}


def test_a_3_3_split_is_never_decided_and_escalates() -> None:
    state = split_3_3()
    assert state["confidence_parts"]["share"] >= 0.6  # the filter made it look like 3:2
    assert state["confidence_parts"]["split"] and not state["decided"]
    assert state["confidence"] <= 0.5
    assert needs_escalation(state, Deps(models=None, settings=EscalateSettings(escalate_below=0.6)))  # type: ignore[arg-type]


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")
def test_lucy_two_refuted_branches_are_unverified_with_low_confidence(scripted_config) -> None:
    def lucy(messages, index):
        prompt = messages[-1]["content"]
        if "python" in prompt.lower():
            return "```python\nanswer(14 - 6)\n```"
        return ["She has 14 - 5 = 9. The answer is 9.", "14 + 4 = 18. The answer is 18."][index % 2]

    config = scripted_config(register_script("lucy", lucy))
    result = ponder.solve(LUCY, strategy="verified", samples=4, config=config)
    assert result.answer == "8"
    assert all(b.verdict == "refuted" for b in result.branches)
    assert result.confidence < 0.3
    assert result.confidence_parts["status"] == "unverified"
    assert result.stopped != "decided"
    assert any(note.startswith("unverified:") for note in result.notes)
    stored = ponder.store.Store(config.store).result(result.run_id, result.problem_id)
    assert stored is not None and stored.confidence_parts["refuted"] == result.samples_used
