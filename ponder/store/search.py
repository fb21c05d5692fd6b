"""Search across every run's results: by verdict, correctness, strategy, model, cost and
token ranges, text in the question or answer, and a person's label.

The verdict is :func:`ponder.verdict.verdict_of` written as one SQL ``CASE``
(:data:`VERDICT_SQL`), so a filter on it runs in the database however many results the store
holds; a test holds the two to the same answers.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from ponder.verdict import VerdictLabel

__all__ = ["VERDICT_SQL", "ResultQuery", "StoreSearch"]

Correctness = Literal["correct", "wrong", "unscored", "no_answer"]
LabelFilter = Literal["correct", "wrong", "unsure", "any", "none"]

_SAME = "b.run_id = r.run_id AND b.problem_id = r.problem_id AND b.strategy = r.strategy"
_PART = "json_extract(r.body, '$.confidence_parts.{}')"
VERDICT_SQL = (
    "CASE WHEN r.answer IS NULL THEN CASE"
    " WHEN r.stopped = 'truncated' OR (EXISTS (SELECT 1 FROM branches b WHERE " + _SAME + ")"
    "  AND NOT EXISTS (SELECT 1 FROM branches b WHERE " + _SAME
    + " AND COALESCE(b.truncated, 0) = 0)) THEN 'truncated'"
    " WHEN r.stopped LIKE 'budget%' OR r.stopped LIKE 'run\\_budget%' ESCAPE '\\' THEN 'budget'"
    " ELSE 'no_answer' END"
    f" WHEN {_PART.format('status')} = 'verified'"
    f" OR COALESCE({_PART.format('verified')}, 0) > 0 THEN 'verified'"
    f" WHEN {_PART.format('status')} IN ('unverified', 'refuted')"
    f" AND COALESCE({_PART.format('refuted')}, 0) > 0 THEN 'refuted'"
    f" WHEN COALESCE({_PART.format('split')}, 0) THEN 'split'"
    " ELSE 'unverified' END")
"""The verdict label of a ``results r`` row, as :func:`ponder.verdict.verdict_of` decides it."""

_CORRECTNESS = {"correct": "r.correct = 1", "wrong": "r.correct = 0 AND r.answer IS NOT NULL",
                "unscored": "r.correct IS NULL AND r.answer IS NOT NULL",
                "no_answer": "r.answer IS NULL"}


class ResultQuery(BaseModel):
    """What to look for; every field left empty matches everything.

    >>> ResultQuery(verdicts=["refuted"], label="wrong", text="apples")
    ResultQuery(verdicts=['refuted'], ...)
    """

    verdicts: list[VerdictLabel] = Field(default_factory=list)
    correctness: list[Correctness] = Field(default_factory=list)
    strategies: list[str] = Field(default_factory=list)
    model: str | None = None
    min_cost: float | None = None
    max_cost: float | None = None
    min_tokens: int | None = None
    max_tokens: int | None = None
    text: str | None = None
    label: LabelFilter | None = None
    run_id: str | None = None

    def where(self) -> tuple[str, tuple[Any, ...]]:
        """The WHERE clause over ``results r`` joined to ``problems p``."""
        clauses: list[str] = []
        args: list[Any] = []

        def among(expr: str, values: list[str]) -> None:
            if values:
                clauses.append(f"{expr} IN ({','.join('?' * len(values))})")
                args.extend(values)

        among(f"({VERDICT_SQL})", list(self.verdicts))
        if self.correctness:
            clauses.append("(" + " OR ".join(f"({_CORRECTNESS[c]})"
                                             for c in self.correctness) + ")")
        among("r.strategy", self.strategies)
        for value, sql in ((self.run_id, "r.run_id = ?"),
                           (self.min_cost, "r.cost_usd >= ?"), (self.max_cost, "r.cost_usd <= ?"),
                           (self.min_tokens, "r.prompt_tokens + r.completion_tokens >= ?"),
                           (self.max_tokens, "r.prompt_tokens + r.completion_tokens <= ?")):
            if value is not None:
                clauses.append(sql)
                args.append(value)
        if self.model:
            clauses.append("EXISTS (SELECT 1 FROM json_each(r.body, '$.models') m"
                           " WHERE m.value LIKE ?)")
            args.append(f"%{self.model}%")
        if self.text:
            clauses.append("(json_extract(p.body, '$.question') LIKE ? OR r.answer LIKE ?"
                           " OR r.problem_id LIKE ?)")
            args += [f"%{self.text}%"] * 3
        label = self._label()
        if label:
            clauses.append(label[0])
            args += label[1]
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", tuple(args)

    def _label(self) -> tuple[str, list[Any]] | None:
        """A person's label on the trace or on any of its branches."""
        if not self.label:
            return None
        same = "f.run_id = r.run_id AND f.problem_id = r.problem_id AND f.strategy = r.strategy"
        if self.label == "none":
            return f"NOT EXISTS (SELECT 1 FROM feedback f WHERE {same})", []
        if self.label == "any":
            return f"EXISTS (SELECT 1 FROM feedback f WHERE {same})", []
        return f"EXISTS (SELECT 1 FROM feedback f WHERE {same} AND f.label = ?)", [self.label]


class StoreSearch:
    """Result search across runs; mixed into :class:`ponder.store.Store`."""

    def _rows(self, sql: str, args: tuple = ()) -> list[dict[str, Any]]:
        raise NotImplementedError  # Store's own

    def search_results(self, query: ResultQuery, *, limit: int = 50,
                       offset: int = 0) -> list[dict[str, Any]]:
        """One page of matching results, newest first: ids, question, answer, reference,
        correctness, the verdict label, tokens, cost, the run's name and kind."""
        where, args = query.where()
        return self._rows(
            "SELECT r.run_id, runs.name AS run_name, runs.kind, r.problem_id, r.strategy,"
            " json_extract(p.body, '$.question') AS question, r.answer, r.reference, r.correct,"
            f" r.confidence, ({VERDICT_SQL}) AS verdict,"
            " r.prompt_tokens + r.completion_tokens AS tokens, r.cost_usd, r.created_at"
            " FROM results r JOIN runs ON runs.id = r.run_id LEFT JOIN problems p"
            f" ON p.run_id = r.run_id AND p.problem_id = r.problem_id {where}"
            " ORDER BY r.created_at DESC, r.rowid DESC LIMIT ? OFFSET ?", (*args, limit, offset))

    def count_search(self, query: ResultQuery) -> int:
        """How many results :meth:`search_results` pages through."""
        where, args = query.where()
        rows = self._rows("SELECT COUNT(*) AS n FROM results r LEFT JOIN problems p"
                          f" ON p.run_id = r.run_id AND p.problem_id = r.problem_id {where}",
                          args)
        return int(rows[0]["n"])

    def result_models(self, limit: int = 200) -> list[str]:
        """Every model the stored results name (for a picker)."""
        rows = self._rows("SELECT DISTINCT m.value AS model FROM results r,"
                          " json_each(r.body, '$.models') m ORDER BY m.value LIMIT ?", (limit,))
        return [str(r["model"]) for r in rows]

    def verdict_counts(self, run_ids: list[str]) -> dict[str, dict[str, int]]:
        """Per run, how many results got each verdict label (most frequent first)."""
        return self._counts_per_run(
            f"SELECT r.run_id, ({VERDICT_SQL}) AS key, COUNT(*) AS n FROM results r"
            " WHERE r.run_id IN ({marks}) GROUP BY r.run_id, key ORDER BY r.run_id, n DESC, key",
            run_ids)

    def label_counts(self, run_ids: list[str]) -> dict[str, dict[str, int]]:
        """Per run, how many traces people labelled correct, wrong or unsure."""
        return self._counts_per_run(
            "SELECT run_id, label AS key, COUNT(*) AS n FROM feedback"
            " WHERE run_id IN ({marks}) AND branch = -1"
            " GROUP BY run_id, label ORDER BY run_id, label", run_ids)

    def _counts_per_run(self, sql: str, run_ids: list[str]) -> dict[str, dict[str, int]]:
        """``{run_id: {key: n}}`` from ``sql``'s ``run_id, key, n`` rows, in its order;
        ``{marks}`` in ``sql`` becomes one placeholder per run id."""
        if not run_ids:
            return {}
        rows = self._rows(sql.replace("{marks}", ",".join("?" * len(run_ids))), tuple(run_ids))
        out: dict[str, dict[str, int]] = {}
        for row in rows:
            out.setdefault(row["run_id"], {})[row["key"]] = row["n"]
        return out
