"""The store, on SQLite and on PostgreSQL: idempotent results, resume bookkeeping, summaries, trace order."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from ponder.errors import StoreError
from ponder.store import Store
from ponder.store.lease import QUIET_AFTER_S, STALE_AFTER_S
from ponder.types import Problem, Result, TraceEvent, Usage


def result(run: str, pid: str, strategy: str, answer: str | None, correct: bool | None, tokens: int = 10):
    return Result(run_id=run, problem_id=pid, strategy=strategy, answer=answer, correct=correct,
                  usage=Usage(prompt_tokens=tokens, completion_tokens=tokens, cost_usd=0.001))


def add_problems(db: Store, run_id: str, *ids: str) -> None:
    """A result's problem is stored first (a foreign key holds results to their problem)."""
    for position, pid in enumerate(ids):
        db.add_problem(run_id, Problem(id=pid, question=f"question {pid}"), position)


def test_results_are_stored_once(store_url):
    db = Store(store_url)
    run = db.create_run(kind="batch", name="exp", strategies=["cot"])
    add_problems(db, run.id, "p1")
    assert db.save_result(result(run.id, "p1", "cot", "4", True))
    assert not db.save_result(result(run.id, "p1", "cot", "5", False))
    assert db.result(run.id, "p1").answer == "4"
    assert db.done(run.id) == {("p1", "cot")}


def test_names_are_unique_and_runs_found_by_name(store_url):
    db = Store(store_url)
    run = db.create_run(kind="batch", name="exp")
    assert db.get_run("exp").id == run.id
    with pytest.raises(StoreError, match="already exists"):
        db.create_run(kind="batch", name="exp")
    with pytest.raises(StoreError, match="ponder runs"):
        db.require_run("nope")


def test_summary_counts(store_url):
    db = Store(store_url)
    run = db.create_run(kind="batch")
    add_problems(db, run.id, *(f"p{i}" for i in range(4)))
    for i, (answer, correct) in enumerate([("1", True), ("2", False), (None, False), ("4", True)]):
        db.save_result(result(run.id, f"p{i}", "cot", answer, correct))
    db.save_result(result(run.id, "p0", "verified", "1", True, tokens=100))
    [cot, verified] = db.summary(run.id)
    assert (cot.strategy, cot.problems, cot.correct, cot.no_answer, cot.accuracy) == ("cot", 4, 2, 1, 0.5)
    assert cot.total_tokens == 80 and verified.total_tokens == 200


def test_incomplete_traces_are_discarded_before_resume(store_url):
    db = Store(store_url)
    run = db.create_run(kind="batch")
    db.add_problem(run.id, Problem(id="p1", question="q"))
    for pid in ("p1", "p2"):
        db.add_event(TraceEvent(run_id=run.id, problem_id=pid, strategy="cot", node="reason"))
    db.save_result(result(run.id, "p1", "cot", "1", True))
    assert db.discard_incomplete(run.id) == 1
    assert [e.problem_id for e in db.events(run.id)] == ["p1"]


def test_concurrent_writers(store_url):
    db = Store(store_url)
    run = db.create_run(kind="batch")

    def write(start: int) -> None:
        for i in range(start, start + 50):
            add_problems(db, run.id, f"p{i}")
            db.save_result(result(run.id, f"p{i}", "cot", str(i), True))
            db.add_event(TraceEvent(run_id=run.id, problem_id=f"p{i}", node="vote"))

    threads = [threading.Thread(target=write, args=(k * 50,)) for k in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert len(db.done(run.id)) == 200 and len(db.events(run.id)) == 200


def test_unusable_path_is_a_store_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="--store"):
        Store(blocker / "sub" / "s.db")


def _foreign_lease(db: Store, run_id: str, *, pid: int, host: str, age_s: float) -> None:
    now = time.time()
    db._exec("INSERT INTO leases (run_id, token, pid, host, started_at, heartbeat)"
             " VALUES (?,?,?,?,?,?)", (run_id, "theirs", pid, host, now - age_s, now - age_s))


def test_a_live_lease_refuses_and_names_its_holder_a_stale_one_is_taken_over(store_url):
    db = Store(store_url)
    run = db.create_run(kind="batch", name="exp")
    _foreign_lease(db, run.id, pid=4242, host="elsewhere", age_s=2)
    with pytest.raises(StoreError, match=r"run 'exp' is being solved by another process: pid 4242 "
                                         r"on elsewhere \(since .*, last heartbeat 2s ago\)"):
        db.acquire_lease(run.id, what="run 'exp'")
    assert db.get_run("exp").status == "running"
    db._exec("UPDATE leases SET heartbeat = ?", (time.time() - STALE_AFTER_S - 1,))
    assert db.get_run("exp").status == "interrupted"  # its holder stopped beating
    mine = db.acquire_lease(run.id)
    assert (mine.pid, mine.host) == (os.getpid(), socket.gethostname())
    with pytest.raises(StoreError, match=f"pid {os.getpid()} on"):  # one lease per run, in-process too
        db.acquire_lease(run.id)
    db.release_lease(mine)
    assert db.lease(run.id) is None


def test_a_lease_of_a_dead_pid_on_this_host_is_free_at_once(store_url):
    db = Store(store_url)
    run = db.create_run(kind="batch")
    gone = subprocess.Popen(["true"])
    gone.wait()
    _foreign_lease(db, run.id, pid=gone.pid, host=socket.gethostname(), age_s=0)
    assert not db.lease(run.id).alive()
    with db.leased(run.id) as lease:
        assert db.lease(run.id).token == lease.token
    assert db.lease(run.id) is None
    db.delete_run(run.id)


def test_a_full_store_is_a_store_error_that_says_what_to_do(tmp_path):
    db = Store(tmp_path / "s.db")
    run = db.create_run(kind="batch")
    pages = db._db.execute("PRAGMA page_count").fetchone()[0]
    db._db.execute(f"PRAGMA max_page_count = {pages}")  # no room for one more page
    with pytest.raises(StoreError, match=r"is full \(database or disk is full\): free disk space"):
        for i in range(1000):
            add_problems(db, run.id, f"p{i}")
            db.save_result(result(run.id, f"p{i}", "cot", "x" * 2000, True))
    assert len(db.done(run.id)) < 1000  # what was stored is still readable


def test_a_running_run_whose_process_is_gone_lists_as_interrupted(store_url):
    db = Store(store_url)
    long_ago = time.time() - QUIET_AFTER_S - 60
    quiet, busy, leased, dead, done = (db.create_run(kind=k, name=n) for k, n in [
        ("solve", "quiet"), ("solve", "busy"), ("batch", "leased"), ("batch", "dead"),
        ("solve", "done")])
    db._exec("UPDATE runs SET created_at = ?", (long_ago,))
    db.update_run(done.id, status="done")
    db.add_event(TraceEvent(run_id=busy.id, problem_id="p1", node="reason"))  # wrote just now
    _foreign_lease(db, leased.id, pid=4242, host="elsewhere", age_s=2)  # quiet, but beating
    gone = subprocess.Popen(["true"])
    gone.wait()
    _foreign_lease(db, dead.id, pid=gone.pid, host=socket.gethostname(), age_s=0)
    shown = {row["name"]: row["status"] for row in db.run_rows()}
    assert shown == {"quiet": "interrupted", "busy": "running", "leased": "running",
                     "dead": "interrupted", "done": "done"}
    assert {r.name: r.status for r in db.list_runs()} == shown  # the same rule everywhere
    assert db.get_run("quiet").status == "interrupted"
    stored = db._exec("SELECT name, status FROM runs").fetchall()
    # reported, never written
    assert dict(stored) == {**{n: "running" for n in shown}, "done": "done"}


def test_constraint_errors_are_reported_for_what_they_are(store_url):
    db = Store(store_url)
    first = db.create_run(kind="batch", name="exp")
    with pytest.raises(StoreError, match="a run named 'exp' already exists"):
        db.create_run(kind="batch", name="exp")
    with pytest.raises(StoreError, match=f"a run with id '{first.id}' already exists") as info:
        db.create_run(kind="batch", name="other", run_id=first.id)
    assert "named" not in str(info.value)


def test_a_check_constraint_is_reported_as_one(tmp_path):
    db = Store(tmp_path / "s.db")
    db._exec("CREATE TRIGGER no_odd_kinds BEFORE INSERT ON runs WHEN NEW.kind = 'odd' "
             "BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: odd kind'); END")
    with pytest.raises(StoreError, match="refused the run .*CHECK constraint failed") as info:
        db.create_run(kind="odd", name="fresh")
    assert "already exists" not in str(info.value)


@pytest.mark.parametrize("target", ["missing.db", "/dev/null", "a-folder"])
def test_a_store_path_that_is_not_a_regular_file_is_refused(tmp_path, target):
    (tmp_path / "a-folder").mkdir()
    journals = [Path("/dev/null-journal").exists(), Path("/dev/null-wal").exists()]
    link = tmp_path / "store.db"
    link.symlink_to(target if target.startswith("/") else tmp_path / target)
    with pytest.raises(StoreError, match="symbolic link to .*does not exist|not a regular file"):
        Store(link)
    assert not (tmp_path / "missing.db").exists()
    assert [Path("/dev/null-journal").exists(), Path("/dev/null-wal").exists()] == journals
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-folder", "store.db"]


@pytest.mark.postgres
def test_a_postgres_store_that_cannot_be_reached_says_what_to_do(postgres_url):
    gone = postgres_url.rsplit(":", 1)[0] + ":1/nowhere"  # port 1: nobody listens
    with pytest.raises(StoreError, match=r"cannot open the store at postgresql://.*check the "
                                         r"server runs and the URL"):
        Store(gone.replace("ponder@", "ponder:secret@")).close()


@pytest.mark.postgres
def test_the_password_never_appears_in_messages(postgres_url):
    from ponder.store import PostgresStore

    url = postgres_url.replace("ponder@", "ponder:hunter2@")  # trust auth: any password works
    db = Store(url)
    assert isinstance(db, PostgresStore) and "hunter2" not in str(db.path)
    with pytest.raises(StoreError) as info:
        db.require_run("nope")
    assert "hunter2" not in str(info.value) and "***" in str(info.value)


@pytest.mark.postgres
def test_replicas_opening_a_new_database_at_once_migrate_it_once(postgres_url):
    from ponder.store.migrations import MIGRATIONS
    from tests.pg_server import new_database

    url, opened, failed = new_database(postgres_url), [], []

    def open_one() -> None:
        try:
            opened.append(Store(url))
        except Exception as exc:  # noqa: BLE001 - collected, asserted below
            failed.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not failed and len(opened) == 6
    assert opened[0].applied_migrations() == [fn.__name__ for fn in MIGRATIONS]  # same names
    [store.close() for store in opened]
