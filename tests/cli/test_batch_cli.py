"""``ponder batch``/``runs``/``report``/``export``: in process with scripted models, and as
child processes that are killed (SIGKILL) or interrupted (SIGINT) mid-run, then resumed."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli import app
from ponder.errors import DatasetError, StoreError
from ponder.scripted import register_script

HELPER = '''
import os, re, sys, time
from ponder.scripted import register_script

def slow_add(messages, index):
    time.sleep(float(os.environ.get("SCRIPT_DELAY", "0")))
    a, b = map(int, re.findall(r"(\\d+) \\+ (\\d+)", messages[-1]["content"])[-1])
    return f"{a} + {b} = {a + b}.\\nAnswer: {a + b}"

register_script("cli-slow", slow_add)
from ponder.cli import main
main()
'''


def add(messages: list[dict[str, str]], index: int) -> str:
    text = messages[-1]["content"]
    a, b = map(int, re.findall(r"(\d+) \+ (\d+)", text)[-1])
    if "python" in text.lower():
        return f"```python\nprint({a} + {b})\n```"
    return f"{a} + {b} = {a + b}.\nAnswer: {a + b}"


def write_config(tmp_path: Path, model: str) -> Path:
    path = tmp_path / "ponder.toml"
    path.write_text(f'[roles.reasoner]\nmodel = "{model}"\nmax_tokens = 64\n'
                    f'[roles.standard]\nmodel = "{model}"\nmax_tokens = 64\n')
    return path


def write_dataset(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "add.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + 2?",
                                        "answer": f"#### {i + 2}"}) + "\n" for i in range(n)))
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Flags shared by the in-process calls: a scripted config and a throwaway store."""
    model = register_script("cli-add", add)
    return {"config": str(write_config(tmp_path, model)), "store": str(tmp_path / "s.db")}


def invoke(env: dict[str, str], *args: str):
    return CliRunner().invoke(app, [*args, "--config", env["config"], "--store", env["store"]])


def test_batch_then_runs_report_and_every_export(tmp_path: Path, env: dict[str, str]) -> None:
    data = write_dataset(tmp_path, 4)
    done = invoke(env, "batch", str(data), "-s", "cot,self-consistency", "-n", "2",
                  "--run", "demo", "--json")
    assert done.exit_code == 0, done.output
    outcome = json.loads(done.stdout)
    assert (outcome["solved"], outcome["total"], outcome["stopped"]) == (8, 8, None)

    runs = json.loads(invoke(env, "runs", "--json").stdout)
    assert [(r["name"], r["status"], r["results"]) for r in runs] == [("demo", "done", 8)]

    report = json.loads(invoke(env, "report", "demo", "--format", "json").stdout)
    assert [(s["strategy"], s["problems"], s["correct"], s["accuracy"]) for s in report["strategies"]] == [
        ("cot", 4, 4, 1.0), ("self-consistency", 4, 4, 1.0)]
    table = list(csv.DictReader(io.StringIO(invoke(env, "report", "demo", "-f", "csv").stdout)))
    assert [r["strategy"] for r in table] == ["cot", "self-consistency"]
    assert "| self-consistency | 4 | 100.0% (4/4)" in invoke(env, "report", "demo").stdout

    for fmt in ("jsonl", "csv", "rewards", "sft"):
        out = tmp_path / f"out.{fmt}"
        res = invoke(env, "export", "demo", "--format", fmt, "-o", str(out))
        assert res.exit_code == 0, res.output
        text = out.read_text()
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(text)))
            assert len(rows) == 8 and {r["correct"] for r in rows} == {"True"}
            continue
        lines = [json.loads(line) for line in text.splitlines()]
        if fmt == "jsonl":
            assert sorted((r["problem_id"], r["strategy"]) for r in lines) == sorted(
                (f"q{i}", s) for i in range(4) for s in ("cot", "self-consistency"))
            assert all(r["correct"] is True and r["answer"] == r["reference"] for r in lines)
        elif fmt == "rewards":
            assert len(lines) == sum(s["samples_used_total"] for s in report["strategies"])
            assert all(r["accuracy"] == 1.0 and r["format"] == 1.0 for r in lines)
        else:  # no branch was cross-checked by code, so nothing is verified-correct
            assert lines == []
    loose = invoke(env, "export", "demo", "-f", "sft", "--any-correct").stdout.splitlines()
    first = json.loads(loose[0])
    assert first["messages"][0] == {"role": "user", "content": "What is 0 + 2?"}
    assert first["messages"][1]["content"] == "<think>\n0 + 2 = 2.\nAnswer: 2\n</think>\n\n2"


def test_bad_dataset_is_refused_before_any_run_starts(tmp_path: Path, env: dict[str, str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "a", "answer": "#### 1"}\n{"answer": "#### 2"}\n'
                   '{"question": "c", "answer": "no number"}\n')
    res = invoke(env, "batch", str(bad), "-s", "cot", "--run", "bad")
    assert isinstance(res.exception, DatasetError)
    assert "line 2: missing field 'question'" in str(res.exception)
    assert "line 3: 'answer' does not end in '#### <number>'" in str(res.exception)
    assert json.loads(invoke(env, "runs", "--json").stdout) == []


def test_changed_config_under_the_same_name_is_refused(tmp_path: Path, env: dict[str, str]) -> None:
    data = str(write_dataset(tmp_path, 2))
    assert invoke(env, "batch", data, "-s", "cot", "--run", "same").exit_code == 0
    res = invoke(env, "batch", data, "-s", "cot,direct", "--run", "same")
    assert isinstance(res.exception, StoreError)
    assert "other settings (strategies: ['cot'] -> ['cot', 'direct'])" in str(res.exception)
    again = invoke(env, "batch", data, "-s", "cot,direct", "--run", "same", "--overwrite", "--json")
    assert json.loads(again.stdout)["solved"] == 4


def test_unknown_report_format_and_run_say_what_to_do(env: dict[str, str]) -> None:
    res = invoke(env, "report", "nope", "--format", "xml")
    assert res.exit_code == 2 and "md, json, csv" in res.output
    assert isinstance(invoke(env, "report", "nope").exception, StoreError)


# child processes ------------------------------------------------------------------------------
def child(tmp_path: Path, data: Path, delay: float, *extra: str) -> subprocess.Popen:
    helper = tmp_path / "helper.py"
    helper.write_text(HELPER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONDER_")}
    env["SCRIPT_DELAY"] = str(delay)
    cmd = [sys.executable, str(helper), "batch", str(data), "-s", "cot,direct", "--run", "k",
           "-c", "3", "--config", str(write_config(tmp_path, "scripted/cli-slow")),
           "--store", str(tmp_path / "k.db"), *extra]
    return subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def stored(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=10) as con:
            return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def wait_for(db: Path, proc: subprocess.Popen, count: int, timeout: float = 90) -> int:
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if (n := stored(db)) >= count:
            return n
        time.sleep(0.05)
    raise AssertionError(f"child stored {stored(db)} results, wanted {count}: "
                         f"{proc.stderr.read() if proc.poll() is not None else 'still running'}")


def counts(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


@pytest.mark.slow
def test_sigkill_then_resume_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    data, db = write_dataset(tmp_path, 30), tmp_path / "k.db"
    for threshold in (4, 20):  # killed twice, at different points
        proc = child(tmp_path, data, 0.1)
        wait_for(db, proc, threshold)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert stored(db) < 60
    finish = child(tmp_path, data, 0.0)
    out, err = finish.communicate(timeout=120)
    assert finish.returncode == 0, err
    assert "from before" in out
    assert counts(db, "SELECT COUNT(*), COUNT(DISTINCT problem_id || '/' || strategy)"
                      " FROM results") == [(60, 60)]
    assert counts(db, "SELECT COUNT(*) FROM problems") == [(30,)]
    # every (problem, strategy) has exactly one trace: killed attempts were discarded whole
    per_pair = counts(db, "SELECT problem_id, strategy, SUM(node = 'problem'), SUM(node = 'result')"
                          " FROM events GROUP BY problem_id, strategy")
    assert len(per_pair) == 60 and {row[2:] for row in per_pair} == {(1, 1)}
    assert counts(db, "SELECT status, json_extract(meta, '$.resumes') FROM runs") == [("done", 2)]


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_the_same_command_resumes(tmp_path: Path) -> None:
    data, db = write_dataset(tmp_path, 30), tmp_path / "k.db"
    proc = child(tmp_path, data, 0.1)
    wait_for(db, proc, 6)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted; rerun the same command to resume" in err
    kept = stored(db)
    assert 6 <= kept < 60
    assert counts(db, "SELECT status, json_extract(meta, '$.stopped') FROM runs") == [
        ("interrupted", "interrupted")]
    finish = child(tmp_path, data, 0.0, "--json")
    out, err = finish.communicate(timeout=120)
    assert finish.returncode == 0, err
    outcome = json.loads(out)
    assert (outcome["resumed"], outcome["solved"]) == (kept, 60 - kept)
