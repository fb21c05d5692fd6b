"""Verifier nodes: run the branch's program in the sandbox, then judge the branch.

The verdict compares the executed result with the reasoned answer (math, choice, text) or
grades the program against the problem's tests in a process it cannot touch (code, see
:mod:`ponder.agents.grader`). Each branch also gets the two checkable rewards DeepSeek-R1
was trained with: ``accuracy`` (only where a reference or tests exist) and ``format``
(an answer could be extracted and any thinking is well-formed).
"""

from __future__ import annotations

from typing import Any

from ponder.agents import grader
from ponder.agents.deps import Deps
from ponder import answers
from ponder.answers import equivalent, extract_answer, program_answer, value_answer
from ponder.errors import SandboxUnavailable
from ponder.types import Branch, ExecResult, Problem
from ponder.agents.state import BranchState


def program_with_tests(problem: Problem, solution: str) -> str:
    """The sandboxed program that grades ``solution`` against the problem's tests.

    Not HumanEval's ``solution + tests + check()`` (which ``os._exit(0)`` passes): the tests
    run in a process the solution cannot touch and report through the value channel with a
    nonce sent on stdin (:mod:`ponder.agents.grader`).
    """
    return grader.grading_program(problem, solution)


async def execute(state: BranchState, *, deps: Deps) -> dict[str, Any]:
    """Run the branch's program (code problems: grade it against the tests) in the sandbox."""
    problem, branch = state["problem"], state["branch"]
    if not branch.code:
        return {}
    if deps.sandbox is None:
        raise SandboxUnavailable("this strategy runs code but no sandbox was given; "
                                 "build the graph with a sandbox (config.sandbox)")
    if problem.kind == "code":
        program, nonce = program_with_tests(problem, branch.code), grader.new_nonce()
        result: ExecResult = await deps.sandbox.arun(program, stdin=nonce)
        code_answer = None if result.status == "sandbox_error" else (
            "pass" if grader.passed(result, nonce) else "fail")
        source = "grader"
    else:
        program = branch.code
        result = await deps.sandbox.arun(program)
        code_answer, source = program_result(result, problem)
    updated = branch.model_copy(update={"execution": result, "code_answer": code_answer})
    deps.trace(inputs={"code": program},
               outputs={"status": result.status, "stdout": result.stdout, "stderr": result.stderr,
                        "value": result.value, "duration_s": result.duration_s,
                        "answer": code_answer, "answer_from": source})
    return {"branch": updated}


def program_result(result: ExecResult, problem: Problem) -> tuple[str | None, str | None]:
    """A program-of-thought's answer and where it came from: ``answer(x)``, else stdout.

    The value channel cannot be forged by printing, so it wins; the last printed line is a
    fallback for models (and providers' prompts) that print instead.
    """
    if result.status != "ok":
        return None, None
    if result.value is not None:
        return value_answer(result.value, problem.kind, problem.choices), "value"
    printed = program_answer(result.stdout)
    # A program may print a sentence ("Mia has 25 dollars."): read the answer out of it.
    answer = extract_answer(printed, problem.kind, problem.choices) if printed else None
    return answer, ("stdout" if answer is not None else None)


def is_correct(problem: Problem, answer: str | None) -> bool | None:
    """Whether ``answer`` is right: against the reference, or for code, that the tests passed.

    ``None`` when there is nothing to check against.
    """
    if problem.kind == "code":
        return answer == "pass" if problem.tests else None
    return answers.is_correct(answer, problem.reference, problem.kind)


def verify_branch(problem: Problem, branch: Branch) -> Branch:
    """Give ``branch`` its final answer, verdict and rewards.

    A program that did not produce an answer (it crashed, timed out, printed nothing) says
    nothing about the reasoning: the branch stays *unverified*, never *refuted*.
    """
    answer, verdict = branch.answer, branch.verdict
    ran = branch.execution is not None
    if problem.kind == "code":
        answer = branch.code_answer if ran else None
        verdict = {"pass": "verified", "fail": "refuted"}.get(answer or "", "no_answer")
    elif ran and branch.code_answer is not None:
        # An executed computation is more trustworthy than arithmetic done in prose (the
        # program-of-thought finding), so a program's answer stands for the branch; the
        # reasoned answer agreeing with it is what makes the branch verified.
        reasoned, answer = branch.answer, branch.code_answer
        if reasoned is None:
            verdict = "unverified"
        else:
            verdict = "verified" if equivalent(reasoned, answer, problem.kind) else "refuted"
    if answer is None:
        verdict = "no_answer"
    elif verdict == "no_answer":
        verdict = "unverified"
    well_formed = "<think>" not in branch.text and "</think>" not in branch.text
    # Scores a branch step already gave (the judge's) stay with the branch.
    rewards = {**branch.rewards, "format": 1.0 if answer is not None and well_formed else 0.0}
    correct = is_correct(problem, answer)
    if correct is not None:
        rewards["accuracy"] = 1.0 if correct else 0.0
    return branch.model_copy(update={"answer": answer, "verdict": verdict, "rewards": rewards,
                                     "reasoned_answer": branch.answer})


async def verify(state: BranchState, *, deps: Deps) -> dict[str, Any]:
    """Judge the branch and hand it to the vote."""
    branch = verify_branch(state["problem"], state["branch"])
    deps.trace(outputs={"answer": branch.answer, "verdict": branch.verdict,
                        "reasoned_answer": branch.reasoned_answer,
                        "code_answer": branch.code_answer, "rewards": branch.rewards})
    return {"branches": [branch]}
