"""Rewards that run code: tests passed (:func:`code_reward`) and a prose answer agreeing with
an executed program's (:func:`program_agreement_reward`).

A batch of completions is one concurrent wave through ponder's sandbox (bubblewrap by
default): every program of the batch is started at once, ``sandbox.concurrency`` running at a
time, and each completion is graded against all of its tests in one run, by the tamper-proof
grader of :mod:`ponder.agents.grader` (the solution runs in a process apart from the tests, so
``os._exit(0)``, a patched builtin or an always-equal object fail). Open-R1's code reward
instead makes one remote sandbox request per test.

``ponder.rewards`` sits in the agents' layer (it grades with their grader; see
tests/test_layering.py): the core never imports it.
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ponder.agents import grader
from ponder.agents.verifier import program_result
from ponder.answers import equivalent, extract_answer
from ponder.rewards.inputs import (
    DEFAULTS,
    RewardOptions,
    choice_list,
    column,
    completion_parts,
    log,
    prompt_text,
    reference_answer,
    row_kind,
    without_think,
)
from ponder.sandbox.base import Sandbox, run_sync
from ponder.types import ExecResult, Problem

_SANDBOXES: dict[tuple[int, str], Sandbox] = {}
_FENCED = re.compile(r"```.*?(?:```|\Z)", re.S)
_LANG = re.compile(r"[\w+-]*")


def sandbox_for(options: RewardOptions) -> Sandbox:
    """This process's sandbox for ``options.sandbox`` (made once; never pickled along).

    Raises :class:`~ponder.errors.SandboxUnavailable` when it cannot start here: a setup
    problem, not a completion's fault, so it is not turned into a reward.
    """
    from ponder.sandbox import make_sandbox

    key = (os.getpid(), options.sandbox.model_dump_json())
    if key not in _SANDBOXES:
        _SANDBOXES[key] = make_sandbox(options.sandbox)
    return _SANDBOXES[key]


@dataclass
class _Job:
    """One graded run: which completion, the program, the nonce that proves a pass."""

    row: int
    program: str
    nonce: str


async def _run_wave(sandbox: Sandbox, jobs: list[_Job]) -> list[ExecResult]:
    """Every job at once (the sandbox bounds how many run at a time)."""
    async def one(job: _Job) -> ExecResult:
        try:
            return await sandbox.arun(job.program, stdin=job.nonce or None)
        except Exception as exc:  # noqa: BLE001 - a launcher failure grades as no pass
            log.warning("code reward: a sandbox run failed (%s: %s)", type(exc).__name__, exc)
            return ExecResult(status="sandbox_error", message=str(exc))
    return list(await asyncio.gather(*(one(job) for job in jobs)))


# code_reward ----------------------------------------------------------------------------------
def solution_program(completion: Any, prompt: Any, entry_point: str | None) -> str:
    """The program a completion offers: its last Python code block, else its text (a
    completion-style body); prefixed with the prompt when the prompt holds the function
    header and the completion does not (HumanEval's prompt + completion)."""
    text, _ = completion_parts(completion)
    text = without_think(text)
    code = last_program(text) or text
    header = prompt_text(prompt)
    if entry_point and header and _defines(header, entry_point) and not _defines(code, entry_point):
        code = header + code
    return code


def last_program(text: str) -> str | None:
    """The last ```` ```python ```` block, else the last untagged fence, as
    :func:`ponder.answers.extract_code` finds them (an unclosed final fence counts), in one
    linear pass: its regex is quadratic on thousands of fences without a newline."""
    python: list[str] = []
    plain: list[str] = []
    i = 0
    while (start := text.find("```", i)) >= 0:
        newline = text.find("\n", start + 3)
        if newline < 0:  # no later fence can open a block either
            break
        info = text[start + 3:newline].lstrip(" \t")
        lang = _LANG.match(info).group().lower()  # type: ignore[union-attr]
        end = text.find("```", newline + 1)
        body = text[newline + 1:end if end >= 0 else len(text)]
        if body.strip():
            if lang in ("python", "py", "python3"):
                python.append(body.strip("\n"))
            elif not lang:
                plain.append(body.strip("\n"))
        if end < 0:
            break
        i = end + 3
    found = python or plain
    return found[-1] if found else None


def _defines(code: str, name: str) -> bool:
    return re.search(rf"^\s*(?:async\s+)?def\s+{re.escape(name)}\s*\(", code, re.M) is not None


def split_tests(tests: str) -> list[str]:
    """``tests`` split into one variant per test statement, for pass fractions: each keeps
    the other statements of ``check`` (setup) but only one of its asserting statements.
    Tests that cannot be split (no asserts found, not Python) stay whole."""
    try:
        tree = ast.parse(tests)
    except (SyntaxError, ValueError, RecursionError):
        return [tests]
    check = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None)
    body = check.body if check is not None else tree.body
    asserting = [i for i, stmt in enumerate(body) if _asserts(stmt)]
    if len(asserting) < 2:
        return [tests]
    variants = []
    for keep in asserting:
        kept = [stmt for i, stmt in enumerate(body) if i == keep or i not in asserting]
        if check is not None:
            check.body = kept
        else:
            tree.body = kept
        variants.append(ast.unparse(tree))
    return variants


def _asserts(stmt: ast.stmt) -> bool:
    return any(isinstance(node, ast.Assert) for node in ast.walk(stmt))


def _code_jobs(completions: Sequence[Any], kwargs: dict[str, Any],
               options: RewardOptions) -> tuple[list[_Job], list[int | None]]:
    """The grading runs of a batch, and per completion how many runs it has (``None``: no
    tests, so no reward)."""
    n = len(completions)
    tests = column(kwargs, options.tests, n)
    entries = column(kwargs, options.entry_point, n)
    prompts = column(kwargs, options.prompt, n)
    jobs: list[_Job] = []
    counts: list[int | None] = []
    for row, (completion, test, entry, prompt) in enumerate(zip(completions, tests, entries, prompts)):
        units = _test_list(test, options.mode)
        if not units:
            counts.append(None)
            continue
        entry = entry if isinstance(entry, str) and entry.strip() else None
        solution = solution_program(completion, prompt, entry)
        question = prompt_text(prompt)
        for unit in units:
            problem = Problem(question=question, kind="code", tests=unit, entry_point=entry)
            jobs.append(_Job(row, grader.grading_program(problem, solution), grader.new_nonce()))
        counts.append(len(units))
    return jobs, counts


def _test_list(test: Any, mode: str) -> list[str]:
    """The row's tests as grading units: a string (split per statement for ``fraction``) or
    a list of separate test snippets."""
    if isinstance(test, str) and test.strip():
        return split_tests(test) if mode == "fraction" else [test]
    if isinstance(test, (list, tuple)):
        units = [t for t in test if isinstance(t, str) and t.strip()]
        return units if mode == "fraction" else (["\n".join(units)] if units else [])
    return []


async def code_reward_async(completions: list[Any], *, reward_options: RewardOptions = DEFAULTS,
                            **kwargs: Any) -> list[float | None]:
    """:func:`code_reward` for async trainers: the wave runs on the caller's event loop."""
    jobs, counts = _code_jobs(completions, kwargs, reward_options)
    results = await _run_wave(sandbox_for(reward_options), jobs) if jobs else []
    passed = [0] * len(completions)
    for job, result in zip(jobs, results):
        passed[job.row] += grader.passed(result, job.nonce)
        if result.status == "sandbox_error":  # the sandbox failed, not the program: no signal
            log.warning("code_reward: None for completion %d (sandbox error: %s)", job.row,
                        result.message[:200])
            counts[job.row] = None
    return [None if count is None else passed[row] / count for row, count in enumerate(counts)]


def code_reward(completions: list[Any], *, reward_options: RewardOptions = DEFAULTS,
                **kwargs: Any) -> list[float | None]:
    """1.0 when the completion's program passes the row's tests (``mode="fraction"``: the
    share of test statements it passes), 0.0 when not, ``None`` for a row without tests (or
    when the sandbox itself failed, which says nothing about the program).

    Columns: ``test`` (HumanEval's ``check(candidate)`` source, plain asserts, or a list of
    snippets), ``entry_point``, and the prompt (run first, for helpers the tests use). The
    program is the completion's last ```` ```python ```` block, else its text.

    >>> code_reward(["```python\\ndef add(a, b):\\n    return a + b\\n```"],
    ...             test=["assert add(2, 3) == 5"])          # doctest: +SKIP
    [1.0]
    """
    return run_sync(lambda: code_reward_async(completions, reward_options=reward_options, **kwargs))


# program_agreement_reward -----------------------------------------------------------------------
def prose_of(text: str) -> str:
    """The completion without its code blocks: what it states in words."""
    return _FENCED.sub("", without_think(text))


async def program_agreement_reward_async(
        completions: list[Any], *, reward_options: RewardOptions = DEFAULTS,
        **kwargs: Any) -> list[float | None]:
    """:func:`program_agreement_reward` for async trainers."""
    n, opts = len(completions), reward_options
    refs = column(kwargs, opts.reference, n)
    kinds = column(kwargs, opts.kind, n)
    choices = column(kwargs, opts.choices, n)
    programs = column(kwargs, opts.program, n)
    jobs, stated, problems = [], [], []
    for row, completion in enumerate(completions):
        text, _ = completion_parts(completion)
        kind = row_kind(kinds[row], reference_answer(refs[row]), choices[row], opts.default_kind)
        kind = "math" if kind == "code" else kind
        problem = Problem(question="", kind=kind, choices=choice_list(choices[row]))
        program = programs[row] if isinstance(programs[row], str) else last_program(without_think(text))
        problems.append(problem)
        stated.append(_safe_answer(prose_of(text)[-opts.answer_window:], problem))
        if program:
            jobs.append(_Job(row, program, ""))
    results = await _run_wave(sandbox_for(opts), jobs) if jobs else []
    computed: dict[int, str | None] = {
        job.row: program_result(result, problems[job.row])[0] for job, result in zip(jobs, results)}
    return [_agreement(stated[row], computed.get(row), problems[row]) for row in range(n)]


def _safe_answer(text: str, problem: Problem) -> str | None:
    try:
        return extract_answer(text, problem.kind, problem.choices)
    except Exception as exc:  # noqa: BLE001 - model output must never stop training
        log.warning("program_agreement_reward: unreadable completion (%s)", type(exc).__name__)
        return None


def _agreement(stated: str | None, computed: str | None, problem: Problem) -> float | None:
    if computed is None:  # no program, or it gave no answer: it says nothing either way
        log.debug("program_agreement_reward: None (no program answer to agree with)")
        return None
    if stated is None:
        return 0.0
    try:
        return 1.0 if equivalent(stated, computed, problem.kind) else 0.0
    except Exception as exc:  # noqa: BLE001
        log.warning("program_agreement_reward: 0.0 (%s comparing answers)", type(exc).__name__)
        return 0.0


def program_agreement_reward(completions: list[Any], *, reward_options: RewardOptions = DEFAULTS,
                             **kwargs: Any) -> list[float | None]:
    """1.0 when the answer a completion states in prose equals the answer its program
    computes (run in the sandbox: ``answer(x)``, else the last printed line), 0.0 when they
    differ or the prose states none, ``None`` when there is no program answer to compare —
    ponder's ``verified`` verdict as a reward. The program is the completion's own last code
    block, or the row's ``program`` column.
    """
    return run_sync(lambda: program_agreement_reward_async(
        completions, reward_options=reward_options, **kwargs))
