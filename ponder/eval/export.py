"""Exports of a run, streamed from the store one page at a time (branch exports read the
``branches`` rows, never whole results).

- ``sft``: verified-correct branches as chat training data, reasoning kept in ``<think>``
  tags — rejection sampling, as DeepSeek distilled R1 into small models; a code branch
  only when its pass came from the tamper-proof grader (:mod:`ponder.agents.grader`);
- ``rewards``: every branch with its ``accuracy`` and ``format`` rewards (for RL or
  reward-model data);
- ``jsonl`` / ``csv``: the plain results, one row per problem and strategy.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import Any, Literal, TextIO

from ponder.answers import strip_think
from ponder.eval.feedback import HumanLabels, reward_fields
from ponder.store import Store
from ponder.types import Branch, Problem

ExportFormat = Literal["sft", "rewards", "jsonl", "csv"]
EXPORT_FORMATS: tuple[str, ...] = ("sft", "rewards", "jsonl", "csv")
RESULT_FIELDS = ("problem_id", "strategy", "answer", "reference", "correct", "confidence",
                 "tokens", "cost_usd", "latency_s", "samples_used", "stopped")
PAGE = 500


def _branches(store: Store, run_id: str, strategy: str | None, *,
              accurate: bool = False) -> Iterator[tuple[Problem | None, dict[str, Any], Branch]]:
    """Branch rows in problem order with their problem (parsed once per problem) and the
    branch itself; no result is deserialised."""
    problem: Problem | None = None
    for row in store.branch_rows(run_id, strategy=strategy, accurate=accurate, page=PAGE):
        if problem is None or problem.id != row["problem_id"]:
            problem = Problem.model_validate_json(row["problem"]) if row["problem"] else None
        yield problem, row, Branch.model_validate_json(row["body"])


def is_verified_correct(branch: Branch, *, any_correct: bool = False) -> bool:
    """Whether a branch may become training data: right answer, and (unless
    ``any_correct``) cross-checked by code or tests."""
    correct = branch.rewards.get("accuracy") == 1.0
    return correct and (any_correct or branch.verdict == "verified")


def grade_is_tamper_proof(problem: Problem, branch: Branch) -> bool:
    """Whether a code branch's "pass" came from the nonce grader (``code_answer == "pass"``).

    Runs graded before it read success from the exit status, which ``os._exit(0)`` forges;
    their branches carry no ``code_answer`` and never become training data.
    """
    return problem.kind != "code" or branch.code_answer == "pass"


def sft_message(problem: Problem, branch: Branch) -> str:
    """The assistant turn: ``<think>`` reasoning, then the final answer."""
    if branch.reasoning:
        thinking, final = branch.reasoning, strip_think(branch.text).strip() or branch.answer
    else:
        thinking, final = strip_think(branch.text) or branch.text, branch.answer
    if problem.kind == "code" and branch.code:
        final = f"```python\n{branch.code.strip()}\n```"
    return f"<think>\n{thinking.strip()}\n</think>\n\n{(final or '').strip()}"


def sft_records(store: Store, run_id: str, *, strategy: str | None = None,
                any_correct: bool = False) -> Iterator[dict[str, Any]]:
    """One chat record per verified-correct branch (SQL keeps only the accurate ones), as a
    person's feedback corrects it (:mod:`ponder.eval.feedback`)."""
    labels = HumanLabels.of_run(store, run_id)
    for problem, row, branch in _branches(store, run_id, strategy, accurate=not labels.corrects):
        if problem is None or not grade_is_tamper_proof(problem, branch):
            continue
        keep = labels.sft_keep(problem, row, branch, any_correct=any_correct)
        if keep is None:  # nobody labelled it: the automatic grade decides
            keep = is_verified_correct(branch, any_correct=any_correct)
        if keep:
            yield {"messages": [{"role": "user", "content": problem.question},
                                {"role": "assistant", "content": sft_message(problem, branch)}],
                   "problem_id": row["problem_id"], "strategy": row["strategy"],
                   "branch_id": branch.id, "model": branch.model}


def reward_records(store: Store, run_id: str, *,
                   strategy: str | None = None) -> Iterator[dict[str, Any]]:
    """Every branch with its prompt, completion, verdict, rewards and human label."""
    labels = HumanLabels.of_run(store, run_id)
    for problem, row, branch in _branches(store, run_id, strategy):
        yield {"problem_id": row["problem_id"], "strategy": row["strategy"],
               "branch_id": branch.id, "index": branch.index, "model": branch.model,
               "prompt": problem.question if problem else None, "completion": branch.text,
               "reasoning": branch.reasoning, "code": branch.code, "answer": branch.answer,
               "reference": row["reference"], "verdict": branch.verdict,
               "accuracy": branch.rewards.get("accuracy"),
               "format": branch.rewards.get("format"), "rewards": branch.rewards,
               **reward_fields(labels, row, branch)}


def result_records(store: Store, run_id: str, *,
                   strategy: str | None = None) -> Iterator[dict[str, Any]]:
    """Flat result rows (no branches), ``PAGE`` rows per query."""
    offset = 0
    while True:
        rows = store.result_rows(run_id, strategy=strategy, limit=PAGE, offset=offset)
        for row in rows:
            row["correct"] = None if row["correct"] is None else bool(row["correct"])
            yield {key: row.get(key) for key in RESULT_FIELDS}
        if len(rows) < PAGE:
            return
        offset += PAGE


def export_run(store: Store, run_ref: str, fmt: ExportFormat, out: TextIO, *,
               strategy: str | None = None, any_correct: bool = False) -> int:
    """Write run ``run_ref`` to ``out`` in ``fmt``; returns the number of records written."""
    run = store.require_run(run_ref)
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(RESULT_FIELDS), lineterminator="\n")
        writer.writeheader()
        count = 0
        for count, row in enumerate(result_records(store, run.id, strategy=strategy), 1):
            writer.writerow(row)
        return count
    records = {
        "sft": lambda: sft_records(store, run.id, strategy=strategy, any_correct=any_correct),
        "rewards": lambda: reward_records(store, run.id, strategy=strategy),
        "jsonl": lambda: result_records(store, run.id, strategy=strategy),
    }[fmt]()
    count = 0
    for count, record in enumerate(records, 1):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return count
