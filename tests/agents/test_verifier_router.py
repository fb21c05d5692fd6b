"""Verdicts, rewards, difficulty routing and escalation decisions."""

from __future__ import annotations

import pytest

from ponder.agents.deps import Deps
from ponder.agents.router import budget_reached
from ponder.graphs.sampling import Stage, after_vote
from ponder.graphs.strategies.escalate import (EscalateSettings, escalate, estimate_difficulty,
                                              needs_escalation)
from ponder.agents.verifier import verify_branch, program_with_tests
from ponder.config import SolveOptions
from ponder.types import Branch, ExecResult, Problem, Usage, Vote

MATH = Problem(question="What is 6 * 7?", reference="42")


def ran(stdout_answer: str | None, status: str = "ok") -> dict:
    return {"execution": ExecResult(status=status, stdout=f"{stdout_answer}\n"),
            "code": "print(42)", "code_answer": stdout_answer}


def test_agreeing_code_verifies_and_scores():
    branch = verify_branch(MATH, Branch(text="so 42", answer="42", **ran("42")))
    assert branch.verdict == "verified" and branch.answer == "42"
    assert branch.rewards == {"format": 1.0, "accuracy": 1.0}


def test_disagreeing_code_refutes_and_the_program_answer_stands():
    branch = verify_branch(MATH, Branch(text="so 41", answer="41", **ran("42")))
    assert branch.verdict == "refuted" and branch.answer == "42" and branch.reasoned_answer == "41"


@pytest.mark.parametrize("status", ["error", "timeout", "oom", "sandbox_error"])
def test_a_program_that_did_not_run_leaves_the_branch_unverifiable(status):
    # a NameError or SyntaxError says nothing about the reasoning: not refuted
    branch = verify_branch(MATH, Branch(text="so 41", answer="41", verdict="unverified",
                                **ran(None, status=status)))
    assert branch.verdict == "unverified" and branch.answer == "41"
    assert branch.rewards["accuracy"] == 0.0


def test_a_crashed_program_of_thought_has_no_answer():
    branch = verify_branch(MATH, Branch(answer=None, **ran(None, status="error")))
    assert branch.verdict == "no_answer" and branch.answer is None


def test_no_answer_anywhere():
    branch = verify_branch(MATH, Branch(text="hmm", answer=None, verdict="no_answer"))
    assert branch.verdict == "no_answer" and branch.rewards == {"format": 0.0, "accuracy": 0.0}


def test_malformed_thinking_loses_the_format_reward():
    branch = verify_branch(MATH, Branch(text="<think>unfinished 42", answer="42"))
    assert branch.rewards["format"] == 0.0


def test_code_problem_verdict_from_tests():
    problem = Problem(question="def f():\n", kind="code", tests="def check(c):\n    assert c() == 1\n",
                      entry_point="f")
    passed = verify_branch(problem, Branch(code="def f(): return 1", execution=ExecResult(status="error"),
                                   code_answer="pass"))
    failed = verify_branch(problem, Branch(code="def f(): return 2", execution=ExecResult(status="error"),
                                   code_answer="fail"))
    assert (passed.verdict, passed.answer, passed.rewards["accuracy"]) == ("verified", "pass", 1.0)
    assert (failed.verdict, failed.answer, failed.rewards["accuracy"]) == ("refuted", "fail", 0.0)
    # exit status 0 alone is not a pass: only the grader's nonce (code_answer "pass") is
    exited = verify_branch(problem, Branch(code="import os; os._exit(0)", execution=ExecResult(status="ok")))
    assert (exited.verdict, exited.answer) == ("no_answer", None)
    # the tests run in a separate process, never appended after the solution
    assert not program_with_tests(problem, "def f(): return 1").rstrip().endswith("check(f)")


def test_difficulty_grows_with_steps():
    easy = estimate_difficulty(Problem(question="What is 2 + 3?"))
    hard = estimate_difficulty(Problem(question=(
        "A train travels 60 km in 1.5 hours, then 80 km in 2 hours. A second train is twice as "
        "fast. What is the average speed, in percent of the second train's speed?")))
    assert easy == 0.0 and hard >= 0.7


def test_escalation_rules():
    options = Deps(models=None, settings=EscalateSettings(escalate_below=0.6))  # type: ignore[arg-type]
    split = {"answer": "1", "confidence": 0.5, "votes": {"1": Vote(count=2, weight=2.0)}}
    unanimous = {"answer": "1", "confidence": 1.0, "votes": {"1": Vote(count=4, weight=4.0)}}
    assert needs_escalation(split, options)
    assert not needs_escalation(unanimous, options)
    assert needs_escalation({"answer": None}, options)
    unverified = {**unanimous, "branches": [Branch(index=0, answer="1", execution=ExecResult(status="ok"))]}
    assert needs_escalation(unverified, options)


class _Runtime:
    def __init__(self, options: SolveOptions):
        self.context = Deps(models=None, options=options)  # type: ignore[arg-type]


def test_after_vote_routes():
    options = _Runtime(SolveOptions(samples=4))
    stage = Stage(name="escalate", node=escalate, needed=lambda state, deps: True)
    base = {"branches": [Branch(index=i, answer="1") for i in range(2)], "stage_samples": 4,
            "answer": "1", "confidence": 0.5, "votes": {"1": Vote(count=2, weight=1.0)}}
    assert after_vote({**base, "decided": False}, options, stage=stage) == "sample_more"
    full = {**base, "branches": [Branch(index=i, answer="1") for i in range(4)], "decided": False}
    assert after_vote(full, options, stage=stage) == "next_stage"
    assert after_vote(full, options, stage=None) == "finish"
    assert after_vote({**full, "stage": "escalate"}, options, stage=stage) == "finish"
    assert after_vote({**base, "stopped": "budget_usd"}, options, stage=stage) == "finish"


def test_budgets():
    state = {"branches": [Branch(usage=Usage(prompt_tokens=50, completion_tokens=60, cost_usd=0.02))]}
    assert budget_reached(state, SolveOptions(budget_tokens=100)) == "budget_tokens"
    assert budget_reached(state, SolveOptions(budget_usd=0.01)) == "budget_usd"
    assert budget_reached(state, SolveOptions(budget_tokens=1000, budget_usd=1.0)) is None
