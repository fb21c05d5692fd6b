"""``ponder store copy`` and ``ponder store check``: runs move between SQLite and PostgreSQL
whole, idempotently, and a store's orphans are found."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli import app
from ponder.store import Store
from ponder.types import Branch, Problem, Result, TraceEvent, Usage

def filled_store(path: Path) -> tuple[Store, str]:
    """A run with problems, results with branches, trace events and a label."""
    db = Store(path)
    run = db.create_run(kind="batch", name="exp", strategies=["cot", "vote"], dataset="d.jsonl")
    for i in range(5):
        db.add_problem(run.id, Problem(id=f"p{i}", question=f"what is {i} + {i}?", answer=str(2 * i)), i)
        for strategy in ("cot", "vote"):
            branches = [Branch(index=k, model="m", text=f"t{k}", answer=str(2 * i + k)) for k in range(3)]
            db.add_event(TraceEvent(run_id=run.id, problem_id=f"p{i}", strategy=strategy, node="reason"))
            db.save_result(Result(run_id=run.id, problem_id=f"p{i}", strategy=strategy,
                                  answer=str(2 * i), reference=str(2 * i), correct=i % 2 == 0,
                                  branches=branches, models={"reasoner": "m"},
                                  usage=Usage(prompt_tokens=10 + i, completion_tokens=5, cost_usd=0.01)))
    db.annotate("exp", "p1", "wrong", strategy="cot", note="off by one", author="ann")
    return db, run.id


def cli(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.postgres
def test_copy_sqlite_to_postgres_and_back_gives_identical_reports(tmp_path, postgres_url):
    from tests.pg_server import new_database

    source, _ = filled_store(tmp_path / "a.db")
    pg, back = new_database(postgres_url), str(tmp_path / "b.db")
    first = json.loads(cli("store", "copy", str(tmp_path / "a.db"), pg, "--json"))
    assert first["written"] == {"runs": 1, "problems": 5, "results": 10, "branches": 30,
                                "events": 10, "feedback": 1}
    again = json.loads(cli("store", "copy", str(tmp_path / "a.db"), pg, "--json"))
    assert set(again["written"].values()) == {0} and again["read"] == first["read"]  # idempotent
    cli("store", "copy", pg, back)
    reports = {where: cli("report", "exp", "-f", "json", "--store", where)
               for where in (str(tmp_path / "a.db"), pg, back)}
    assert len(set(reports.values())) == 1, reports
    assert json.loads(reports[back])  # a real report, not an empty one
    copied = Store(back)
    assert copied.feedback(copied.require_run("exp").id)[0].note == "off by one"
    assert [len(r.branches) for r in copied.results(copied.require_run("exp").id)] == [3] * 10
    assert "every row has its parent" in cli("store", "check", "--store", pg)


def test_check_names_rows_without_their_parent(tmp_path):
    path = tmp_path / "a.db"
    filled_store(path)
    with sqlite3.connect(path) as db:  # foreign keys are off in a plain connection
        db.execute("DELETE FROM problems WHERE problem_id = 'p3'")
    result = CliRunner().invoke(app, ["store", "check", "--store", str(path)])
    assert result.exit_code == 1
    assert "results row (run_id=" in result.output and "problem_id=p3" in result.output
    assert "2 rows without their parent" in result.output
