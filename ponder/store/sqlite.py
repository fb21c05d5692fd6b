"""The store's SQLite (WAL) home and its write paths: runs, problems, results, events.

Results are written per problem in one transaction keyed by (run, problem, strategy), so a
batch killed at any moment loses at most the problems in flight and never duplicates one.
The schema is the migrations list in :mod:`ponder.store.migrations`, applied on open; foreign
keys are on, so deleting a run deletes everything under it. A result's branches are rows
(:mod:`ponder.store.branches`), put back into each :class:`Result` read.
Writers: the run lifecycle, the batch runner, the server and feedback labelling. Readers: the
UI, reports, exports, demos and the CLI's ``runs``/``report``/``export``, all through the
public methods here and the queries in :mod:`ponder.store.queries`, never the SQL underneath.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from ponder.errors import StoreError
from ponder.store.branches import StoreBranches
from ponder.store.feedback import StoreFeedback
from ponder.store.lease import Lease, StoreLeases
from ponder.store.migrations import check_known, migrate
from ponder.store.queries import STAT_COLUMNS, StoreQueries, StrategySummary, result_filter
from ponder.store.search import StoreSearch
from ponder.types import Problem, Result, TraceEvent, new_id

__all__ = ["STAT_COLUMNS", "Lease", "RunInfo", "Store", "StrategySummary"]

NO_LIMIT = 2**62
"""``LIMIT`` for "all rows" (SQLite reads -1 so, PostgreSQL refuses a negative limit)."""


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


class Store(StoreQueries, StoreBranches, StoreLeases, StoreFeedback, StoreSearch):
    """Thread-safe access to one SQLite store file.

    >>> store = Store("runs.db")
    >>> run = store.create_run(kind="solve", strategies=["cot"])
    """

    _by_scheme: dict[str, type[Store]] = {}

    def __init_subclass__(cls, *, schemes: tuple[str, ...] = (), **kw: Any) -> None:
        """A store on a database server names the URL schemes it opens."""
        super().__init_subclass__(**kw)
        Store._by_scheme.update(dict.fromkeys(schemes, cls))

    def __new__(cls, path: str | Path = "", **kw: Any) -> Store:
        """A URL opens the store of its scheme (``postgresql://``: :mod:`ponder.store.postgres`)."""
        if cls is Store and isinstance(path, str) and "://" in path:
            scheme = path.split("://", 1)[0] + "://"
            if scheme not in Store._by_scheme:
                raise StoreError(f"no store opens {scheme} URLs; pass a SQLite file path or a "
                                 "postgresql:// URL with --store or PONDER_STORE")
            return super().__new__(Store._by_scheme[scheme])
        return super().__new__(cls)

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        try:
            _check_path(self.path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30,
                                       isolation_level=None)
            try:
                check_known(self._db, self.path)  # before anything writes: a newer schema is refused
            except StoreError:
                self._db.close()
                raise
            _use_wal(self._db)
            self._db.execute("PRAGMA synchronous=NORMAL")
            migrate(self._db)
            self._db.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the store at {self.path}: {exc}; "
                             "pass another path with --store or PONDER_STORE") from None
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Hold the lock; turn SQLite's failures (a full disk above all) into ``StoreError``."""
        with self._lock:
            try:
                yield
            except sqlite3.DatabaseError as exc:
                if isinstance(exc, sqlite3.IntegrityError):
                    raise
                raise store_failure(self.path, exc) from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE``), rolled back on any error."""
        with self._guard():
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:  # SQLite rolls back itself on some errors (a full disk)
                    self._db.execute("ROLLBACK")
                raise

    def _exec(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self._guard():
            return self._db.execute(sql, args)

    def _rows(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._guard():
            cur = self._db.execute(sql, args)
            cols = [c[0] for c in cur.description]
            return [dict(zip(cols, row)) for row in cur.fetchall()]

    # runs ---------------------------------------------------------------------------------
    def create_run(self, *, kind: str = "solve", name: str | None = None,
                   run_id: str | None = None, config: dict[str, Any] | None = None,
                   config_hash: str | None = None, strategies: list[str] | None = None,
                   dataset: str | None = None, meta: dict[str, Any] | None = None) -> RunInfo:
        """Record a new run and return it; its meta says which ponder wrote it (``ponder``)."""
        from ponder import __version__

        run = RunInfo(id=run_id or new_id("run-"), name=name, kind=kind, created_at=time.time(),
                      config_hash=config_hash, config=config or {},
                      strategies=strategies or [], dataset=dataset,
                      meta={"ponder": __version__, **(meta or {})})
        try:
            self._exec(
                "INSERT INTO runs (id, name, kind, created_at, status, config_hash, config,"
                " strategies, dataset, meta) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (run.id, run.name, run.kind, run.created_at, run.status, run.config_hash,
                 json.dumps(run.config, default=str), json.dumps(run.strategies), run.dataset,
                 json.dumps(run.meta, default=str)),
            )
        except sqlite3.IntegrityError as exc:
            if "runs.name" in str(exc):
                raise StoreError(f"a run named {name!r} already exists; pick another --run name") from None
            if "runs.id" in str(exc):
                raise StoreError(f"a run with id {run.id!r} already exists in {self.path}") from None
            raise constraint_failure(self.path, f"the run {run.id!r}", exc) from None
        return run

    def get_run(self, ref: str) -> RunInfo | None:
        """The run with id or name ``ref``."""
        rows = self._rows("SELECT * FROM runs WHERE id = ? OR name = ? LIMIT 1", (ref, ref))
        return self._as_found(_run(rows[0])) if rows else None

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
        return [self._as_found(_run(r)) for r in rows]

    def _as_found(self, run: RunInfo) -> RunInfo:
        """A run marked ``running`` whose process is gone (killed, or it could not write its
        end on a full disk) reads as ``interrupted``: see :func:`reported_status`."""
        status = self.run_status(run.id, run.status, run.created_at)
        return run if status == run.status else run.model_copy(update={"status": status})

    def count_runs(self) -> int:
        return int(self._exec("SELECT COUNT(*) FROM runs").fetchone()[0])

    def update_run(self, run_id: str, *, status: str | None = None,
                   meta: dict[str, Any] | None = None) -> None:
        """Set a run's status and merge keys into its meta, in one statement (a reader never
        sees the new status without the meta that explains it)."""
        with self._lock:
            if meta:
                merged = json.dumps(self.require_run(run_id).meta | meta, default=str)
                if status is not None:
                    self._exec("UPDATE runs SET status = ?, meta = ? WHERE id = ?",
                               (status, merged, run_id))
                else:
                    self._exec("UPDATE runs SET meta = ? WHERE id = ?", (merged, run_id))
            elif status is not None:
                self._exec("UPDATE runs SET status = ? WHERE id = ?", (status, run_id))

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

    def add_event_if(self, event: TraceEvent, keep: Callable[[TraceEvent], bool]) -> bool:
        """Append ``event`` only if ``keep(event)`` holds, decided under the store's lock.

        A writer that gives up on a problem first makes ``keep`` refuse its events, then
        calls :meth:`discard_incomplete`: a late write from another thread then lands either
        before the discard (and is deleted) or after the refusal (and is dropped), never after
        both. The batch runner's cancelled problems are kept clean this way.
        """
        with self._lock:
            if not keep(event):
                return False
            self.add_event(event)
            return True

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
        """Store one problem's result with its branches (one transaction); False (and
        nothing written) if it was already stored. Its problem must be stored first."""
        try:
            with self._transaction():
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO results (run_id, problem_id, strategy, answer,"
                    " reference, correct, confidence, prompt_tokens, completion_tokens,"
                    " reasoning_tokens, cost_usd, latency_s, wall_s, samples_used, stopped,"
                    " created_at, body) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    _result_values(result))
                if cur.rowcount == 1:
                    self._insert_branches(result)
        except sqlite3.IntegrityError as exc:
            if "FOREIGN KEY" not in str(exc):
                raise constraint_failure(self.path, f"the result of problem {result.problem_id!r}",
                                         exc) from None
            raise StoreError(f"cannot store the result of problem {result.problem_id!r}: run "
                             f"{result.run_id!r} or that problem is not in the store (call "
                             "create_run and add_problem first)") from None
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

    def delete_run(self, run_id: str) -> None:
        """Delete a run with its problems, results, branches, trace events and lease (the
        foreign keys cascade, in one statement)."""
        self._exec("DELETE FROM runs WHERE id = ?", (run_id,))

    def result(self, run_id: str, problem_id: str, strategy: str | None = None) -> Result | None:
        where = "WHERE r.run_id = ? AND r.problem_id = ?"
        args: tuple = (run_id, problem_id)
        if strategy:
            where, args = where + " AND r.strategy = ?", (*args, strategy)
        return next(self._load_results(where, args, "LIMIT 1"), None)

    def results(self, run_id: str, *, strategy: str | None = None, limit: int | None = None,
                offset: int = 0, status: str | None = None) -> Iterator[Result]:
        """One page of a run's results in problem order, each with its branches (all of
        them without ``limit``; :meth:`iter_results` streams a large run page by page)."""
        where, args = result_filter(run_id, strategy, status)
        return self._load_results(where, (*args, NO_LIMIT if limit is None else limit, offset),
                                  "LIMIT ? OFFSET ?")


def store_failure(path: Path, exc: sqlite3.DatabaseError) -> StoreError:
    """A ``StoreError`` that says what went wrong with the store file and what to do."""
    text = str(exc)
    if "full" in text:
        return StoreError(f"the store {path} is full ({text}): free disk space there (or pass "
                          "another --store), then rerun the same command to resume; the results "
                          "stored so far are kept")
    if "locked" in text or "busy" in text:
        return StoreError(f"the store {path} is locked by another process ({text}); retry "
                          "when it has finished")
    if "readonly" in text or "read-only" in text:
        return StoreError(f"cannot write the store {path} ({text}); check its permissions, or "
                          "pass another --store")
    return StoreError(f"the store {path} failed ({text}); check the disk it is on, or pass "
                      "another --store")


def _result_values(result: Result) -> tuple[Any, ...]:
    """A ``results`` row; its body leaves the branches out (they are rows of their own)."""
    u = result.usage
    return (result.run_id, result.problem_id, result.strategy, result.answer, result.reference,
            None if result.correct is None else int(result.correct), result.confidence,
            u.prompt_tokens, u.completion_tokens, u.reasoning_tokens, u.cost_usd, u.latency_s,
            result.wall_s, result.samples_used, result.stopped, time.time(),
            result.model_dump_json(exclude={"branches"}))


def _run(row: dict[str, Any]) -> RunInfo:
    return RunInfo(
        id=row["id"], name=row["name"], kind=row["kind"], created_at=row["created_at"],
        status=row["status"], config_hash=row["config_hash"],
        config=json.loads(row["config"] or "{}"), strategies=json.loads(row["strategies"] or "[]"),
        dataset=row["dataset"], meta=json.loads(row["meta"] or "{}"),
    )


def _check_path(path: Path) -> None:
    """Refuse a store path SQLite would misuse: a dangling symbolic link (SQLite would create
    its target, wherever it points) or anything but a regular file (``/dev/null``: its journal
    would land beside it, world-writable)."""
    if path.is_symlink() and not path.exists():
        raise StoreError(f"the store path {path} is a symbolic link to {os.readlink(path)}, "
                         "which does not exist; point --store or PONDER_STORE at a file")
    if path.exists() and not path.is_file():
        raise StoreError(f"the store path {path} is not a regular file; point --store or "
                         "PONDER_STORE at a file (or at a path where one can be created)")


def constraint_failure(path: Path, what: str, exc: sqlite3.IntegrityError) -> StoreError:
    """A constraint the schema enforces refused a write: said as what it is."""
    return StoreError(f"the store at {path} refused {what}: {exc} (a constraint of its schema); "
                      "nothing was written")


def _use_wal(db: sqlite3.Connection, wait_s: float = 30.0) -> None:
    """Switch to WAL, waiting out other processes that open the same new file at once.

    Changing the journal mode answers "database is locked" at once, without SQLite's busy
    timeout, while another connection is switching it too: retry for up to ``wait_s``.
    """
    deadline = time.monotonic() + wait_s
    delay = 0.01
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(0.2, delay * 2)
