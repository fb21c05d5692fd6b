"""Exports of a run, streamed from the store one page at a time (branch exports read the
``branches`` rows, never whole results).

- ``sft``: verified-correct branches as chat training data in TRL's conversational shape
  (``{"messages": [{"role": "user", ...}, {"role": "assistant", ...}]}``) — rejection
  sampling, as DeepSeek distilled R1 into small models; a code branch only when its pass
  came from the tamper-proof grader (:mod:`ponder.agents.grader`). The reasoning goes in
  ``<think>`` tags inside the assistant content (``reasoning="think"``, kept as written) or
  in the assistant message's ``reasoning_content`` field (``reasoning="field"``, which chat
  templates that render thinking themselves read, such as Qwen3's; others drop it);
- ``prompt-completion``: the same traces as TRL's conversational prompt/completion pairs
  (``{"prompt": [user turn], "completion": [assistant turn]}``: SFTTrainer then trains on the
  completion only);
- ``rewards``: every branch with its ``accuracy`` and ``format`` rewards (for RL or
  reward-model data);
- ``jsonl`` / ``csv``: the plain results, one row per problem and strategy.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal, TextIO

from ponder.answers import strip_think
from ponder.eval.feedback import HumanLabels, reward_fields
from ponder.store import Store
from ponder.types import Branch, Problem

if TYPE_CHECKING:
    import datasets  # type: ignore[import-untyped]

ExportFormat = Literal["sft", "prompt-completion", "rewards", "jsonl", "csv"]
EXPORT_FORMATS: tuple[str, ...] = ("sft", "prompt-completion", "rewards", "jsonl", "csv")
Reasoning = Literal["think", "field"]
REASONING_MODES: tuple[str, ...] = ("think", "field")
RESULT_FIELDS = ("problem_id", "strategy", "answer", "reference", "correct", "confidence",
                 "tokens", "cost_usd", "latency_s", "samples_used", "stopped")
PAGE = 500
_THINK = re.compile(r"<think>(.*?)</think>", re.S | re.I)


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


def sft_parts(problem: Problem, branch: Branch) -> tuple[str, str]:
    """(reasoning, final answer) of a trace: separated reasoning or ``<think>`` text, then
    the answer (for code, the program in a fence)."""
    inline = _THINK.findall(branch.text or "")
    if branch.reasoning or inline:  # separated by the provider, or in the text's <think> blocks
        thinking = branch.reasoning or "\n".join(part.strip() for part in inline)
        final = strip_think(branch.text).strip() or branch.answer
    else:
        thinking, final = branch.text, branch.answer
    if problem.kind == "code" and branch.code:
        final = f"```python\n{branch.code.strip()}\n```"
    elif branch.code and not (thinking or "").strip():  # program of thought: the program is the work
        thinking = f"```python\n{branch.code.strip()}\n```"
    return (thinking or "").strip(), (final or "").strip()


def sft_message(problem: Problem, branch: Branch) -> str:
    """The assistant turn: ``<think>`` reasoning, then the final answer."""
    thinking, final = sft_parts(problem, branch)
    return f"<think>\n{thinking}\n</think>\n\n{final}"


def assistant_turn(problem: Problem, branch: Branch, reasoning: Reasoning = "think") -> dict[str, str]:
    """The assistant message, reasoning in ``<think>`` tags or in ``reasoning_content``."""
    if reasoning == "field":
        thinking, final = sft_parts(problem, branch)
        return {"role": "assistant", "content": final, "reasoning_content": thinking}
    return {"role": "assistant", "content": sft_message(problem, branch)}


def sft_records(store: Store, run_id: str, *, strategy: str | None = None,
                any_correct: bool = False, reasoning: Reasoning = "think",
                shape: Literal["messages", "prompt-completion"] = "messages",
                ) -> Iterator[dict[str, Any]]:
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
            user = {"role": "user", "content": problem.question}
            turn = assistant_turn(problem, branch, reasoning)
            chat = ({"messages": [user, turn]} if shape == "messages"
                    else {"prompt": [user], "completion": [turn]})
            yield chat | {"problem_id": row["problem_id"], "strategy": row["strategy"],
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


def export_records(store: Store, run_id: str, fmt: ExportFormat, *, strategy: str | None = None,
                   any_correct: bool = False, reasoning: Reasoning = "think",
                   ) -> Iterator[dict[str, Any]]:
    """The records of one export format (``csv`` gives the ``jsonl`` rows)."""
    if fmt in ("sft", "prompt-completion"):
        return sft_records(store, run_id, strategy=strategy, any_correct=any_correct,
                           reasoning=reasoning,
                           shape="messages" if fmt == "sft" else "prompt-completion")
    if fmt == "rewards":
        return reward_records(store, run_id, strategy=strategy)
    return result_records(store, run_id, strategy=strategy)


def export_run(store: Store, run_ref: str, fmt: ExportFormat, out: TextIO, *,
               strategy: str | None = None, any_correct: bool = False,
               reasoning: Reasoning = "think") -> int:
    """Write run ``run_ref`` to ``out`` in ``fmt``; returns the number of records written."""
    run = store.require_run(run_ref)
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=list(RESULT_FIELDS), lineterminator="\n")
        writer.writeheader()
        count = 0
        for count, row in enumerate(result_records(store, run.id, strategy=strategy), 1):
            writer.writerow(row)
        return count
    records = export_records(store, run.id, fmt, strategy=strategy, any_correct=any_correct,
                             reasoning=reasoning)
    return write_jsonl(records, out)


def write_jsonl(records: Iterable[dict[str, Any]], out: TextIO) -> int:
    """One JSON object per line; returns how many."""
    count = 0
    for count, record in enumerate(records, 1):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return count


def to_dataset(store: Store, run_ref: str, format: ExportFormat = "sft", *,  # noqa: A002
               strategy: str | None = None, any_correct: bool = False,
               reasoning: Reasoning = "think") -> datasets.Dataset:
    """Run ``run_ref``'s export as a Hugging Face ``datasets.Dataset`` (needs the ``hf`` extra).

    >>> ds = to_dataset(Store(), "exp1", format="sft")          # doctest: +SKIP
    >>> ds.save_to_disk("train")                                  # doctest: +SKIP
    """
    return records_dataset(export_records(store, store.require_run(run_ref).id, format,
                                          strategy=strategy, any_correct=any_correct,
                                          reasoning=reasoning))


def records_dataset(records: Iterable[dict[str, Any]]) -> datasets.Dataset:
    """Records as a ``datasets.Dataset`` (held in memory while it is built)."""
    try:
        import datasets
    except ImportError:
        from ponder.errors import ConfigError

        raise ConfigError("a Hugging Face dataset needs the datasets package: "
                          "pip install 'ponder[hf]'") from None
    return datasets.Dataset.from_list(list(records))
