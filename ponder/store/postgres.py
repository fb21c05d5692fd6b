"""The store on PostgreSQL: one database shared by several servers, batch drivers and UIs.

:class:`PostgresStore` is a :class:`~ponder.store.Store` whose connection is a psycopg 3 pool;
every query of the store (the UI's, reports', exports', leases') runs unchanged, rewritten by
:mod:`ponder.store.dialect`. Write transactions take one advisory lock, as SQLite's
``BEGIN IMMEDIATE`` takes the file's write lock, so a lease is taken by one process on one
host at a time (and a dead holder's, stale or gone, is taken over as on SQLite). The
migrations are the same names as SQLite's, applied once under an advisory lock and recorded.
Needs the ``postgres`` extra: ``pip install 'ponder[postgres]'``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from ponder.errors import StoreError
from ponder.store import migrations as lite
from ponder.store.dialect import (BOOLEAN_SUM, NUMBER_FUNCTION, VALUES_FUNCTION, postgres_ddl,
                                  postgres_sql)
from ponder.store.sqlite import Store

__all__ = ["PostgresStore", "redacted"]

WRITE_LOCK = 0x706F6E64  # "pond": the advisory lock every write transaction holds
MIGRATE_LOCK = WRITE_LOCK + 1


def _fk(table: str, columns: str, parent: str, keys: str) -> str:
    return (f"ALTER TABLE {table} ADD FOREIGN KEY ({columns}) REFERENCES {parent} ({keys})"
            " ON DELETE CASCADE")


MIGRATIONS: dict[str, list[str]] = {
    "m001_initial": [*(postgres_ddl(s) for s in lite.SCHEMA_V1.split(";") if s.strip()),
                     NUMBER_FUNCTION, VALUES_FUNCTION, *BOOLEAN_SUM],
    "m002_results_wall_s": ["ALTER TABLE results ADD COLUMN IF NOT EXISTS wall_s DOUBLE PRECISION"],
    "m003_foreign_keys": [_fk("problems", "run_id", "runs", "id"),
                          _fk("results", "run_id", "runs", "id"),
                          _fk("results", "run_id, problem_id", "problems", "run_id, problem_id"),
                          _fk("events", "run_id", "runs", "id"),
                          _fk("leases", "run_id", "runs", "id")],
    "m004_branches": [postgres_ddl(lite.BRANCHES)],  # a new database: nothing to back-fill
    "m005_feedback": [postgres_ddl(lite.FEEDBACK),
                      "CREATE INDEX feedback_by_label ON feedback (label, run_id)"],
}
"""SQLite's migrations (:data:`ponder.store.migrations.MIGRATIONS`), by name, for PostgreSQL."""
assert list(MIGRATIONS) == [fn.__name__ for fn in lite.MIGRATIONS], "a migration lacks its twin"

_UNIQUE = {"runs_name_key": "runs.name", "runs_pkey": "runs.id"}


class _Cursor:
    """What the store reads back from a statement: its rows (fetched) and its row count."""

    def __init__(self, rows: list[tuple], columns: list[str], rowcount: int):
        self._rows, self.rowcount = rows, rowcount
        self.description = [(c,) for c in columns]

    def fetchone(self) -> tuple | None:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[tuple]:
        return list(self._rows)


class _Connection:
    """A pool that reads like the ``sqlite3.Connection`` the store's queries use: statements
    run on this thread's open transaction if there is one, else on any pooled connection."""

    def __init__(self, pool: Any):
        self.pool = pool
        self.local = threading.local()

    @property
    def in_transaction(self) -> bool:
        return getattr(self.local, "conn", None) is not None

    def execute(self, sql: str, args: tuple | list = ()) -> _Cursor:
        return self._run(lambda cur: cur.execute(postgres_sql(sql), _values(args)))

    def executemany(self, sql: str, rows: list[tuple]) -> _Cursor:
        if not rows:
            return _Cursor([], [], 0)
        return self._run(lambda cur: cur.executemany(postgres_sql(sql), [_values(r) for r in rows]))

    def _run(self, call: Callable[[Any], Any]) -> _Cursor:
        import psycopg

        try:
            conn = getattr(self.local, "conn", None)
            with contextlib.nullcontext(conn) if conn else self.pool.connection() as use:
                with use.cursor() as cur:
                    call(cur)
                    columns = [d.name for d in cur.description or []]
                    return _Cursor(cur.fetchall() if cur.description else [], columns, cur.rowcount)
        except psycopg.errors.IntegrityError as exc:
            raise _as_integrity(exc) from exc
        except psycopg.Error as exc:
            raise sqlite3.OperationalError(f"PostgreSQL: {exc}") from exc

    @contextlib.contextmanager
    def transaction(self, lock: int) -> Iterator[None]:
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            self.local.conn = conn
            try:
                yield
            finally:
                self.local.conn = None


def _values(args: tuple | list) -> tuple:
    """Arguments as SQLite stores them: booleans are integers (the columns are ``INTEGER``)."""
    return tuple(int(a) if isinstance(a, bool) else a for a in args)


def _as_integrity(exc: Any) -> sqlite3.IntegrityError:
    """A PostgreSQL constraint failure worded as SQLite's, which the store already reads."""
    import psycopg

    if isinstance(exc, psycopg.errors.ForeignKeyViolation):
        return sqlite3.IntegrityError(f"FOREIGN KEY constraint failed ({exc.diag.message_primary})")
    name = exc.diag.constraint_name or ""
    return sqlite3.IntegrityError(f"UNIQUE constraint failed: {_UNIQUE.get(name, name)}")


class PostgresStore(Store, schemes=("postgresql://", "postgres://")):
    """The store in a PostgreSQL database, named by a ``postgresql://`` URL.

    ``Store("postgresql://...")`` opens one; so do ``--store``, ``PONDER_STORE`` and
    ``[store] url`` in ``ponder.toml``.

    >>> store = Store("postgresql://ponder@localhost/ponder")  # doctest: +SKIP
    """

    def __init__(self, url: str, *, pool_size: int = 8):  # noqa: D107
        try:
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise StoreError(f"the store {redacted(url)} is PostgreSQL, which needs the postgres "
                             "extra: pip install 'ponder[postgres]'") from None
        self.url = url
        self.path = redacted(url)  # type: ignore[assignment]  # what messages name
        self._lock = threading.RLock()
        try:
            import psycopg

            psycopg.connect(url, connect_timeout=10).close()  # fails fast, saying why
            self._pool = ConnectionPool(url, min_size=1, max_size=pool_size, open=True,
                                        kwargs={"autocommit": True}, timeout=30)
        except Exception as exc:  # noqa: BLE001 - psycopg's and the pool's, said as one
            why = " ".join(_hidden(str(exc), url).split())  # one line
            raise StoreError(f"cannot open the store at {self.path}: {why}; check the server "
                             "runs and the URL, or pass another --store or PONDER_STORE") from None
        self._db = _Connection(self._pool)  # type: ignore[assignment]
        self._migrate()

    def close(self) -> None:
        self._pool.close()

    def _migrate(self) -> list[str]:
        """Apply the pending migrations in one transaction under an advisory lock (every
        replica opening at once: one migrates, the others wait and find nothing to do)."""
        known = {fn.__name__ for fn in lite.MIGRATIONS}
        with self._db.transaction(MIGRATE_LOCK):
            self._db.execute("CREATE TABLE IF NOT EXISTS _migrations (rowid BIGINT GENERATED"
                             " ALWAYS AS IDENTITY, name TEXT PRIMARY KEY,"
                             " applied_at DOUBLE PRECISION NOT NULL)")
            applied = [r[0] for r in self._db.execute(
                "SELECT name FROM _migrations ORDER BY rowid").fetchall()]
            if unknown := [n for n in applied if n not in known]:
                raise StoreError(f"the store at {self.path} was written by a newer ponder (its "
                                 f"schema has {', '.join(unknown[:3])}): upgrade ponder")
            pending = [name for name in MIGRATIONS if name not in applied]
            for name in pending:
                for statement in MIGRATIONS[name]:
                    self._db.execute(statement)
                self._db.execute("INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                                 (name, time.time()))
        return pending

    def applied_migrations(self) -> list[str]:
        """Names of the migrations this database has had, in the order they were applied."""
        return [r[0] for r in self._db.execute("SELECT name FROM _migrations ORDER BY rowid")
                .fetchall()]

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """Hold the lock; a failure of the server or the connection is a ``StoreError``."""
        with self._lock:
            try:
                yield
            except sqlite3.IntegrityError:
                raise  # the store's callers say which constraint, as on SQLite
            except sqlite3.DatabaseError as exc:
                raise StoreError(f"the store {self.path} failed ({exc}); check that the server "
                                 "runs and accepts this user, then rerun the same command to "
                                 "resume; the results stored so far are kept") from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction under the store's advisory lock, rolled back on any error."""
        with self._guard(), self._db.transaction(WRITE_LOCK):
            yield


def _hidden(text: str, url: str) -> str:
    """``text`` without the URL's password (psycopg may quote the URL in an error)."""
    from urllib.parse import urlsplit

    password = urlsplit(url).password
    return text.replace(password, "***") if password else text


def redacted(url: str | object) -> str:
    """A store location for messages: a URL without its password, a path as it is."""
    if not isinstance(url, str) or "://" not in url:
        return str(url)
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
