"""The SQLite -> PostgreSQL rewrites of :mod:`ponder.store.dialect`, statement by statement."""

from __future__ import annotations

import pytest

from ponder.store.dialect import postgres_ddl, postgres_sql


@pytest.mark.parametrize(("sqlite", "postgres"), [
    ("SELECT * FROM runs WHERE id = ? AND name LIKE 'a%'",
     "SELECT * FROM runs WHERE id = %s AND name ILIKE 'a%%'"),
    ("INSERT OR IGNORE INTO problems (run_id, problem_id, body) VALUES (?,?,?)",
     "INSERT INTO problems (run_id, problem_id, body) VALUES (%s,%s,%s) ON CONFLICT DO NOTHING"),
    ("INSERT OR REPLACE INTO leases (run_id, token, heartbeat) VALUES (?,?,?)",
     "INSERT INTO leases (run_id, token, heartbeat) VALUES (%s,%s,%s) ON CONFLICT (run_id)"
     " DO UPDATE SET token = EXCLUDED.token, heartbeat = EXCLUDED.heartbeat"),
    ("SELECT json_extract(p.body, '$.question') FROM problems p",
     "SELECT (p.body::jsonb #>> '{question}') FROM problems p"),
    ("SELECT COALESCE(json_extract(r.body, '$.confidence_parts.split'), 0) > 0",
     "SELECT COALESCE(ponder_number(r.body::jsonb #> '{confidence_parts,split}'), 0) > 0"),
    ("CASE WHEN COALESCE(json_extract(r.body, '$.a.b'), 0) THEN 1 END",
     "CASE WHEN COALESCE(ponder_number(r.body::jsonb #> '{a,b}'), 0) <> 0 THEN 1 END"),
    ("SELECT m.value FROM results r, json_each(r.body, '$.models') m WHERE m.value = ?",
     "SELECT m.value FROM results r, ponder_values(r.body::jsonb -> 'models') AS m(value)"
     " WHERE m.value = %s"),
    ("EXISTS (SELECT 1 FROM json_each(runs.strategies) WHERE value = ?)",
     "EXISTS (SELECT 1 FROM ponder_values(runs.strategies::jsonb) AS j(value) WHERE value = %s)"),
    ("SELECT MAX(?, COALESCE((SELECT MAX(ended_at) FROM events), 0))",
     "SELECT GREATEST(%s, COALESCE((SELECT MAX(ended_at) FROM events), 0))"),
])
def test_a_statement_is_rewritten_for_postgres(sqlite: str, postgres: str) -> None:
    assert postgres_sql(sqlite) == postgres


def test_a_table_gets_postgres_types_and_an_insertion_order_rowid() -> None:
    ddl = postgres_ddl("CREATE TABLE IF NOT EXISTS t (a TEXT PRIMARY KEY, n INTEGER, x REAL)")
    assert ddl == ("CREATE TABLE IF NOT EXISTS t (rowid BIGINT GENERATED ALWAYS AS IDENTITY, "
                   "a TEXT PRIMARY KEY, n BIGINT, x DOUBLE PRECISION)")
