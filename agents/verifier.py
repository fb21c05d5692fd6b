"""Verifier nodes: run the branch's program in the sandbox, then judge the branch.

The verdict compares the executed result with the reasoned answer (math, choice, text) or
runs the problem's tests (code). Each branch also gets the two checkable rewards DeepSeek-R1
was trained with: ``accuracy`` (only where a reference or tests exist) and ``format``
(an answer could be extracted and any thinking is well-formed).
"""

from __future__ import annotations

import time
from typing import Any

from ponder.agents.deps import Deps
from ponder.answers import equivalent, extract_answer, is_correct, program_answer
from ponder.errors import SandboxUnavailable
from ponder.types import Branch, ExecResult, Problem


def program_with_tests(problem: Problem, solution: str) -> str:
    """A program that runs a code problem's tests against ``solution`` (HumanEval layout)."""
    check = f"\ncheck({problem.entry_point})\n" if problem.entry_point else "\n"
    return f"{solution}\n\n{problem.tests or ''}\n{check}"


async def execute(state: dict[str, Any], *, deps: Deps) -> dict[str, Any]:
    """Run the branch's program (with the tests, for code problems) in the sandbox."""
    problem, branch, started = state["problem"], state["branch"], time.time()
    if not branch.code:
        return {}
    if deps.sandbox is None:
        raise SandboxUnavailable("this strategy runs code but no sandbox was given; "
                                 "build the graph with a sandbox (config.sandbox)")
    program = program_with_tests(problem, branch.code) if problem.kind == "code" else branch.code
    result: ExecResult = await deps.sandbox.arun(program)
    code_answer = None
    if problem.kind != "code" and result.status == "ok":
        printed = program_answer(result.stdout)
        # A program may print a sentence ("Mia has 25 dollars."): read the answer out of it.
        code_answer = extract_answer(printed, problem.kind, problem.choices) if printed else None
    updated = branch.model_copy(update={"execution": result, "code_answer": code_answer})
    event = deps.record(problem, "execute", started, parent=state.get("parent_event"),
                        branch_id=branch.id, inputs={"code": program},
                        outputs={"status": result.status, "stdout": result.stdout,
                                 "stderr": result.stderr, "value": result.value,
                                 "duration_s": result.duration_s, "answer": code_answer})
    return {"branch": updated, "parent_event": event}


def score(problem: Problem, answer: str | None) -> bool | None:
    """Whether ``answer`` is right: against the reference, or for code, that the tests passed.

    ``None`` when there is nothing to check against.
    """
    if problem.kind == "code":
        return answer == "pass" if problem.tests else None
    return is_correct(answer, problem.reference, problem.kind)


def judge(problem: Problem, branch: Branch) -> Branch:
    """Give ``branch`` its final answer, verdict and rewards."""
    answer, verdict = branch.answer, branch.verdict
    ran = branch.execution is not None
    if problem.kind == "code":
        answer = "pass" if ran and branch.execution.status == "ok" else ("fail" if ran else None)
        verdict = "verified" if answer == "pass" else ("refuted" if ran else "no_answer")
    elif ran:
        # An executed computation is more trustworthy than arithmetic done in prose (the
        # program-of-thought finding), so a program's answer stands for the branch; the
        # reasoned answer agreeing with it is what makes the branch verified.
        reasoned = branch.answer
        if branch.code_answer is not None:
            answer = branch.code_answer
            if reasoned is None:
                verdict = "unverified"
            else:
                verdict = "verified" if equivalent(reasoned, answer, problem.kind) else "refuted"
        elif reasoned is not None and branch.execution.status != "sandbox_error":
            verdict = "refuted"
    well_formed = "<think>" not in branch.text and "</think>" not in branch.text
    rewards = {"format": 1.0 if answer is not None and well_formed else 0.0}
    correct = score(problem, answer)
    if correct is not None:
        rewards["accuracy"] = 1.0 if correct else 0.0
    return branch.model_copy(update={"answer": answer, "verdict": verdict, "rewards": rewards,
                                     "reasoned_answer": branch.answer})


async def verify(state: dict[str, Any], *, deps: Deps) -> dict[str, Any]:
    """Judge the branch and hand it to the vote."""
    problem, started = state["problem"], time.time()
    branch = judge(problem, state["branch"])
    deps.record(problem, "verify", started, parent=state.get("parent_event"),
                branch_id=branch.id,
                outputs={"answer": branch.answer, "verdict": branch.verdict,
                         "code_answer": branch.code_answer, "rewards": branch.rewards})
    deps.progress({"event": "branch_finished", "branch": branch.index, "answer": branch.answer,
                   "verdict": branch.verdict})
    return {"branches": [branch]}
