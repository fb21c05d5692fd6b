"""``ponder annotate``: label a stored trace or branch; the sft export then honours it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from ponder.cli import app
from ponder.store import Store
from ponder.types import Branch, Problem, Result


def one_run(path: Path) -> str:
    store = Store(path)
    run = store.create_run(kind="solve", name="r1", strategies=["pot"])
    store.add_problem(run.id, Problem(id="p1", question="What is 2 + 2?", reference="4"))
    store.save_result(Result(
        run_id=run.id, problem_id="p1", strategy="pot", answer="4", reference="4", correct=True,
        branches=[Branch(index=0, answer="4", text="2 + 2 = 4", verdict="verified",
                         rewards={"accuracy": 1.0, "format": 1.0})]))
    store.close()
    return run.id


def test_annotate_labels_a_trace_and_the_sft_export_drops_it(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    run = one_run(path)
    runner = CliRunner()
    export = ["export", "r1", "--format", "sft", "--store", str(path)]
    assert len(runner.invoke(app, export).output.splitlines()) == 1
    done = runner.invoke(app, ["annotate", "r1", "p1", "--label", "wrong", "--note",
                               "the question meant 2 × 2", "--author", "ana",
                               "--store", str(path)])
    assert done.exit_code == 0, done.output
    assert done.output.strip() == f"labelled problem p1 (pot) in run {run}: wrong (ana)"
    assert runner.invoke(app, export).output == ""
    rewards = runner.invoke(app, ["export", "r1", "--format", "rewards", "--store", str(path)])
    record = json.loads(rewards.output)
    assert (record["human_label"], record["human_note"]) == ("wrong", "the question meant 2 × 2")

    branch = runner.invoke(app, ["annotate", "r1", "p1", "--label", "correct", "--branch", "0",
                                 "--answer", "4", "--json", "--store", str(path)])
    assert json.loads(branch.output)["branch"] == 0
    removed = runner.invoke(app, ["annotate", "r1", "p1", "--remove", "--store", str(path)])
    assert removed.output.strip() == "label removed"


def test_annotate_refuses_what_it_cannot_label(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    one_run(path)
    runner = CliRunner()
    bad = runner.invoke(app, ["annotate", "r1", "p1", "--label", "nice", "--store", str(path)])
    assert bad.exit_code == 2 and "correct, wrong, unsure" in bad.output
    missing = runner.invoke(app, ["annotate", "r1", "p7", "--label", "wrong",
                                  "--store", str(path)])
    assert missing.exit_code != 0
    assert "no result for problem 'p7'" in str(missing.exception)
