"""The run store: SQLite (WAL) holding runs, problems, results, branches and trace events.

Results are written per problem in one transaction keyed by (run, problem, strategy), so a
batch killed at any moment loses at most the problems in flight and never duplicates one.
This module does not depend on LangGraph; the UI reads it and nothing else.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ponder.errors import StoreError
from ponder.types import Problem, Result, TraceEvent, Usage, new_id

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, name TEXT UNIQUE, kind TEXT NOT NULL, created_at REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'running', config_hash TEXT, config TEXT,
    strategies TEXT, dataset TEXT, meta TEXT
);
CREATE TABLE IF NOT EXISTS problems (
    run_id TEXT NOT NULL, problem_id TEXT NOT NULL, position INTEGER, body TEXT NOT NULL,
    PRIMARY KEY (run_id, problem_id)
);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL, problem_id TEXT NOT NULL, strategy TEXT NOT NULL,
    answer TEXT, reference TEXT, correct INTEGER, confidence REAL,
    prompt_tokens INTEGER, completion_tokens INTEGER, reasoning_tokens INTEGER,
    cost_usd REAL, latency_s REAL, wall_s REAL, samples_used INTEGER, stopped TEXT,
    created_at REAL NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (run_id, problem_id, strategy)
);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY, run_id TEXT NOT NULL, problem_id TEXT NOT NULL, strategy TEXT,
    node TEXT NOT NULL, branch_id TEXT, parent_id TEXT, started_at REAL, ended_at REAL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_problem ON events (run_id, problem_id, strategy);
CREATE INDEX IF NOT EXISTS results_by_run ON results (run_id, strategy);
"""


STAT_COLUMNS = {"tokens": "prompt_tokens + completion_tokens", "latency_s": "latency_s",
                "wall_s": "wall_s",
                "cost_usd": "cost_usd", "samples_used": "samples_used"}
"""Result columns :meth:`Store.column_stats` summarises (name -> SQL expression)."""


class RunInfo(BaseModel):
    """A run's identity and settings."""

    id: str
    name: str | None = None
    kind: str = "solve"
    created_at: float = 0.0
    status: str = "running"
    config_hash: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    strategies: list[str] = Field(default_factory=list)
    dataset: str | None = None
    meta: dict[str, Any] = Field(default_factory=dict)


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


class Store:
    """Thread-safe access to one SQLite store file.

    >>> store = Store("runs.db")
    >>> run = store.create_run(kind="solve", strategies=["cot"])
    """

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30,
                                       isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the store at {self.path}: {exc}; "
                             "pass another path with --store or PONDER_STORE") from None
        self._lock = threading.RLock()

    def _migrate(self) -> None:
        """Bring a store written by an earlier version up to this schema."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(results)")}
        if "wall_s" not in columns:
            self._db.execute("ALTER TABLE results ADD COLUMN wall_s REAL")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _exec(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, args)

    def _rows(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            cur = self._db.execute(sql, args)
            cols = [c[0] for c in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]

    # runs ---------------------------------------------------------------------------------
    def create_run(self, *, kind: str = "solve", name: str | None = None,
                   run_id: str | None = None, config: dict[str, Any] | None = None,
                   config_hash: str | None = None, strategies: list[str] | None = None,
                   dataset: str | None = None, meta: dict[str, Any] | None = None) -> RunInfo:
        """Record a new run and return it."""
        run = RunInfo(id=run_id or new_id("run-"), name=name, kind=kind, created_at=time.time(),
                      config_hash=config_hash, config=config or {},
                      strategies=strategies or [], dataset=dataset, meta=meta or {})
        try:
            self._exec(
                "INSERT INTO runs (id, name, kind, created_at, status, config_hash, config,"
                " strategies, dataset, meta) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (run.id, run.name, run.kind, run.created_at, run.status, run.config_hash,
                 json.dumps(run.config, default=str), json.dumps(run.strategies), run.dataset,
                 json.dumps(run.meta, default=str)),
            )
        except sqlite3.IntegrityError:
            raise StoreError(f"a run named {name!r} already exists; pick another --run name") from None
        return run

    def get_run(self, ref: str) -> RunInfo | None:
        """The run with id or name ``ref``."""
        rows = self._rows("SELECT * FROM runs WHERE id = ? OR name = ? LIMIT 1", (ref, ref))
        return _run(rows[0]) if rows else None

    def require_run(self, ref: str) -> RunInfo:
        run = self.get_run(ref)
        if run is None:
            raise StoreError(f"no run {ref!r} in {self.path}; `ponder runs` lists them")
        return run

    def list_runs(self, *, limit: int = 50, offset: int = 0, kind: str | None = None) -> list[RunInfo]:
        """Runs, newest first."""
        where, args = ("WHERE kind = ?", (kind,)) if kind else ("", ())
        rows = self._rows(f"SELECT * FROM runs {where} ORDER BY created_at DESC LIMIT ? OFFSET ?",
                          (*args, limit, offset))
        return [_run(r) for r in rows]

    def count_runs(self) -> int:
        return int(self._exec("SELECT COUNT(*) FROM runs").fetchone()[0])

    def update_run(self, run_id: str, *, status: str | None = None,
                   meta: dict[str, Any] | None = None) -> None:
        """Set a run's status and merge keys into its meta."""
        with self._lock:
            if status is not None:
                self._exec("UPDATE runs SET status = ? WHERE id = ?", (status, run_id))
            if meta:
                run = self.require_run(run_id)
                merged = run.meta | meta
                self._exec("UPDATE runs SET meta = ? WHERE id = ?",
                           (json.dumps(merged, default=str), run_id))

    # problems -----------------------------------------------------------------------------
    def add_problem(self, run_id: str, problem: Problem, position: int = 0) -> None:
        self._exec("INSERT OR IGNORE INTO problems (run_id, problem_id, position, body)"
                   " VALUES (?,?,?,?)", (run_id, problem.id, position, problem.model_dump_json()))

    def problem(self, run_id: str, problem_id: str) -> Problem | None:
        rows = self._rows("SELECT body FROM problems WHERE run_id = ? AND problem_id = ?",
                          (run_id, problem_id))
        return Problem.model_validate_json(rows[0]["body"]) if rows else None

    # events -------------------------------------------------------------------------------
    def add_event(self, event: TraceEvent) -> None:
        """Append one trace event (written at once, so a live UI sees it)."""
        self._exec(
            "INSERT OR REPLACE INTO events (id, run_id, problem_id, strategy, node, branch_id,"
            " parent_id, started_at, ended_at, body) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (event.id, event.run_id, event.problem_id, event.strategy, event.node,
             event.branch_id, event.parent_id, event.started_at, event.ended_at,
             event.model_dump_json()),
        )

    def events(self, run_id: str, problem_id: str | None = None,
               strategy: str | None = None) -> list[TraceEvent]:
        """Trace events of a run (optionally one problem and strategy) in time order."""
        sql = "SELECT body FROM events WHERE run_id = ?"
        args: list[Any] = [run_id]
        if problem_id is not None:
            sql += " AND problem_id = ?"
            args.append(problem_id)
        if strategy is not None:
            sql += " AND strategy = ?"
            args.append(strategy)
        rows = self._rows(sql + " ORDER BY started_at, rowid", tuple(args))
        return [TraceEvent.model_validate_json(r["body"]) for r in rows]

    # results ------------------------------------------------------------------------------
    def save_result(self, result: Result) -> bool:
        """Store one problem's result; False (and nothing written) if it was already stored."""
        u = result.usage
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO results (run_id, problem_id, strategy, answer, reference,"
                " correct, confidence, prompt_tokens, completion_tokens, reasoning_tokens,"
                " cost_usd, latency_s, wall_s, samples_used, stopped, created_at, body)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (result.run_id, result.problem_id, result.strategy, result.answer,
                 result.reference, None if result.correct is None else int(result.correct),
                 result.confidence, u.prompt_tokens, u.completion_tokens, u.reasoning_tokens,
                 u.cost_usd, u.latency_s, result.wall_s, result.samples_used, result.stopped, time.time(),
                 result.model_dump_json()),
            )
            return cur.rowcount == 1

    def done(self, run_id: str) -> set[tuple[str, str]]:
        """(problem_id, strategy) pairs that already have a stored result."""
        rows = self._rows("SELECT problem_id, strategy FROM results WHERE run_id = ?", (run_id,))
        return {(r["problem_id"], r["strategy"]) for r in rows}

    def discard_incomplete(self, run_id: str) -> int:
        """Delete trace events of problems that never finished (before a resume reruns them)."""
        cur = self._exec(
            "DELETE FROM events WHERE run_id = ? AND NOT EXISTS (SELECT 1 FROM results r"
            " WHERE r.run_id = events.run_id AND r.problem_id = events.problem_id"
            " AND r.strategy = events.strategy)", (run_id,))
        return cur.rowcount

    def result(self, run_id: str, problem_id: str, strategy: str | None = None) -> Result | None:
        sql = "SELECT body FROM results WHERE run_id = ? AND problem_id = ?"
        args: tuple = (run_id, problem_id)
        if strategy:
            sql, args = sql + " AND strategy = ?", (*args, strategy)
        rows = self._rows(sql + " LIMIT 1", args)
        return Result.model_validate_json(rows[0]["body"]) if rows else None

    def results(self, run_id: str, *, strategy: str | None = None, limit: int | None = None,
                offset: int = 0, status: str | None = None) -> Iterator[Result]:
        """Stored results of a run in problem order, streamed (never all in memory)."""
        sql = ("SELECT r.body FROM results r LEFT JOIN problems p ON p.run_id = r.run_id"
               " AND p.problem_id = r.problem_id WHERE r.run_id = ?")
        args: list[Any] = [run_id]
        if strategy:
            sql += " AND r.strategy = ?"
            args.append(strategy)
        if status == "correct":
            sql += " AND r.correct = 1"
        elif status == "wrong":
            sql += " AND r.correct = 0 AND r.answer IS NOT NULL"
        elif status == "no_answer":
            sql += " AND r.answer IS NULL"
        sql += " ORDER BY p.position, r.problem_id, r.strategy LIMIT ? OFFSET ?"
        args += [-1 if limit is None else limit, offset]
        with self._lock:
            rows = self._db.execute(sql, tuple(args)).fetchall()
        for (body,) in rows:
            yield Result.model_validate_json(body)

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

    def delete_run(self, run_id: str) -> None:
        """Delete a run with its problems, results and trace events (one transaction)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for table in ("events", "results", "problems"):
                    self._db.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))
                self._db.execute("DELETE FROM runs WHERE id = ?", (run_id,))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

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
        return self._rows(
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
            " GROUP BY page.id ORDER BY page.created_at DESC", (*args, limit, offset))

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
        where, args = _result_filter(run_id, strategy, status)
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
        where, args = _result_filter(run_id, strategy, status)
        return int(self._exec(f"SELECT COUNT(*) FROM results r {where}", args).fetchone()[0])


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


def _result_filter(run_id: str, strategy: str | None,
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


def _run(row: dict[str, Any]) -> RunInfo:
    return RunInfo(
        id=row["id"], name=row["name"], kind=row["kind"], created_at=row["created_at"],
        status=row["status"], config_hash=row["config_hash"],
        config=json.loads(row["config"] or "{}"), strategies=json.loads(row["strategies"] or "[]"),
        dataset=row["dataset"], meta=json.loads(row["meta"] or "{}"),
    )

