"""Human feedback: a person's label on a trace or on one of its branches.

A label is ``correct``, ``wrong`` or ``unsure``, with an optional corrected answer and a
note; the store keeps who gave it and when (one current label per trace and per branch: a
new one replaces the old). The UI, ``ponder annotate`` and :func:`annotate` write it; the
tables show it and filter on it (:func:`ponder.feedback.annotate` is the Python face of
it); the ``sft`` export drops traces labelled wrong and grades
against a corrected answer, and the ``rewards`` export carries the label.

>>> store.annotate("run-1", "p-3", "wrong", answer="42", note="off by one")  # doctest: +SKIP
"""

from __future__ import annotations

import getpass
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast, get_args

from pydantic import BaseModel

from ponder.errors import StoreError

if TYPE_CHECKING:
    from ponder.store.sqlite import RunInfo

__all__ = ["FEEDBACK_LABELS", "Feedback", "FeedbackLabel", "StoreFeedback", "default_author"]

FeedbackLabel = Literal["correct", "wrong", "unsure"]
FEEDBACK_LABELS: tuple[str, ...] = get_args(FeedbackLabel)
TRACE = -1  # the ``branch`` column of a label on the whole trace


class Feedback(BaseModel):
    """One person's label on a trace (``branch`` None) or on the branch with that index.

    >>> Feedback(run_id="r", problem_id="p", strategy="pot", label="wrong", author="ana",
    ...          created_at=0.0).line()
    'wrong (ana)'
    """

    run_id: str
    problem_id: str
    strategy: str
    branch: int | None = None
    label: FeedbackLabel
    answer: str | None = None
    note: str | None = None
    author: str
    created_at: float

    def line(self) -> str:
        """``wrong → 42 (ana)``: the label, the corrected answer, who gave it."""
        fix = f" → {self.answer}" if self.answer else ""
        return f"{self.label}{fix} ({self.author})"


def default_author() -> str:
    """Who is labelling, when nobody said: the login name."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a bare container)
        return "unknown"


def _feedback(row: dict[str, Any]) -> Feedback:
    branch = row["branch"]
    return Feedback(run_id=row["run_id"], problem_id=row["problem_id"], strategy=row["strategy"],
                    branch=None if branch == TRACE else branch, label=row["label"],
                    answer=row["answer"], note=row["note"], author=row["author"],
                    created_at=row["created_at"])


class StoreFeedback:
    """Feedback rows; mixed into :class:`ponder.store.Store`."""

    _db: sqlite3.Connection
    _lock: threading.RLock
    path: Path

    def _rows(self, sql: str, args: tuple = ()) -> list[dict[str, Any]]:
        raise NotImplementedError  # Store's own

    def _exec(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        raise NotImplementedError  # Store's own

    def require_run(self, ref: str) -> RunInfo:
        raise NotImplementedError  # Store's own

    def annotate(self, run: str, problem_id: str, label: str, *, strategy: str | None = None,
                 branch: int | None = None, answer: str | None = None, note: str | None = None,
                 author: str | None = None) -> Feedback:
        """Label a stored result (or its branch ``branch``): replaces an earlier label there.

        ``run`` is a run id or name; ``strategy`` may be left out when the problem was solved
        by one strategy only.
        """
        if label not in FEEDBACK_LABELS:
            raise StoreError(f"unknown label {label!r}; use one of {', '.join(FEEDBACK_LABELS)}")
        info = self.require_run(run)
        strategy = self.feedback_target(info.id, problem_id, strategy, branch)
        item = Feedback(run_id=info.id, problem_id=problem_id, strategy=strategy, branch=branch,
                        label=cast(FeedbackLabel, label), answer=(answer or "").strip() or None,
                        note=(note or "").strip() or None,
                        author=(author or "").strip() or default_author(), created_at=time.time())
        self._exec(
            "INSERT OR REPLACE INTO feedback (run_id, problem_id, strategy, branch, label,"
            " answer, note, author, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (item.run_id, item.problem_id, item.strategy, TRACE if branch is None else branch,
             item.label, item.answer, item.note, item.author, item.created_at))
        return item

    def remove_feedback(self, run_id: str, problem_id: str, strategy: str,
                        branch: int | None = None) -> bool:
        """Take back the label on a trace (or a branch); False when there was none."""
        cur = self._exec("DELETE FROM feedback WHERE run_id = ? AND problem_id = ?"
                         " AND strategy = ? AND branch = ?",
                         (run_id, problem_id, strategy, TRACE if branch is None else branch))
        return cur.rowcount > 0

    def feedback_target(self, run_id: str, problem_id: str, strategy: str | None,
                         branch: int | None) -> str:
        """The strategy of the one result being labelled; a clear error when there is none."""
        rows = self._rows("SELECT strategy FROM results WHERE run_id = ? AND problem_id = ?"
                          + (" AND strategy = ?" if strategy else "") + " ORDER BY strategy",
                          (run_id, problem_id, *([strategy] if strategy else [])))
        if not rows:
            what = f" under strategy {strategy!r}" if strategy else ""
            raise StoreError(f"run {run_id!r} has no result for problem {problem_id!r}{what}; "
                             f"`ponder report {run_id}` lists its problems")
        if len(rows) > 1:
            raise StoreError(f"problem {problem_id!r} of run {run_id!r} was solved by several "
                             f"strategies ({', '.join(r['strategy'] for r in rows)}); "
                             "name one with --strategy")
        chosen = str(rows[0]["strategy"])
        if branch is not None and not self._rows(
                "SELECT 1 FROM branches WHERE run_id = ? AND problem_id = ? AND strategy = ?"
                " AND branch_index = ?", (run_id, problem_id, chosen, branch)):
            raise StoreError(f"the result of problem {problem_id!r} ({chosen}) has no branch "
                             f"{branch}; `ponder trace {run_id}` shows its branches")
        return chosen

    def feedback(self, run_id: str, problem_id: str | None = None,
                 strategy: str | None = None) -> list[Feedback]:
        """The labels of a run (or of one problem, one strategy), trace labels first."""
        sql, args = "SELECT * FROM feedback WHERE run_id = ?", [run_id]
        if problem_id is not None:
            sql, args = sql + " AND problem_id = ?", [*args, problem_id]
        if strategy is not None:
            sql, args = sql + " AND strategy = ?", [*args, strategy]
        rows = self._rows(sql + " ORDER BY problem_id, strategy, branch", tuple(args))
        return [_feedback(r) for r in rows]

    def trace_labels(self, run_ids: list[str]) -> dict[tuple[str, str, str], Feedback]:
        """The trace-level label of every labelled result of these runs, by (run, problem,
        strategy): what the tables show beside each row."""
        if not run_ids:
            return {}
        marks = ",".join("?" * len(run_ids))
        rows = self._rows(f"SELECT * FROM feedback WHERE run_id IN ({marks}) AND branch = ?",
                          (*run_ids, TRACE))
        return {(r["run_id"], r["problem_id"], r["strategy"]): _feedback(r) for r in rows}

