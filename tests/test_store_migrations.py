"""Store migrations: an old store is upgraded in place, branches back-filled, FKs enforced."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ponder.store import migrations as store_migrations
from ponder.errors import StoreError
from ponder.eval.report import pass_at_k, strategy_pass_at_k
from ponder.store import Store
from ponder.store.branches import BRANCH_COLUMNS
from ponder.store.migrations import MIGRATIONS, applied_migrations, migrate
from ponder.types import Branch, Problem, Result, TraceEvent, Usage

ALL = [fn.__name__ for fn in MIGRATIONS]

OLD_SCHEMA = """
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
CREATE TABLE IF NOT EXISTS leases (
    run_id TEXT PRIMARY KEY, token TEXT NOT NULL, pid INTEGER NOT NULL, host TEXT NOT NULL,
    started_at REAL NOT NULL, heartbeat REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_problem ON events (run_id, problem_id, strategy);
CREATE INDEX IF NOT EXISTS results_by_run ON results (run_id, strategy);
"""
"""The store's schema before migrations were recorded, copied as it shipped."""


def branch(i: int, *, passed: bool | None, verdict: str = "unverified") -> Branch:
    rewards = {} if passed is None else {"accuracy": float(passed), "format": 1.0}
    return Branch(index=i, model="scripted/x", text=f"try {i}", answer=str(i), verdict=verdict,
                  reasoned_answer=str(i), code_answer=str(i) if i % 2 else None, rewards=rewards,
                  truncated=i == 2, confidence=0.5 if i else None,
                  usage=Usage(prompt_tokens=3, completion_tokens=i, cost_usd=0.001 * i))


OUTCOMES = {"p0": [True, False, False], "p1": [True, True], "p2": [False] * 4,
            "p3": [None, None], "p4": []}
"""Per problem, each branch's accuracy reward (None: not graded, its verdict counts)."""


def old_results(run_id: str) -> list[Result]:
    out = []
    for pid, grades in OUTCOMES.items():
        branches = [branch(i, passed=g, verdict="verified" if g is None and i == 0 else "refuted")
                    for i, g in enumerate(grades)]
        out.append(Result(run_id=run_id, problem_id=pid, strategy="pot", answer="1",
                          correct=bool(grades and grades[0]), branches=branches, wall_s=1.5,
                          samples_used=len(branches), usage=Usage(prompt_tokens=7)))
    return out


def write_old_store(path: Path, *, wall_s: bool = True) -> list[Result]:
    """A store as the version before migrations wrote it: branches inside result bodies,
    no foreign keys, and two orphans (a result without its problem, an event without run)."""
    schema = OLD_SCHEMA if wall_s else OLD_SCHEMA.replace(" wall_s REAL,", "")
    db = sqlite3.connect(path)
    db.executescript(schema)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("INSERT INTO runs (id, name, kind, created_at, status, config, strategies, meta)"
               " VALUES ('r1', 'old', 'batch', ?, 'done', '{}', '[\"pot\"]', '{}')", (time.time(),))
    results = old_results("r1")
    for pos, res in enumerate(results):
        db.execute("INSERT INTO problems VALUES ('r1', ?, ?, ?)", (
            res.problem_id, pos, Problem(id=res.problem_id, question=f"q{pos}").model_dump_json()))
        _old_result(db, res, wall_s=wall_s)
    _old_result(db, Result(run_id="r1", problem_id="ghost", strategy="pot", answer=None,
                           branches=[branch(0, passed=True)]), wall_s=wall_s)
    db.execute("INSERT INTO events (id, run_id, problem_id, strategy, node, body) VALUES"
               " ('e-gone', 'gone', 'p0', 'pot', 'vote', '{}')")
    event = TraceEvent(run_id="r1", problem_id="p0", strategy="pot", node="reason")
    db.execute("INSERT INTO events (id, run_id, problem_id, strategy, node, started_at,"
               " ended_at, body) VALUES (?,?,?,?,?,?,?,?)", (event.id, "r1", "p0", "pot",
                                                              "reason", 1.0, 2.0,
                                                              event.model_dump_json()))
    db.commit()
    db.close()
    return results


def _old_result(db: sqlite3.Connection, res: Result, *, wall_s: bool) -> None:
    columns = ("run_id, problem_id, strategy, answer, correct, prompt_tokens, completion_tokens,"
               " created_at, body" + (", wall_s" if wall_s else ""))
    values = [res.run_id, res.problem_id, res.strategy, res.answer, int(bool(res.correct)),
              res.usage.prompt_tokens, 0, time.time(), res.model_dump_json()]
    marks = ",".join("?" * (len(values) + wall_s))
    db.execute(f"INSERT INTO results ({columns}) VALUES ({marks})",
               (*values, *([res.wall_s] if wall_s else [])))


def old_pass_at_k(results: list[Result], ks: tuple[int, ...]) -> dict[str, float]:
    """pass@k as the report computed it before branches were rows: from result bodies."""
    def passed(b: Branch) -> bool:
        return b.rewards["accuracy"] >= 1.0 if "accuracy" in b.rewards else b.verdict == "verified"

    low = min(len(r.branches) for r in results)
    return {f"pass@{k}": sum(pass_at_k(len(r.branches), sum(map(passed, r.branches)), k)
                             for r in results) / len(results) for k in ks if k <= low}


def count(db: Store, sql: str, args: tuple = ()) -> int:
    return db._exec(sql, args).fetchone()[0]


def test_an_old_store_is_upgraded_in_place_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    results = write_old_store(path)
    db = Store(path)
    assert applied_migrations(db._db) == ALL
    assert db.get_run("old").status == "done"
    assert db.problem("r1", "p2").question == "q2"
    for res in results:  # whole results, branches in order, as they were written
        assert db.result("r1", res.problem_id) == res
    assert list(db.results("r1")) == results
    assert count(db, "SELECT COUNT(*) FROM branches") == sum(map(len, OUTCOMES.values()))
    assert count(db, "SELECT COUNT(*) FROM results WHERE json_type(body, '$.branches')"
                     " IS NOT NULL") == 0  # the rows are the one copy
    assert [e.node for e in db.events("r1")] == ["reason"]


def test_orphans_of_an_old_store_are_set_aside_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    write_old_store(path)
    db = Store(path)
    assert db.result("r1", "ghost") is None and count(db, "SELECT COUNT(*) FROM events"
                                                          " WHERE run_id = 'gone'") == 0
    aside = {(s, json.loads(row)["problem_id"]) for s, row in
             db._db.execute("SELECT source, row FROM _orphans")}
    assert aside == {("results", "ghost"), ("events", "p0")}
    assert db._db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_store_from_before_wall_time_gets_the_column(tmp_path: Path) -> None:
    path = tmp_path / "older.db"
    write_old_store(path, wall_s=False)
    db = Store(path)
    assert applied_migrations(db._db) == ALL
    assert db.result("r1", "p0").problem_id == "p0"
    assert "wall_s" in {row[1] for row in db._db.execute("PRAGMA table_info(results)")}


def test_pass_at_k_from_branch_rows_equals_the_old_computation(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    results = write_old_store(path)
    db = Store(path)
    kept = [r for r in results if len(r.branches) >= 2]
    for r in results:
        if r not in kept:  # pass@2 needs every problem to have 2 samples
            db._exec("DELETE FROM results WHERE problem_id = ?", (r.problem_id,))
    figures, note = strategy_pass_at_k(db, "r1", "pot", (1, 2, 3))
    old = old_pass_at_k(kept, (1, 2, 3))
    assert figures.keys() == old.keys() == {"pass@1", "pass@2"}
    assert figures == pytest.approx(old)
    assert "over all 4 problems" in note and "pass@3 left out" in note


def test_back_filled_rows_equal_the_rows_save_result_writes(tmp_path: Path) -> None:
    old_path = tmp_path / "old.db"
    results = write_old_store(old_path)
    old, new = Store(old_path), Store(tmp_path / "new.db")
    new.create_run(run_id="r1", kind="batch")
    for pos, res in enumerate(results):
        new.add_problem("r1", Problem(id=res.problem_id, question="q"), pos)
        assert new.save_result(res)
    columns = ", ".join(c for c in BRANCH_COLUMNS if c != "body")
    query = f"SELECT {columns}, body FROM branches ORDER BY problem_id, position"
    old_rows, new_rows = old._db.execute(query).fetchall(), new._db.execute(query).fetchall()
    assert [r[:-1] for r in old_rows] == [r[:-1] for r in new_rows] and len(old_rows) == 11
    assert ([Branch.model_validate_json(r[-1]) for r in old_rows]
            == [Branch.model_validate_json(r[-1]) for r in new_rows])


def test_migrations_are_recorded_once_and_reopening_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = Store(path)
    recorded = first._db.execute("SELECT name, applied_at FROM _migrations").fetchall()
    assert [name for name, _ in recorded] == ALL
    first.close()
    second = Store(path)
    assert migrate(second._db) == []
    assert second._db.execute("SELECT name, applied_at FROM _migrations").fetchall() == recorded


def test_a_failing_migration_changes_nothing(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "old.db"
    write_old_store(path)

    def m999_broken(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x)")
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(store_migrations, "MIGRATIONS", [*MIGRATIONS, m999_broken])
    with pytest.raises(StoreError, match="cannot open the store"):
        Store(path)
    raw = sqlite3.connect(path)
    tables = {name for (name,) in raw.execute("SELECT name FROM sqlite_master")}
    assert not tables & {"_migrations", "branches", "half_done", "_orphans"}
    assert "branches" in raw.execute("SELECT body FROM results LIMIT 1").fetchone()[0]


def test_foreign_keys_refuse_orphans_and_cascade_deletes(tmp_path: Path) -> None:
    db = Store(tmp_path / "s.db")
    keep, doomed = db.create_run(kind="batch"), db.create_run(kind="batch", name="doomed")
    for run in (keep, doomed):
        db.add_problem(run.id, Problem(id="p1", question="q"))
        db.save_result(Result(run_id=run.id, problem_id="p1", strategy="cot", answer="1",
                              branches=[branch(0, passed=True), branch(1, passed=False)]))
        db.add_event(TraceEvent(run_id=run.id, problem_id="p1", strategy="cot", node="vote"))
        db.acquire_lease(run.id) if run is doomed else None
    with pytest.raises(StoreError, match="add_problem first"):
        db.save_result(Result(run_id=keep.id, problem_id="nope", strategy="cot", answer="1"))
    with pytest.raises(sqlite3.IntegrityError):
        db.add_problem("no-such-run", Problem(id="p1", question="q"))
    with pytest.raises(sqlite3.IntegrityError):
        db.add_event(TraceEvent(run_id="no-such-run", problem_id="p1", node="vote"))
    with pytest.raises(sqlite3.IntegrityError):
        db._exec("INSERT INTO branches (run_id, problem_id, strategy, position, body)"
                 " VALUES (?, 'p1', 'verified', 0, '{}')", (keep.id,))
    assert db.result(keep.id, "nope") is None  # nothing half-written
    db.delete_run(doomed.id)
    for table in ("problems", "results", "branches", "events", "leases"):
        assert count(db, f"SELECT COUNT(*) FROM {table} WHERE run_id = ?", (doomed.id,)) == 0
        assert table == "leases" or count(
            db, f"SELECT COUNT(*) FROM {table} WHERE run_id = ?", (keep.id,)) > 0
    assert db.get_run("doomed") is None and len(db.result(keep.id, "p1").branches) == 2


OPEN_AT = """
import sys, time
from ponder.store import Store
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
Store(sys.argv[1]).close()
"""


@pytest.mark.parametrize("old", [False, True], ids=["new-file", "old-store"])
def test_processes_opening_one_store_at_once_migrate_it_once(tmp_path: Path, old: bool) -> None:
    path = tmp_path / "s.db"
    results = write_old_store(path) if old else []
    start = str(time.time() + 2.0)  # all start together, after their imports
    procs = [subprocess.Popen([sys.executable, "-c", OPEN_AT, str(path), start],
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    db = Store(path)
    assert db._db.execute("SELECT name FROM _migrations ORDER BY rowid").fetchall() == [
        (name,) for name in ALL]
    assert db._db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert count(db, "SELECT COUNT(*) FROM branches") == sum(len(r.branches) for r in results)


def test_a_store_from_a_newer_ponder_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "newer.db"
    db = Store(path)
    db.create_run(kind="solve", name="kept")
    db.close()
    raw = sqlite3.connect(path)
    raw.execute("INSERT INTO _migrations (name, applied_at) VALUES ('m999_from_the_future', 0)")
    raw.execute("ALTER TABLE runs ADD COLUMN future TEXT NOT NULL DEFAULT 'x'")
    raw.commit()
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(StoreError, match=r"newer ponder .*m999_from_the_future.*upgrade ponder"):
        Store(path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # not a byte written


def test_a_store_migrated_meanwhile_by_a_newer_ponder_is_refused(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    raw.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)")
    raw.execute("INSERT INTO _migrations VALUES ('m999_from_the_future', 0)")
    with pytest.raises(StoreError, match="newer ponder"):
        migrate(raw)
    assert applied_migrations(raw) == ["m999_from_the_future"]  # nothing applied on top
