"""The store's schema history: small functions applied in order, each recorded once.

As in simonw/llm's ``migrations.py``: :data:`MIGRATIONS` lists functions, oldest first.
Opening a store applies those its ``_migrations`` table does not name yet, all in one
``BEGIN IMMEDIATE`` transaction, so two processes opening the same file at once apply each
migration exactly once (the second waits, then finds nothing left to do) and a failure
leaves the file as it was. A migration that has shipped is never edited; a change to the
schema is a new function at the end of the list.

``m001_initial`` is the schema the store had before it kept this history, so a store
written then (which has no ``_migrations`` table) is recognised and upgraded in place.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from ponder.errors import StoreError

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []


def migration(fn: Migration) -> Migration:
    """Register ``fn`` as the next migration (its name is what gets recorded)."""
    MIGRATIONS.append(fn)
    return fn


def check_known(db: sqlite3.Connection, where: object) -> None:
    """Refuse a store whose history names migrations this version does not have: a newer
    ponder wrote it, and writing to it with the older schema in mind could corrupt it. Only
    reads, so the refused file is left exactly as it was."""
    known = {fn.__name__ for fn in MIGRATIONS}
    unknown = [name for name in applied_migrations(db) if name not in known]
    if unknown:
        raise StoreError(f"the store at {where} was written by a newer ponder (its schema has "
                         f"{', '.join(unknown[:3])}{', ...' if len(unknown) > 3 else ''}, which "
                         "this version does not know): upgrade ponder (pip install -U ponder) "
                         "or pass another store with --store or PONDER_STORE")


def migrate(db: sqlite3.Connection) -> list[str]:
    """Apply the pending migrations in one transaction; the names applied (often none).

    Foreign keys are off while migrating (a table rebuild drops tables that others point
    at) and checked as a whole before the commit; the caller turns them on afterwards.
    """
    if not _pending(_applied(db)):
        return []  # the usual open: no write lock taken, a read-only store opens too
    db.execute("PRAGMA foreign_keys = OFF")  # a no-op inside a transaction: set it before
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY,"
                   " applied_at REAL NOT NULL)")
        check_known(db, "(being migrated)")  # again under the lock: a newer ponder may have won
        pending = _pending(_applied(db))  # read again under the lock: another may have won
        for fn in pending:
            fn(db)
            db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                       (fn.__name__, time.time()))
        if broken := db.execute("PRAGMA foreign_key_check").fetchmany(3):
            raise StoreError(f"migrating the store left rows without their parent {broken}; "
                             "nothing was changed. Report this with the store file attached")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # SQLite may have rolled back already (a full disk)
            db.execute("ROLLBACK")
        raise
    return [fn.__name__ for fn in pending]


def applied_migrations(db: sqlite3.Connection) -> list[str]:
    """Names of the migrations this store has had, in the order they were applied."""
    try:
        return [n for (n,) in db.execute("SELECT name FROM _migrations ORDER BY rowid")]
    except sqlite3.OperationalError:  # no _migrations table: a new file, or a store from before
        return []


def _applied(db: sqlite3.Connection) -> set[str]:
    return set(applied_migrations(db))


def _pending(applied: set[str]) -> list[Migration]:
    return [fn for fn in MIGRATIONS if fn.__name__ not in applied]


def _script(db: sqlite3.Connection, sql: str) -> None:
    """Run ``;``-separated statements inside the open transaction (``executescript`` would
    commit it first)."""
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]


# 1 ------------------------------------------------------------------------------------------
SCHEMA_V1 = """
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
"""The schema as it was before migrations were recorded (``IF NOT EXISTS``: a store of that
time already has these tables, and keeps them)."""


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    _script(db, SCHEMA_V1)


# 2 ------------------------------------------------------------------------------------------
@migration
def m002_results_wall_s(db: sqlite3.Connection) -> None:
    """Wall time per result; stores older than it lack the column (m001 made it for others)."""
    if "wall_s" not in _columns(db, "results"):
        db.execute("ALTER TABLE results ADD COLUMN wall_s REAL")


# 3 ------------------------------------------------------------------------------------------
FOREIGN_KEY_TABLES = {
    "problems": ("""CREATE TABLE problems_new (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE, problem_id TEXT NOT NULL,
        position INTEGER, body TEXT NOT NULL, PRIMARY KEY (run_id, problem_id))""",
                 "EXISTS (SELECT 1 FROM runs WHERE runs.id = problems.run_id)"),
    "results": ("""CREATE TABLE results_new (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE, problem_id TEXT NOT NULL,
        strategy TEXT NOT NULL, answer TEXT, reference TEXT, correct INTEGER, confidence REAL,
        prompt_tokens INTEGER, completion_tokens INTEGER, reasoning_tokens INTEGER,
        cost_usd REAL, latency_s REAL, wall_s REAL, samples_used INTEGER, stopped TEXT,
        created_at REAL NOT NULL, body TEXT NOT NULL,
        PRIMARY KEY (run_id, problem_id, strategy),
        FOREIGN KEY (run_id, problem_id) REFERENCES problems (run_id, problem_id)
            ON DELETE CASCADE)""",
                "EXISTS (SELECT 1 FROM problems p WHERE p.run_id = results.run_id"
                " AND p.problem_id = results.problem_id)"),
    "events": ("""CREATE TABLE events_new (
        id TEXT PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        problem_id TEXT NOT NULL, strategy TEXT, node TEXT NOT NULL, branch_id TEXT,
        parent_id TEXT, started_at REAL, ended_at REAL, body TEXT NOT NULL)""",
               "EXISTS (SELECT 1 FROM runs WHERE runs.id = events.run_id)"),
    "leases": ("""CREATE TABLE leases_new (
        run_id TEXT PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE, token TEXT NOT NULL,
        pid INTEGER NOT NULL, host TEXT NOT NULL, started_at REAL NOT NULL,
        heartbeat REAL NOT NULL)""",
               "EXISTS (SELECT 1 FROM runs WHERE runs.id = leases.run_id)"),
}
"""Per child table: its definition with foreign keys, and which of its rows have a parent.
Order matters: results are checked against the problems already kept."""


@migration
def m003_foreign_keys(db: sqlite3.Connection) -> None:
    """Foreign keys with ``ON DELETE CASCADE`` (problems, results, events, leases -> runs;
    results -> problems). SQLite cannot add a constraint to a table, so each is rebuilt:
    create the new table, copy, drop the old one, rename. Rows without a parent (left by an
    interrupted delete, or written by hand) are set aside in ``_orphans`` as JSON, not lost."""
    db.execute("CREATE TABLE IF NOT EXISTS _orphans (source TEXT NOT NULL, row TEXT NOT NULL,"
               " set_aside_at REAL NOT NULL)")
    for table, (create, has_parent) in FOREIGN_KEY_TABLES.items():
        db.execute(create)
        columns = _columns(db, f"{table}_new")
        names = ", ".join(columns)
        as_json = ", ".join(f"'{c}', {c}" for c in columns)
        db.execute(f"INSERT INTO _orphans (source, row, set_aside_at) SELECT '{table}',"
                   f" json_object({as_json}), ? FROM {table} WHERE NOT {has_parent}",
                   (time.time(),))
        db.execute(f"INSERT INTO {table}_new ({names}) SELECT {names} FROM {table}"
                   f" WHERE {has_parent}")
        db.execute(f"DROP TABLE {table}")
        db.execute(f"ALTER TABLE {table}_new RENAME TO {table}")
    db.execute("CREATE INDEX events_by_problem ON events (run_id, problem_id, strategy)")
    db.execute("CREATE INDEX results_by_run ON results (run_id, strategy)")


# 4 ------------------------------------------------------------------------------------------
BRANCHES = """
CREATE TABLE branches (
    run_id TEXT NOT NULL, problem_id TEXT NOT NULL, strategy TEXT NOT NULL,
    position INTEGER NOT NULL, branch_index INTEGER, branch_id TEXT, model TEXT,
    answer TEXT, reasoned_answer TEXT, code_answer TEXT, verdict TEXT,
    accuracy REAL, format REAL, confidence REAL,
    prompt_tokens INTEGER, completion_tokens INTEGER, reasoning_tokens INTEGER,
    cost_usd REAL, latency_s REAL, truncated INTEGER, body TEXT NOT NULL,
    PRIMARY KEY (run_id, problem_id, strategy, position),
    FOREIGN KEY (run_id, problem_id, strategy) REFERENCES results (run_id, problem_id, strategy)
        ON DELETE CASCADE
)"""
"""One row per branch of a result: ``position`` is its place in ``Result.branches``; the
columns are what queries filter and count on, ``body`` is the whole ``Branch`` as JSON."""

BRANCH_BACKFILL = """
INSERT INTO branches (run_id, problem_id, strategy, position, branch_index, branch_id, model,
    answer, reasoned_answer, code_answer, verdict, accuracy, format, confidence,
    prompt_tokens, completion_tokens, reasoning_tokens, cost_usd, latency_s, truncated, body)
SELECT r.run_id, r.problem_id, r.strategy, CAST(b.key AS INTEGER),
    COALESCE(json_extract(b.value, '$.index'), 0), json_extract(b.value, '$.id'),
    COALESCE(json_extract(b.value, '$.model'), ''), json_extract(b.value, '$.answer'),
    json_extract(b.value, '$.reasoned_answer'), json_extract(b.value, '$.code_answer'),
    COALESCE(json_extract(b.value, '$.verdict'), 'unverified'),
    json_extract(b.value, '$.rewards.accuracy'), json_extract(b.value, '$.rewards.format'),
    json_extract(b.value, '$.confidence'),
    COALESCE(json_extract(b.value, '$.usage.prompt_tokens'), 0),
    COALESCE(json_extract(b.value, '$.usage.completion_tokens'), 0),
    COALESCE(json_extract(b.value, '$.usage.reasoning_tokens'), 0),
    COALESCE(json_extract(b.value, '$.usage.cost_usd'), 0.0),
    COALESCE(json_extract(b.value, '$.usage.latency_s'), 0.0),
    COALESCE(json_extract(b.value, '$.truncated'), 0), b.value
FROM results r, json_each(r.body, '$.branches') b
"""
"""Branch rows from the results stored with their branches inside ``body``; the columns get
the values :class:`ponder.types.Branch` defaults to where an old body lacks a field."""


@migration
def m004_branches(db: sqlite3.Connection) -> None:
    """Branches as rows (pass@k and exports count them in SQL), back-filled from result
    bodies, which then no longer carry them: the rows are the one copy."""
    db.execute(BRANCHES)
    db.execute(BRANCH_BACKFILL)
    db.execute("UPDATE results SET body = json_remove(body, '$.branches')"
               " WHERE json_type(body, '$.branches') IS NOT NULL")


# 5 ------------------------------------------------------------------------------------------
FEEDBACK = """
CREATE TABLE feedback (
    run_id TEXT NOT NULL, problem_id TEXT NOT NULL, strategy TEXT NOT NULL,
    branch INTEGER NOT NULL DEFAULT -1,
    label TEXT NOT NULL CHECK (label IN ('correct', 'wrong', 'unsure')),
    answer TEXT, note TEXT, author TEXT NOT NULL, created_at REAL NOT NULL,
    PRIMARY KEY (run_id, problem_id, strategy, branch),
    FOREIGN KEY (run_id, problem_id, strategy) REFERENCES results (run_id, problem_id, strategy)
        ON DELETE CASCADE
)"""
"""A person's label on a result (``branch`` -1) or on one of its branches (its index):
correct / wrong / unsure, an optional corrected answer and note, who said it and when."""


@migration
def m005_feedback(db: sqlite3.Connection) -> None:
    """Human feedback on traces and branches (see :mod:`ponder.store.feedback`)."""
    db.execute(FEEDBACK)
    db.execute("CREATE INDEX feedback_by_label ON feedback (label, run_id)")
