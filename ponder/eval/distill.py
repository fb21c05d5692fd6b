"""Distillation data by rejection sampling: keep verified-correct traces, drop duplicates and
anything an evaluation set could have leaked into.

- **Decontamination**: a training question is dropped when it shares a word n-gram
  (default 8 words, after lower-casing, Unicode folding and dropping punctuation) with any
  question of the evaluation set; a question shorter than n words is compared whole. This is
  the n-gram overlap test of the GPT-3 and Llama reports, at question level. It runs *before*
  solving, so nothing is spent on a problem that would be thrown away.
- **Selection**: per problem, traces whose normalised assistant turn (reasoning and answer)
  repeats an earlier one are dropped, and at most ``k`` are kept, in branch order.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ponder.types import Problem

DEFAULT_NGRAM = 8
_NON_WORD = re.compile(r"[^\w]+")


def words(text: str) -> list[str]:
    """``text`` as normalised words: NFKC, case-folded, punctuation as spaces."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", text or "").casefold()).split()


def ngrams(text: str, n: int = DEFAULT_NGRAM) -> set[tuple[str, ...]]:
    """The word n-grams of ``text`` (the whole word sequence when it is shorter than n)."""
    seq = words(text)
    if len(seq) < n:
        return {tuple(seq)} if seq else set()
    return {tuple(seq[i:i + n]) for i in range(len(seq) - n + 1)}


class ContaminationIndex:
    """The n-grams of an evaluation set's questions, to test training questions against.

    >>> index = ContaminationIndex(["What is the sum of 2 and 3, in apples?"], n=4)
    >>> "Tom asks: what is the sum of 2 and 3?" in index
    True
    """

    def __init__(self, questions: Iterable[str], n: int = DEFAULT_NGRAM):
        if n < 1:
            raise ValueError("n-gram length must be at least 1")
        self.n = n
        self.grams: set[tuple[str, ...]] = set()
        self.questions = 0
        for question in questions:
            self.questions += 1
            self.grams |= ngrams(question, n)

    def __contains__(self, question: object) -> bool:
        return isinstance(question, str) and not self.grams.isdisjoint(ngrams(question, self.n))


def decontaminate(problems: Iterable[Problem], index: ContaminationIndex | None
                  ) -> tuple[list[Problem], list[Problem]]:
    """(kept, removed): the problems whose question overlaps the index are removed."""
    kept: list[Problem] = []
    removed: list[Problem] = []
    for problem in problems:
        (removed if index is not None and problem.question in index else kept).append(problem)
    return kept, removed


def problem_rows(problems: Iterable[Problem]) -> list[dict[str, Any]]:
    """Problems back as dataset rows (HumanEval's layout for code), so a batch can read
    them as rows in memory with the same ids and references."""
    rows: list[dict[str, Any]] = []
    for p in problems:
        if p.kind == "code":
            rows.append({"task_id": p.id, "prompt": p.question, "test": p.tests or "",
                         "entry_point": p.entry_point or ""})
        else:
            rows.append({"id": p.id, "question": p.question, "answer": p.reference,
                         **({"choices": p.choices} if p.choices else {})})
    return rows


@dataclass
class Selection:
    """What :func:`select_traces` kept and dropped."""

    kept: int = 0
    duplicates: int = 0
    over_cap: int = 0
    per_problem: Counter[str] = field(default_factory=Counter)


def select_traces(records: Iterable[dict[str, Any]], k: int,
                  selection: Selection | None = None) -> Iterator[dict[str, Any]]:
    """At most ``k`` distinct traces per problem from SFT records (``messages`` or
    ``prompt``/``completion``), counting what was dropped into ``selection``."""
    stats = selection if selection is not None else Selection()
    seen: set[tuple[str, str]] = set()
    for record in records:
        pid = str(record.get("problem_id"))
        key = (pid, " ".join(words(_assistant_text(record))))
        if key in seen:
            stats.duplicates += 1
            continue
        seen.add(key)
        if stats.per_problem[pid] >= k:
            stats.over_cap += 1
            continue
        stats.per_problem[pid] += 1
        stats.kept += 1
        yield record


def _assistant_text(record: dict[str, Any]) -> str:
    turns = record.get("messages") or record.get("completion") or []
    turn: dict[str, Any] = next((t for t in reversed(turns) if t.get("role") == "assistant"), {})
    return f"{turn.get('reasoning_content') or ''}\n{turn.get('content') or ''}"
