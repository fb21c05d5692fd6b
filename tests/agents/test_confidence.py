"""Confidence that means something, and escalation read from the raw vote."""

from __future__ import annotations

import itertools
import shutil

import pytest

import ponder
from ponder.agents.deps import Deps
from ponder.graphs.strategies.escalate import EscalateSettings, needs_escalation
from ponder.agents.voter import VoteSettings, assess, beta_stability, decide, tally, vote
from ponder.config import SolveOptions
from ponder.scripted import register_script
from ponder.types import Branch, ExecResult, Problem
from ponder.verdict import verdict_of

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


def test_two_refuted_pairs_agreeing_are_unverified_but_keep_their_programs_evidence() -> None:
    branches = [b(0, "8", "refuted"), b(1, "8", "refuted")]
    half = VoteSettings(prose_weight=0.5)
    answer, share = decide(tally(branches, weights=half))
    parts = assess(branches, answer, share, weights=half)
    assert (answer, share) == ("8", 1.0)
    # Two executed programs agree; their prose disagreed: trust max(w, 1 - w) = 0.5 at w = 0.5.
    assert parts["status"] == "unverified" and parts["trust"] == 0.5
    assert parts["confidence"] == pytest.approx(0.875 * 0.5)
    assert parts["check"] == "executed" and parts["executed"] == 2
    assert parts["summary"] == "2 of 2 branches agree; 0 verified, 2 refuted; token confidence n/a"


def test_parts_show_verification_and_token_confidence() -> None:
    branches = [b(0, "7", "verified", 0.8), b(1, "7", "refuted", 0.6), b(2, "7", confidence=0.7),
                b(3, "5", "verified", 0.9)]
    half = VoteSettings(prose_weight=0.5)
    parts = assess(branches, *decide(tally(branches, weights=half)), weights=half)
    assert (parts["agree"], parts["counted"], parts["verified"], parts["refuted"]) == (3, 4, 1, 1)
    assert parts["verification"] == 0.5 and parts["token_confidence"] == pytest.approx(0.7)
    # The verified pair (1.5) makes up for the refuted one (0.5) against their programs (2):
    # trust (1.5 + 0.5 + 0.5) / (1 + 1 + 0.5) = 1.
    assert parts["trust"] == 1.0
    assert parts["confidence"] == pytest.approx(min(parts["share"], beta_stability(3, 1)), abs=1e-4)
    assert "3 of 4 branches agree; 1 verified, 1 refuted; token confidence 0.70" == parts["summary"]


def program(i: int, answer: str) -> Branch:
    return Branch(index=i, answer=answer, code_answer=answer, execution=ExecResult(status="ok"))


def test_reasoning_in_another_branch_agreeing_with_an_executed_result_verifies_it() -> None:
    # checked's reasoning cross-check: programs 42, 42, 41, and a branch that only reasoned.
    programs = [program(0, "42"), program(1, "42"), program(2, "41")]
    agreeing = assess([*programs, b(3, "42")], "42", 0.7)
    assert (agreeing["status"], agreeing["check"], agreeing["reasoned_agree"]) == (
        "verified", "executed", 1)
    assert agreeing["summary"].startswith(
        "3 of 4 branches agree; 0 verified, 0 refuted, 1 reasoned answer(s) agree with the programs")
    # Reasoning that disagrees refutes nothing: it votes for its own answer.
    disagreeing = assess([*programs, b(3, "40")], "42", 0.6)
    assert (disagreeing["status"], disagreeing["check"], disagreeing["reasoned_agree"]) == (
        "unchecked", "executed", 0)
    # Prose agreeing with prose is no check; a refuted pair outranks the other branch's prose.
    assert assess([b(0, "42"), b(1, "42")], "42", 1.0)["status"] == "unchecked"
    refuted = Branch(index=4, answer="42", code_answer="42", verdict="refuted",
                     execution=ExecResult(status="ok"))
    assert assess([refuted, b(3, "42")], "42", 1.0)["status"] == "unverified"


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
    result = ponder.solve(LUCY, strategy="verified", samples=4, config=config, prose_weight=0.5)
    assert result.answer == "8"
    assert all(b.verdict == "refuted" for b in result.branches)
    # Four programs agree on 8 and every prose answer disagrees: the table's refuted row
    # (max(w, 1 - w) = 0.5) halves the confidence, and the badge says refuted.
    parts = result.confidence_parts
    assert parts["trust"] == 0.5 and result.confidence == pytest.approx(
        min(parts["share"], parts["stability"]) * 0.5, abs=1e-4)
    assert result.confidence < 0.5
    assert result.confidence_parts["status"] == "unverified"
    assert verdict_of(result).label == "refuted" and verdict_of(result).check == "executed"
    assert result.stopped != "decided"
    assert any(note.startswith("unverified:") for note in result.notes)
    stored = ponder.store.Store(config.store).result(result.run_id, result.problem_id)
    assert stored is not None and stored.confidence_parts["refuted"] == result.samples_used


def crash_or_compute(prose: dict[int, str], crashes: set[int], computes: str = "20"):
    """A script: prose answer ``prose[i]`` for branch ``i``; its program crashes if ``i`` is in
    ``crashes`` (a syntax error), else prints ``computes``."""

    def script(messages, index):
        if "python" in messages[-1]["content"].lower():
            return "```python\nprint(\n```" if index in crashes else f"```python\nprint({computes})\n```"
        return f"Let me think. The answer is {prose[index]}."

    return script


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")
@pytest.mark.parametrize("order", list(itertools.permutations(["crashed", "refuted", "refuted"])))
def test_two_executed_programs_outvote_prose_whose_program_crashed(scripted_config, order) -> None:
    # The case: one branch reasons 9 and its program crashes; two reason 18 and their
    # programs compute 20. The old rule answered 9 (1.0 against 2 x 0.25).
    crashed = {i for i, kind in enumerate(order) if kind == "crashed"}
    prose = {i: "9" if i in crashed else "18" for i in range(3)}
    name = "crash-" + "-".join(kind[0] for kind in order)
    config = scripted_config(register_script(name, crash_or_compute(prose, crashed)))
    result = ponder.solve(LUCY, strategy="verified", samples=3, early_stop=False, config=config)
    assert result.answer == "20"
    assert {a: v.count for a, v in result.votes.items()} == {"20": 2, "9": 1}
    assert result.votes["20"].weight > result.votes["9"].weight
    assert [b.verdict for b in sorted(result.branches, key=lambda b: b.index)] == [
        "unverified" if kind == "crashed" else "refuted" for kind in order]
    verdict = verdict_of(result)
    assert (verdict.label, verdict.check) == ("refuted", "executed")
    assert verdict.confidence == result.confidence > 0.0


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")
def test_all_programs_crashed_is_a_prose_only_vote_reported_unverified(scripted_config) -> None:
    config = scripted_config(register_script("all-crash", crash_or_compute(
        {0: "7", 1: "8", 2: "7"}, crashes={0, 1, 2})))
    result = ponder.solve(LUCY, strategy="verified", samples=3, early_stop=False, config=config)
    assert result.answer == "7" and {a: v.count for a, v in result.votes.items()} == {"7": 2, "8": 1}
    assert all(b.execution is not None and b.code_answer is None for b in result.branches)
    parts = result.confidence_parts
    assert (parts["status"], parts["check"], parts["executed"], parts["trust"]) == ("unchecked", "none", 0, 1.0)
    verdict = verdict_of(result)
    assert (verdict.label, verdict.check) == ("unverified", "none")
    assert result.confidence == pytest.approx(min(parts["share"], beta_stability(2, 1)), abs=1e-4)


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")
def test_the_prose_weight_is_the_strategys_setting(scripted_config) -> None:
    # One verified pair (7) against two refuted pairs whose programs agree on 5.
    def script(messages, index):
        if "python" in messages[-1]["content"].lower():
            return "```python\nprint(7)\n```" if index == 0 else "```python\nprint(5)\n```"
        return "The answer is 7."

    config = scripted_config(register_script("vs-two-refuted", script))
    kw = dict(strategy="verified", samples=3, early_stop=False, config=config)
    assert ponder.solve(LUCY, prose_weight=0.5, **kw).answer == "7"  # 1.5 against 1.0
    low = ponder.solve(LUCY, prose_weight=0.25, **kw)
    assert low.answer == "5" and low.confidence_parts["prose_weight"] == 0.25
    with pytest.raises(ponder.ConfigError, match="prose_weight"):
        ponder.solve(LUCY, prose_weight=2.0, **kw)


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")
def test_escalate_votes_with_the_same_table(scripted_config) -> None:
    # Both roles: prose 9 with a crashed program, and two refuted pairs whose programs give 20.
    script = register_script("esc-crash", crash_or_compute({0: "9", 1: "18", 2: "18", 3: "9",
                                                            4: "18", 5: "18"}, crashes={0, 3}))
    config = scripted_config(script, standard=script)
    result = ponder.solve(LUCY, strategy="escalate", samples=3, early_stop=False, config=config,
                          escalate_samples=3, prose_weight=0.5)
    events = ponder.store.Store(config.store).events(result.run_id)
    assert [e.outputs["leader"] for e in events if e.node == "vote"] == ["20", "20"]
    assert result.escalated and result.answer == "20"
    assert {a: v.count for a, v in result.votes.items()} == {"20": 2, "9": 1}
