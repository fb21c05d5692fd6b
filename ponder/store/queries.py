"""Read-only queries over the run store: summaries, statistics and pages for tables.

Kept apart from :mod:`ponder.store` (which owns the schema and every write); ``Store``
inherits these, so callers see one object.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from typing import Any

from pydantic import BaseModel

from ponder.types import Result, Usage

STAT_COLUMNS = {"tokens": "prompt_tokens + completion_tokens", "latency_s": "latency_s",
                "wall_s": "wall_s",
                "cost_usd": "cost_usd", "samples_used": "samples_used"}
"""Result columns :meth:`Store.column_stats` summarises (name -> SQL expression)."""


class StrategySummary(BaseModel):
    """Aggregates of one strategy within a run, computed by SQL over stored rows."""

    strategy: str
    problems: int
    correct: int
    no_answer: int
    scored: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    latency_s: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.scored if self.scored else 0.0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class StoreQueries:
    """Queries that read the store; mixed into :class:`ponder.store.Store`."""

    _db: sqlite3.Connection
    _lock: threading.RLock
    run_status: Callable[[str, str, float], str]  # from StoreLeases (after this in the MRO)

    def _rows(self, sql: str, args: tuple = ()) -> list[dict[str, Any]]:
        raise NotImplementedError

    def results(self, run_id: str, **kw: Any) -> Iterator[Result]:
        raise NotImplementedError

    def result_rows(self, run_id: str, **filters: Any) -> list[dict[str, Any]]:
        """Flat result rows (no branches) for tables."""
        sql = ("SELECT problem_id, strategy, answer, reference, correct, confidence,"
               " prompt_tokens + completion_tokens AS tokens, cost_usd, latency_s, wall_s,"
               " samples_used, stopped FROM results WHERE run_id = ?")
        args: list[Any] = [run_id]
        for key in ("strategy",):
            if filters.get(key):
                sql += f" AND {key} = ?"
                args.append(filters[key])
        sql += " ORDER BY rowid LIMIT ? OFFSET ?"
        args += [filters.get("limit", -1), filters.get("offset", 0)]
        return self._rows(sql, tuple(args))

    def summary(self, run_id: str) -> list[StrategySummary]:
        """Per-strategy counts and totals for a run."""
        rows = self._rows(
            "SELECT strategy, COUNT(*) AS problems, COALESCE(SUM(correct = 1), 0) AS correct,"
            " COALESCE(SUM(answer IS NULL), 0) AS no_answer,"
            " COALESCE(SUM(correct IS NOT NULL), 0) AS scored,"
            " COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens,"
            " COALESCE(SUM(completion_tokens), 0) AS completion_tokens,"
            " COALESCE(SUM(cost_usd), 0) AS cost_usd, COALESCE(SUM(latency_s), 0) AS latency_s"
            " FROM results WHERE run_id = ? GROUP BY strategy ORDER BY MIN(rowid)", (run_id,))
        return [StrategySummary(**r) for r in rows]

    def run_usage(self, run_id: str) -> Usage:
        rows = self._rows(
            "SELECT COALESCE(SUM(prompt_tokens),0) p, COALESCE(SUM(completion_tokens),0) c,"
            " COALESCE(SUM(reasoning_tokens),0) r, COALESCE(SUM(cost_usd),0) d,"
            " COALESCE(SUM(latency_s),0) l FROM results WHERE run_id = ?", (run_id,))[0]
        return Usage(prompt_tokens=rows["p"], completion_tokens=rows["c"],
                     reasoning_tokens=rows["r"], cost_usd=rows["d"], latency_s=rows["l"])

    # batch runs: resume, overwrite, figures (streamed) ------------------------------------
    def problem_results(self, run_id: str, problem_id: str) -> dict[str, dict[str, Any]]:
        """Per strategy, the stored outcome of one problem (a resume skips these)."""
        rows = self._rows(
            "SELECT strategy, answer, correct, prompt_tokens + completion_tokens AS tokens,"
            " cost_usd FROM results WHERE run_id = ? AND problem_id = ?", (run_id, problem_id))
        return {r["strategy"]: r for r in rows}

    def column_stats(self, run_id: str, column: str, *, strategy: str | None = None,
                     quantiles: tuple[float, ...] = (0.5, 0.95)) -> dict[str, float]:
        """Count, total, mean and quantiles (``p50``...) of a result column, all in SQL.

        ``column`` is one of ``STAT_COLUMNS``; quantiles interpolate linearly between ranks
        (as ``numpy.quantile``), fetching two rows each, so no column is loaded into memory.
        """
        expr = STAT_COLUMNS[column]
        where, args = "WHERE run_id = ?", [run_id]
        if strategy:
            where, args = where + " AND strategy = ?", [run_id, strategy]
        n, total = self._exec(f"SELECT COUNT(*), COALESCE(SUM({expr}), 0) FROM results {where}",
                              tuple(args)).fetchone()
        stats = {"count": float(n), "total": float(total), "mean": total / n if n else 0.0}
        for q in quantiles:
            stats[f"p{round(q * 100):d}"] = self._quantile(expr, where, tuple(args), n, q)
        return stats

    def _quantile(self, expr: str, where: str, args: tuple, n: int, q: float) -> float:
        if not n:
            return 0.0
        pos = q * (n - 1)
        low = int(pos)
        values = [v for (v,) in self._exec(
            f"SELECT {expr} FROM results {where} ORDER BY {expr} LIMIT 2 OFFSET ?",
            (*args, low)).fetchall()]
        upper = values[1] if len(values) > 1 else values[0]
        return float(values[0] + (upper - values[0]) * (pos - low))

    def iter_results(self, run_id: str, *, strategy: str | None = None,
                     page: int = 200) -> Iterator[Result]:
        """Every stored result of a run in problem order, fetched ``page`` rows at a time."""
        offset = 0
        while True:
            batch = list(self.results(run_id, strategy=strategy, limit=page, offset=offset))
            yield from batch
            if len(batch) < page:
                return
            offset += page

    # read-only pages for the UI ------------------------------------------------------------
    def run_rows(self, *, kind: str | None = None, strategy: str | None = None,
                 text: str | None = None, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """One page of runs, newest first, each with its result totals and first question.

        Aggregates only the runs of the page, so a store with huge batches stays fast.
        """
        where, args = _run_filter(kind, strategy, text)
        rows = self._rows(
            f"WITH page AS (SELECT * FROM runs {where} ORDER BY created_at DESC LIMIT ? OFFSET ?)"
            " SELECT page.id, page.name, page.kind, page.status, page.created_at, page.strategies,"
            " page.dataset, page.config, COUNT(res.problem_id) AS results,"
            " COALESCE(SUM(res.correct = 1), 0) AS correct,"
            " COALESCE(SUM(res.correct IS NOT NULL), 0) AS scored,"
            " COALESCE(SUM(res.answer IS NULL AND res.problem_id IS NOT NULL), 0) AS no_answer,"
            " COALESCE(SUM(res.prompt_tokens + res.completion_tokens), 0) AS tokens,"
            " COALESCE(SUM(res.cost_usd), 0) AS cost_usd,"
            " COALESCE(SUM(res.latency_s), 0) AS latency_s, MAX(res.created_at) AS finished_at,"
            " (SELECT COUNT(*) FROM problems p WHERE p.run_id = page.id) AS problems,"
            " (SELECT json_extract(p.body, '$.question') FROM problems p WHERE p.run_id = page.id"
            "  ORDER BY p.position LIMIT 1) AS question,"
            " (SELECT json_extract(x.body, '$.models') FROM results x WHERE x.run_id = page.id"
            "  LIMIT 1) AS models"
            " FROM page LEFT JOIN results res ON res.run_id = page.id"
            " GROUP BY page.id, page.name, page.kind, page.status, page.created_at,"
            " page.strategies, page.dataset, page.config"  # every column: PostgreSQL asks so
            " ORDER BY page.created_at DESC", (*args, limit, offset))
        for row in rows:  # as get_run reports it: a dead process's run reads interrupted
            row["status"] = self.run_status(row["id"], row["status"], row["created_at"])
        return rows

    def count_run_rows(self, *, kind: str | None = None, strategy: str | None = None,
                       text: str | None = None) -> int:
        """How many runs :meth:`run_rows` pages through with these filters."""
        where, args = _run_filter(kind, strategy, text)
        return int(self._exec(f"SELECT COUNT(*) FROM runs {where}", args).fetchone()[0])

    def result_table(self, run_id: str, *, strategy: str | None = None,
                     status: str | None = None, limit: int = 50,
                     offset: int = 0) -> list[dict[str, Any]]:
        """One page of flat result rows with each problem's question, in problem order.

        ``status`` is ``correct``, ``wrong`` or ``no_answer`` (as in :meth:`results`).
        """
        where, args = result_filter(run_id, strategy, status)
        return self._rows(
            "SELECT r.problem_id, r.strategy, json_extract(p.body, '$.question') AS question,"
            " r.answer, r.reference, r.correct, r.confidence,"
            " r.prompt_tokens + r.completion_tokens AS tokens, r.cost_usd, r.latency_s,"
            " r.samples_used, r.stopped FROM results r LEFT JOIN problems p"
            f" ON p.run_id = r.run_id AND p.problem_id = r.problem_id {where}"
            " ORDER BY p.position, r.problem_id, r.strategy LIMIT ? OFFSET ?",
            (*args, limit, offset))

    def count_results(self, run_id: str, *, strategy: str | None = None,
                      status: str | None = None) -> int:
        """How many results :meth:`result_table` pages through with these filters."""
        where, args = result_filter(run_id, strategy, status)
        return int(self._exec(f"SELECT COUNT(*) FROM results r {where}", args).fetchone()[0])


    # read-only views for the UI's matrix, comparison and runs table ---------------------------
    def run_models(self, run_ids: list[str]) -> dict[str, list[str]]:
        """Per run, every distinct model its results name (all roles, all strategies)."""
        if not run_ids:
            return {}
        marks = ",".join("?" * len(run_ids))
        rows = self._rows(
            "SELECT DISTINCT r.run_id, m.value AS model FROM results r,"
            f" json_each(r.body, '$.models') m WHERE r.run_id IN ({marks})"
            " ORDER BY r.run_id, m.value", tuple(run_ids))
        out: dict[str, list[str]] = {}
        for row in rows:
            out.setdefault(row["run_id"], []).append(str(row["model"]))
        return out

    def strategy_scores(self, run_ids: list[str]) -> dict[str, dict[str, tuple[int, int]]]:
        """Per run and strategy, (correct, scored) counts, in the order strategies first ran."""
        if not run_ids:
            return {}
        marks = ",".join("?" * len(run_ids))
        rows = self._rows(
            "SELECT run_id, strategy, COALESCE(SUM(correct = 1), 0) AS correct,"
            " COALESCE(SUM(correct IS NOT NULL), 0) AS scored FROM results"
            f" WHERE run_id IN ({marks}) GROUP BY run_id, strategy ORDER BY MIN(rowid)",
            tuple(run_ids))
        out: dict[str, dict[str, tuple[int, int]]] = {}
        for row in rows:
            out.setdefault(row["run_id"], {})[row["strategy"]] = (row["correct"], row["scored"])
        return out

    def count_problems(self, run_id: str) -> int:
        return int(self._exec("SELECT COUNT(*) FROM problems WHERE run_id = ?",
                              (run_id,)).fetchone()[0])

    def problem_neighbours(self, run_id: str, problem_id: str) -> dict[str, Any] | None:
        """Where ``problem_id`` sits in its run's problem order (position, then id): how many
        come ``before`` it, the ``total``, the ``previous`` and ``next`` ids; ``None`` when the
        run has no such problem. Indexed lookups, however many problems the run holds."""
        mine = "(COALESCE(position, -1), problem_id)"
        here = ("(SELECT COALESCE(position, -1) FROM problems WHERE run_id = ?1 AND problem_id = ?2),"
                " ?2")
        rows = self._rows(
            f"SELECT (SELECT COUNT(*) FROM problems WHERE run_id = ?1 AND {mine} < ({here}))"
            " AS before, (SELECT COUNT(*) FROM problems WHERE run_id = ?1) AS total,"
            f" (SELECT problem_id FROM problems WHERE run_id = ?1 AND {mine} < ({here})"
            "  ORDER BY COALESCE(position, -1) DESC, problem_id DESC LIMIT 1) AS previous,"
            f" (SELECT problem_id FROM problems WHERE run_id = ?1 AND {mine} > ({here})"
            "  ORDER BY COALESCE(position, -1), problem_id LIMIT 1) AS next,"
            " EXISTS (SELECT 1 FROM problems WHERE run_id = ?1 AND problem_id = ?2) AS known",
            (run_id, problem_id))
        row = dict(rows[0])
        return row if row.pop("known") else None

    def outcome_cells(self, run_id: str, *, limit: int = 50,
                      offset: int = 0) -> list[dict[str, Any]]:
        """One page of a run's problems (in position order) with each strategy's outcome.

        One row per (problem, strategy) that has a result, plus one row with ``strategy``
        NULL for a problem that has none yet; ``tokens`` and ``stopped`` per cell.
        """
        return self._rows(
            "WITH page AS (SELECT problem_id, position, json_extract(body, '$.question')"
            " AS question FROM problems WHERE run_id = ? ORDER BY position, problem_id"
            " LIMIT ? OFFSET ?)"
            " SELECT page.problem_id, page.position, page.question, r.strategy, r.answer,"
            " r.correct, r.prompt_tokens + r.completion_tokens AS tokens, r.stopped,"
            " r.cost_usd FROM page LEFT JOIN results r ON r.run_id = ?"
            " AND r.problem_id = page.problem_id ORDER BY page.position, page.problem_id",
            (run_id, limit, offset, run_id))

    def flipped(self, run_a: str, run_b: str, *, limit: int = 200) -> list[dict[str, Any]]:
        """Problems (same id, same strategy) scored in both runs whose correctness differs."""
        return self._rows(
            "SELECT a.problem_id, a.strategy, a.answer AS answer_a, b.answer AS answer_b,"
            " a.correct AS correct_a, b.correct AS correct_b, a.reference FROM results a"
            " JOIN results b ON b.run_id = ? AND b.problem_id = a.problem_id"
            " AND b.strategy = a.strategy WHERE a.run_id = ? AND a.correct IS NOT NULL"
            " AND b.correct IS NOT NULL AND a.correct != b.correct"
            " ORDER BY a.rowid LIMIT ?", (run_b, run_a, limit))

    def common_results(self, run_a: str, run_b: str) -> int:
        """How many (problem, strategy) pairs both runs have a result for."""
        return int(self._exec(
            "SELECT COUNT(*) FROM results a JOIN results b ON b.run_id = ?"
            " AND b.problem_id = a.problem_id AND b.strategy = a.strategy WHERE a.run_id = ?",
            (run_b, run_a)).fetchone()[0])


def _run_filter(kind: str | None, strategy: str | None,
                text: str | None) -> tuple[str, tuple[Any, ...]]:
    """The WHERE clause of the run pages: kind, a strategy it ran, text in names or questions."""
    clauses: list[str] = []
    args: list[Any] = []
    if kind:
        clauses.append("kind = ?")
        args.append(kind)
    if strategy:
        clauses.append("EXISTS (SELECT 1 FROM json_each(runs.strategies) WHERE value = ?)")
        args.append(strategy)
    if text:
        like = f"%{text}%"
        clauses.append("(id LIKE ? OR name LIKE ? OR dataset LIKE ? OR EXISTS (SELECT 1 FROM"
                       " problems p WHERE p.run_id = runs.id AND"
                       " json_extract(p.body, '$.question') LIKE ?))")
        args += [like] * 4
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(args)


def result_filter(run_id: str, strategy: str | None,
                   status: str | None) -> tuple[str, tuple[Any, ...]]:
    """The WHERE clause of the result pages (table alias ``r``)."""
    where, args = "WHERE r.run_id = ?", [run_id]
    if strategy:
        where += " AND r.strategy = ?"
        args.append(strategy)
    where += {"correct": " AND r.correct = 1",
              "wrong": " AND r.correct = 0 AND r.answer IS NOT NULL",
              "no_answer": " AND r.answer IS NULL"}.get(status or "", "")
    return where, tuple(args)
