"""Model and dataset text in the terminal: printed as text by every command, never as Rich
markup or terminal control codes; ``ponder runs`` never cuts an id, a name or a date.

Scripted models answer through the real adapter and graphs; runs land in a real store.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ponder.cli import app
from ponder.scripted import register_script
from ponder.store import Store

ESC = "\x1b"
HOSTILE_ANSWER = f"[/] [b]{ESC}[J\a"  # closes no tag, opens bold, clears the screen, rings


def invoke(*args: str, columns: int = 80) -> Result:
    return CliRunner().invoke(app, list(args), env={"COLUMNS": str(columns), "NO_COLOR": "1"})


def ok(result: Result) -> str:
    """The command's stdout, once it is known to have ended cleanly and printed nothing raw."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}\n{result.output}")
    assert result.exit_code == 0, result.output
    assert ESC not in result.stdout and "\x07" not in result.stdout, repr(result.stdout)
    return result.stdout


def solve_with(tmp_path: Path, answer_text: str, name: str) -> tuple[str, str]:
    """``ponder solve`` with a scripted model that always says ``answer_text``."""
    model = register_script(name, lambda messages, index: answer_text)
    store = str(tmp_path / "render.db")
    out = ok(invoke("solve", "What is 2 + 3?", "--strategy", "cot", "--reasoner", model,
                    "--store", store))
    return out, store


def only_run(store: str) -> str:
    db = Store(store)
    try:
        (run,) = db.list_runs()
        return run.id
    finally:
        db.close()


def test_solve_and_trace_print_a_markup_answer_as_text(tmp_path: Path) -> None:
    out, store = solve_with(tmp_path, f"Thinking. Answer: {HOSTILE_ANSWER}", "render-markup")
    assert "Answer: [/] [b]\\x1b[J\\x07" in out
    traced = ok(invoke("trace", only_run(store), "--store", store))
    assert "answer=[/] [b]\\x1b[J\\x07" in traced and "result" in traced


def test_no_answer_is_said_not_swallowed(tmp_path: Path) -> None:
    out, _ = solve_with(tmp_path, "I am not sure.", "render-mute")
    assert "Answer: [no answer]" in out


def test_models_prints_a_markup_model_name(tmp_path: Path) -> None:
    config = tmp_path / "ponder.toml"
    config.write_text('[roles.reasoner]\nmodel = "scripted/[/]x[bold]"\n')
    out = ok(invoke("models", "--config", str(config)))
    assert "scripted/[/]x[bold]" in out.replace("\n", "")


@pytest.fixture
def batch_store(tmp_path: Path) -> tuple[str, str]:
    """A two-strategy batch over a dataset whose ids and questions are markup; one answer
    is markup too. Returns (store, config) paths."""
    def script(messages: list[dict[str, str]], index: int) -> str:
        question = messages[-1]["content"]
        return "Answer: 3" if "1 + 2" in question else f"Answer: {HOSTILE_ANSWER}"

    model = register_script("render-batch", script)
    config = tmp_path / "ponder.toml"
    config.write_text(f'[roles.reasoner]\nmodel = "{model}"\n[roles.standard]\nmodel = "{model}"\n')
    data = tmp_path / "hostile.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in [
        {"id": "[/]one", "question": "[bold]What is 1 + 2?[/]", "answer": "3"},
        {"id": "two[red]", "question": f"What is 2 + 2?{ESC}[2J", "answer": "4"}]))
    store = str(tmp_path / "batch.db")
    out = ok(invoke("batch", str(data), "-s", "cot,self-consistency", "-n", "2",
                    "--run", f"[/]evil{ESC}[31m", "--config", str(config), "--store", store))
    assert "run [/]evil\\x1b[31m: 4 of 4 items stored" in out
    return store, str(config)


def test_runs_and_report_print_markup_names_and_answers(batch_store: tuple[str, str]) -> None:
    store, config = batch_store
    listed = ok(invoke("runs", "--store", store, "--config", config))
    assert "[/]evil\\x1b[31m" in listed
    report = ok(invoke("report", f"[/]evil{ESC}[31m", "--store", store, "--config", config))
    assert "[/]evil\\x1b[31m" in report


def make_runs(store: str, names: list[str]) -> list[str]:
    """Batch runs with two strategies each: cot gets 1 of 2 right, self-consistency 2 of 2."""
    from ponder.types import Problem, Result as Solved

    db = Store(store)
    ids = []
    try:
        for name in names:
            run = db.create_run(kind="batch", name=name, dataset="data/gsm8k-test.jsonl",
                                strategies=["cot", "self-consistency"])
            for i, (cot, sc) in enumerate([("4", "4"), ("7", "5")]):
                db.add_problem(run.id, Problem(id=f"q{i}", question="?", reference=sc),
                               position=i)
                for strategy, answer in (("cot", cot), ("self-consistency", sc)):
                    db.save_result(Solved(run_id=run.id, problem_id=f"q{i}", strategy=strategy,
                                          answer=answer, reference=sc, correct=answer == sc))
            db.update_run(run.id, status="done")
            ids.append(run.id)
    finally:
        db.close()
    return ids


def test_runs_at_80_columns_keeps_ids_names_and_dates_whole(tmp_path: Path) -> None:
    store = str(tmp_path / "runs.db")
    names = ["gsm8k-test-c01a9f3e", "emb-L2s21-7d2e4b10"]
    ids = make_runs(store, names)
    out = ok(invoke("runs", "--store", store, columns=80))
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), out
    assert "…" not in out
    for run_id, name in zip(ids, names, strict=True):  # the name, its date, the id below
        assert re.search(rf"^{name}\s+\d{{4}}-\d\d-\d\d \d\d:\d\d\s.*\n{run_id}\s", out, re.M), out
    assert out.count("cot 50% (1/2)") == 2 and out.count("self-consistency 100% (2/2)") == 2
    assert "75%" not in out  # the blended number says nothing about either strategy


@pytest.mark.parametrize("columns", [80, 40])
def test_runs_too_wide_for_a_table_prints_each_run_whole(tmp_path: Path, columns: int) -> None:
    store = str(tmp_path / "runs.db")
    name = "a-run-name-long-enough-that-no-table-fits-it-beside-the-rest"
    (run_id,) = make_runs(store, [name])
    out = ok(invoke("runs", "--store", store, "--wide", columns=columns))
    assert "…" not in out
    assert re.search(rf"^{run_id}\s", out, re.M) and name in out.replace("\n", ""), out
    words = " ".join(out.split())  # wrapped lines joined again
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d · batch · done · 4 results", words), out
    assert "cot 50% (1/2)" in out and "self-consistency 100% (2/2)" in out


def test_a_truncated_run_says_so_and_prints_its_notes(capsys: pytest.CaptureFixture[str]) -> None:
    from ponder.cli.solve_cmd import _print_result
    from ponder.types import Result

    result = Result(run_id="run-1", problem_id="p", strategy="cot", answer=None,
                    stopped="truncated", samples_used=1, max_samples=1,
                    notes=["every branch ran out of tokens before answering [b]; "
                           "raise roles.reasoner.max_tokens"])
    _print_result(result)
    out = capsys.readouterr().out
    assert "Answer: [no answer]" in out and "stopped: truncated" in out
    assert "note: every branch ran out of tokens before answering [b]; raise roles.reasoner.max_tokens" in out


def test_solve_shows_what_the_confidence_is_made_of(tmp_path: Path) -> None:
    model = register_script("render-parts", lambda messages, index: "So it is 5. Answer: 5")
    store = str(tmp_path / "parts.db")
    out = ok(invoke("solve", "What is 2 + 3?", "--strategy", "self-consistency", "-n", "2",
                    "--reasoner", model, "--store", store))
    assert "confidence: 2 of 2 branches agree" in out
    data = json.loads(ok(invoke("solve", "What is 2 + 3?", "--strategy", "self-consistency",
                                "-n", "2", "--reasoner", model, "--store", store, "--json")))
    assert data["confidence_parts"]["summary"].startswith("2 of 2 branches agree")
    assert isinstance(data["seed"], int)


def test_the_live_progress_bar_prints_a_markup_run_name_as_text(tmp_path: Path) -> None:
    model = register_script("render-bar", lambda messages, index: "Answer: 3")
    config = tmp_path / "ponder.toml"
    config.write_text(f'[roles.reasoner]\nmodel = "{model}"\n[roles.standard]\nmodel = "{model}"\n')
    data = tmp_path / "one.jsonl"
    data.write_text(json.dumps({"id": "q", "question": "What is 1 + 2?", "answer": "3"}) + "\n")
    result = CliRunner().invoke(
        app, ["batch", str(data), "--run", "a[/][/]", "--config", str(config),
              "--store", str(tmp_path / "bar.db")],
        env={"COLUMNS": "120", "FORCE_TERMINAL": "1", "TTY_COMPATIBLE": "1"})
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 0, result.output
    assert "a[/][/]" in result.output
