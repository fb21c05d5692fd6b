"""Where the store's SQL differs between SQLite and PostgreSQL: the one place that knows.

The store's queries are written once, in SQLite's dialect (the embedded default).
:func:`postgres_sql` rewrites one statement for PostgreSQL: ``?`` placeholders, ``INSERT OR
REPLACE/IGNORE``, SQLite's JSON functions, case-insensitive ``LIKE`` and the scalar ``MAX``.
Tables on PostgreSQL carry a ``rowid`` identity column, so ``ORDER BY rowid`` (insertion
order) reads the same on both. :data:`POSTGRES_TYPES` maps the column types of the schema.
"""

from __future__ import annotations

import functools
import re

__all__ = ["CONFLICT_KEYS", "postgres_ddl", "postgres_sql"]

CONFLICT_KEYS = {
    "runs": ("id",), "problems": ("run_id", "problem_id"),
    "results": ("run_id", "problem_id", "strategy"), "events": ("id",),
    "leases": ("run_id",), "branches": ("run_id", "problem_id", "strategy", "position"),
    "feedback": ("run_id", "problem_id", "strategy", "branch"), "_migrations": ("name",),
}
"""Each table's primary key: what ``INSERT OR REPLACE`` replaces on."""

POSTGRES_TYPES = {"REAL": "DOUBLE PRECISION", "INTEGER": "BIGINT"}

NUMBER_FUNCTION = """
CREATE OR REPLACE FUNCTION ponder_number(value jsonb) RETURNS DOUBLE PRECISION
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE jsonb_typeof(value) WHEN 'number' THEN (value #>> '{}')::double precision
        WHEN 'boolean' THEN CASE WHEN (value #>> '{}')::boolean THEN 1 ELSE 0 END END
$$"""
"""A JSON value as SQLite's ``json_extract`` reads it in arithmetic: numbers and booleans."""

VALUES_FUNCTION = """
CREATE OR REPLACE FUNCTION ponder_values(doc jsonb) RETURNS SETOF text
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_array_elements_text(CASE WHEN jsonb_typeof(doc) = 'array' THEN doc
                                          ELSE '[]'::jsonb END)
    UNION ALL
    SELECT value FROM jsonb_each_text(CASE WHEN jsonb_typeof(doc) = 'object' THEN doc
                                           ELSE '{}'::jsonb END)
$$"""
"""The values of a JSON array or object, as SQLite's ``json_each`` walks either."""

BOOLEAN_SUM = [
    "CREATE OR REPLACE FUNCTION ponder_count_true(n BIGINT, value BOOLEAN) RETURNS BIGINT"
    " LANGUAGE sql IMMUTABLE STRICT AS 'SELECT n + CASE WHEN value THEN 1 ELSE 0 END'",
    "CREATE AGGREGATE sum(BOOLEAN) (SFUNC = ponder_count_true, STYPE = BIGINT, INITCOND = '0')",
]
"""``SUM(condition)`` counts where it holds, as on SQLite (where a condition is 0 or 1)."""

_INSERT = re.compile(r"^\s*INSERT OR (REPLACE|IGNORE) INTO (\w+) \(([^)]*)\)", re.S)
_JSON_PATH = re.compile(r"json_extract\(([\w.]+), '\$\.([\w.]+)'\)")
_JSON_EACH = re.compile(r"json_each\(([\w.]+)(?:, '\$\.(\w+)')?\)"
                        r"( (?!WHERE|ORDER|GROUP|LIMIT|ON|JOIN|LEFT)\w+)?")
_NUMBER = re.compile(r"COALESCE\(json_extract\(([\w.]+), '\$\.([\w.]+)'\), 0\)")
_TRUTHY = re.compile(r"WHEN (COALESCE\(ponder_number\([^()]*\), 0\)) THEN")
_CREATE = re.compile(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+) \(")


@functools.lru_cache(maxsize=512)
def postgres_sql(sql: str) -> str:
    """One SQLite statement as PostgreSQL runs it (cached: the store's statements are few)."""
    out = sql.replace("%", "%%").replace("?", "%s")
    out = _NUMBER.sub(lambda m: f"COALESCE(ponder_number({m[1]}::jsonb #> {_path(m[2])}), 0)",
                      out)
    out = _TRUTHY.sub(r"WHEN \1 <> 0 THEN", out)  # a number is no condition there
    out = _JSON_PATH.sub(lambda m: f"({m[1]}::jsonb #>> {_path(m[2])})", out)
    out = _JSON_EACH.sub(_json_each, out)
    out = re.sub(r"\bLIKE\b", "ILIKE", out)  # SQLite's LIKE ignores ASCII case
    out = out.replace("MAX(%s,", "GREATEST(%s,")  # the scalar form (two or more arguments)
    if match := _INSERT.match(out):
        verb, table, columns = match[1], match[2], match[3]
        out = "INSERT INTO" + out[match.end(1) + len(" INTO"):]
        keys = CONFLICT_KEYS.get(table, ())
        if verb == "IGNORE":  # as SQLite: whichever unique key the row collides on
            out += " ON CONFLICT DO NOTHING"
        else:
            rest = [c.strip() for c in columns.split(",") if c.strip() not in keys]
            sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in rest)
            out += f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    return out


def _path(dotted: str) -> str:
    """``a.b`` (SQLite's ``$.a.b``) as PostgreSQL's path literal ``'{a,b}'``."""
    return "'{" + dotted.replace(".", ",") + "}'"


def _json_each(match: re.Match[str]) -> str:
    """``json_each(x, '$.key') alias`` as the set of its values, named ``alias(value)``."""
    source, key, alias = match[1], match[2], (match[3] or " j").strip()
    path = f"{source}::jsonb -> '{key}'" if key else f"{source}::jsonb"
    return f"ponder_values({path}) AS {alias}(value)"


def postgres_ddl(sql: str) -> str:
    """A ``CREATE TABLE`` of the SQLite schema for PostgreSQL: its column types mapped and a
    ``rowid`` identity column added (insertion order, as SQLite's implicit rowid)."""
    out = sql
    for lite, pg in POSTGRES_TYPES.items():
        out = re.sub(rf"\b{lite}\b", pg, out)
    return _CREATE.sub(lambda m: f"{m[0]}rowid BIGINT GENERATED ALWAYS AS IDENTITY, ", out)
