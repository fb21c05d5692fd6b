"""Moving runs between stores (SQLite <-> PostgreSQL) and checking a store's integrity.

:func:`copy_store` copies every run with its problems, results, branches, trace events and
feedback, parents before children, in insertion order; rows already there are kept, so a copy
interrupted or run twice ends in the same place. Leases are not copied: they belong to the
processes of the source. :func:`check_store` lists rows whose parent is missing.
"""

from __future__ import annotations

from pydantic import BaseModel

from ponder.store.sqlite import Store

__all__ = ["COPIED_TABLES", "CopyCounts", "check_store", "copy_store"]

COPIED_TABLES = ("runs", "problems", "results", "branches", "events", "feedback")
"""What a copy moves, parents first (each table's foreign keys point up this list)."""

PAGE = 500

PARENTS = {
    "problems": ("runs", "p.id = c.run_id"),
    "results": ("problems", "p.run_id = c.run_id AND p.problem_id = c.problem_id"),
    "branches": ("results", "p.run_id = c.run_id AND p.problem_id = c.problem_id"
                            " AND p.strategy = c.strategy"),
    "events": ("runs", "p.id = c.run_id"),
    "feedback": ("results", "p.run_id = c.run_id AND p.problem_id = c.problem_id"
                            " AND p.strategy = c.strategy"),
    "leases": ("runs", "p.id = c.run_id"),
}
"""Each child table: its parent table and the join that finds a row's parent."""


class CopyCounts(BaseModel):
    """Rows per table: read from the source, and newly written to the destination."""

    read: dict[str, int]
    written: dict[str, int]

    def line(self) -> str:
        return ", ".join(f"{t} {self.written[t]}/{self.read[t]}" for t in COPIED_TABLES)


def _count(store: Store, table: str) -> int:
    return int(store._rows(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"])


def copy_store(source: Store, target: Store) -> CopyCounts:
    """Copy every run of ``source`` into ``target``, keeping what ``target`` already has."""
    read, written = {}, {}
    for table in COPIED_TABLES:
        before, offset, read[table] = _count(target, table), 0, 0
        while rows := source._rows(f"SELECT * FROM {table} ORDER BY rowid LIMIT ? OFFSET ?",
                                   (PAGE, offset)):
            columns = [c for c in rows[0] if c != "rowid"]
            sql = (f"INSERT OR IGNORE INTO {table} ({', '.join(columns)})"
                   f" VALUES ({', '.join('?' * len(columns))})")
            with target._transaction():
                target._db.executemany(sql, [tuple(r[c] for c in columns) for r in rows])
            read[table] += len(rows)
            offset += len(rows)
        written[table] = _count(target, table) - before
    return CopyCounts(read=read, written=written)


def check_store(store: Store, *, limit: int = 20) -> list[str]:
    """Rows whose parent is missing, one line each (at most ``limit`` per table); empty when
    every problem, result, branch, event, feedback label and lease has its parent."""
    found = []
    for table, (parent, join) in PARENTS.items():
        rows = store._rows(f"SELECT c.* FROM {table} c WHERE NOT EXISTS (SELECT 1 FROM {parent} p"
                           f" WHERE {join}) LIMIT ?", (limit,))
        for row in rows:
            key = ", ".join(f"{k}={row[k]}" for k in ("run_id", "problem_id", "strategy", "id")
                            if row.get(k) is not None)
            found.append(f"{table} row ({key}) has no parent in {parent}")
    return found
