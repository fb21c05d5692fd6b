"""Branches as rows: written with their result, read back into it, counted in SQL.

A result's branches live in the ``branches`` table (see ``m004_branches`` in
:mod:`ponder.store.migrations`), one row each, and not in the result's JSON ``body``: the
loaders here put them back, so every reader still gets a whole :class:`Result`, while
pass@k and the training-data exports query the rows without parsing any result.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from itertools import groupby
from typing import Any

from ponder.types import Branch, Result

BRANCH_COLUMNS = ("run_id", "problem_id", "strategy", "position", "branch_index", "branch_id",
                  "model", "answer", "reasoned_answer", "code_answer", "verdict", "accuracy",
                  "format", "confidence", "prompt_tokens", "completion_tokens",
                  "reasoning_tokens", "cost_usd", "latency_s", "truncated", "body")
_INSERT = (f"INSERT INTO branches ({', '.join(BRANCH_COLUMNS)})"
           f" VALUES ({', '.join('?' * len(BRANCH_COLUMNS))})")

PASSED = ("CASE WHEN b.accuracy IS NOT NULL THEN b.accuracy >= 1.0"
          " ELSE b.verdict = 'verified' END")
"""Whether branch ``b`` passes: it earned the accuracy reward (else, it was verified)."""


def branch_values(result: Result, position: int, branch: Branch) -> tuple[Any, ...]:
    """The ``branches`` row of one branch, in :data:`BRANCH_COLUMNS` order."""
    u = branch.usage
    return (result.run_id, result.problem_id, result.strategy, position, branch.index,
            branch.id, branch.model, branch.answer, branch.reasoned_answer, branch.code_answer,
            branch.verdict, branch.rewards.get("accuracy"), branch.rewards.get("format"),
            branch.confidence, u.prompt_tokens, u.completion_tokens, u.reasoning_tokens,
            u.cost_usd, u.latency_s, int(branch.truncated), branch.model_dump_json())


class StoreBranches:
    """Branch rows; mixed into :class:`ponder.store.Store` (which owns the transactions)."""

    _db: sqlite3.Connection
    _lock: threading.RLock

    def _rows(self, sql: str, args: tuple = ()) -> list[dict[str, Any]]: ...  # from Store

    def _guard(self) -> Any: ...  # from Store

    def _insert_branches(self, result: Result) -> None:
        """Write a result's branches (inside the transaction that writes the result)."""
        self._db.executemany(_INSERT, [branch_values(result, i, b)
                                       for i, b in enumerate(result.branches)])

    def _load_results(self, where: str, args: tuple, tail: str = "") -> Iterator[Result]:
        """Results matching ``where`` (over ``results r`` joined to ``problems p``), each
        with its branches, in problem order; ``tail`` is a ``LIMIT`` clause.

        One query, so the page and its branches come from one snapshot.
        """
        sql = ("WITH page AS (SELECT r.run_id, r.problem_id, r.strategy, r.body, p.position"
               " FROM results r LEFT JOIN problems p ON p.run_id = r.run_id"
               f" AND p.problem_id = r.problem_id {where}"
               f" ORDER BY p.position, r.problem_id, r.strategy {tail})"
               " SELECT page.problem_id, page.strategy, page.body, b.body FROM page"
               " LEFT JOIN branches b ON b.run_id = page.run_id"
               " AND b.problem_id = page.problem_id AND b.strategy = page.strategy"
               " ORDER BY page.position, page.problem_id, page.strategy, b.position")
        with self._guard():
            rows = self._db.execute(sql, args).fetchall()
        for _, group in groupby(rows, key=lambda row: (row[0], row[1])):
            parts = list(group)
            result = Result.model_validate_json(parts[0][2])
            if parts[0][3] is not None:  # else: a body that still holds its branches, kept
                result.branches = [Branch.model_validate_json(part[3]) for part in parts]
            yield result

    def pass_counts(self, run_id: str, strategy: str) -> list[dict[str, int]]:
        """How many problems drew ``n`` branches of which ``c`` passed, per (n, c).

        What the unbiased pass@k estimate needs, aggregated in SQL: a handful of rows
        however many problems the run has. A result without branches counts as n = 0.
        """
        return self._rows(
            "SELECT n, c, COUNT(*) AS problems FROM (SELECT COUNT(b.position) AS n,"
            f" COALESCE(SUM({PASSED}), 0) AS c FROM results r LEFT JOIN branches b"
            " ON b.run_id = r.run_id AND b.problem_id = r.problem_id AND b.strategy = r.strategy"
            " WHERE r.run_id = ? AND r.strategy = ? GROUP BY r.problem_id)"
            " GROUP BY n, c ORDER BY n, c", (run_id, strategy))

    def branch_rows(self, run_id: str, *, strategy: str | None = None,
                    accurate: bool = False, page: int = 500) -> Iterator[dict[str, Any]]:
        """Every branch of a run (``accurate``: only those with accuracy reward 1) in
        problem and branch order, with its problem's body and reference, ``page`` rows at
        a time: the branch columns, ``problem`` (JSON or None) and ``reference``."""
        where, args = "WHERE b.run_id = ?", [run_id]
        if strategy:
            where, args = where + " AND b.strategy = ?", [*args, strategy]
        if accurate:
            where += " AND b.accuracy = 1.0"
        offset = 0
        while True:
            rows = self._rows(
                "SELECT b.*, p.body AS problem, r.reference FROM branches b JOIN results r"
                " ON r.run_id = b.run_id AND r.problem_id = b.problem_id"
                " AND r.strategy = b.strategy LEFT JOIN problems p ON p.run_id = b.run_id"
                f" AND p.problem_id = b.problem_id {where} ORDER BY p.position, b.problem_id,"
                " b.strategy, b.position LIMIT ? OFFSET ?", (*args, page, offset))
            yield from rows
            if len(rows) < page:
                return
            offset += page
