"""``ponder batch``/``runs``/``report``/``export``: in process with scripted models, and as
child processes that are killed (SIGKILL) or interrupted (SIGINT) mid-run, then resumed."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import signal
import socket
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
    gate = os.environ.get("SCRIPT_GATE")  # hold every model call until the test opens the gate
    while gate and not os.path.exists(gate):
        time.sleep(0.05)
    a, b = map(int, re.findall(r"(\\d+) \\+ (\\d+)", messages[-1]["content"])[-1])
    return f"{a} + {b} = {a + b}.\\nAnswer: {a + b}"

register_script("cli-slow", slow_add)
PRELUDE
from ponder.cli import main
main()
'''

SMALL_DISK = '''
import ponder.store as store_module

_open = store_module.Store.__init__


def small_disk(self, path):
    """The store can grow only SMALL_DISK_PAGES pages more: SQLite then answers SQLITE_FULL
    ('database or disk is full'), exactly as on a full disk."""
    _open(self, path)
    pages = self._db.execute("PRAGMA page_count").fetchone()[0]
    self._db.execute(f"PRAGMA max_page_count = {pages + int(os.environ['SMALL_DISK_PAGES'])}")


store_module.Store.__init__ = small_disk
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
    assert res.exit_code == 2 and "'xml' is not one of 'md', 'json', 'csv'" in " ".join(
        re.sub(r"[│╭╮╰╯─]", " ", res.output).split())
    assert isinstance(invoke(env, "report", "nope").exception, StoreError)


# child processes ------------------------------------------------------------------------------
def child(tmp_path: Path, data: Path, delay: float, *extra: str, prelude: str = "",
          **env_extra: str) -> subprocess.Popen:
    helper = tmp_path / "helper.py"
    helper.write_text(HELPER.replace("PRELUDE", prelude))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONDER_")}
    env["SCRIPT_DELAY"] = str(delay)
    env.update(env_extra)
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


# issue 14: clear errors, progress in a log, one process per run, a full disk -----------------
def ponder_main(monkeypatch, capsys, env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run the real entry point (``ponder ...``) in process: exit code, stdout, stderr.

    An exception that is not turned into a message propagates and fails the test."""
    from ponder.cli import main

    monkeypatch.setattr(sys, "argv", ["ponder", *args, "--config", env["config"],
                                      "--store", env["store"]])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def _latin1(tmp_path: Path) -> Path:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes(b'{"question": "What is 1 + 2?", "answer": "#### 3"}\n'
                     + '{"question": "Caf\u00e9: 2 + 2?", "answer": "#### 4"}\n'.encode("latin-1"))
    return path


def _truncated_gz(tmp_path: Path) -> Path:
    import gzip

    path = tmp_path / "cut.jsonl.gz"
    whole = gzip.compress(b"".join(json.dumps({"question": f"What is {i} + 1?",
                                               "answer": f"#### {i + 1}"}).encode() + b"\n"
                                   for i in range(200)))
    path.write_bytes(whole[: len(whole) // 2])
    return path


def _csv_bad_first_row(tmp_path: Path) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text("question,answer\nWhat is 1 + 1?,2,surplus\nWhat is 2 + 2?,4\n")
    return path


@pytest.mark.parametrize(("make", "expected"), [
    (_latin1, r"latin1.jsonl is not UTF-8 text \(line 2, byte 18: 0xe9\); convert it"),
    (_truncated_gz, r"cut.jsonl.gz is not a readable gzip file \(Compressed file ended .*\); "
                    r"download it again"),
    (_csv_bad_first_row, r"bad.csv: 1 bad row; nothing was solved.\n  line 2: more values "
                         r"than header columns\n"),
])
def test_unreadable_datasets_get_one_clear_line(tmp_path: Path, env: dict[str, str], monkeypatch,
                                                capsys, make, expected: str) -> None:
    code, out, err = ponder_main(monkeypatch, capsys, env, "batch", str(make(tmp_path)), "-s", "cot")
    assert code == 2, err
    assert re.search(r"^error: dataset |^error: .*bad.csv", err) and re.search(expected, err), err
    assert "Traceback" not in err and "Aborted" not in err
    assert json.loads(invoke(env, "runs", "--json").stdout) == []  # nothing started


@pytest.mark.parametrize(("flags", "expected"), [
    (["--budget-usd", "-1"], "Invalid value for '--budget-usd': -1 is not in the range x>0"),
    (["--budget-tokens", "-5"], "Invalid value for '--budget-tokens': -5 is not in the range 1<=x<="),
    (["-n", "1000"], "Invalid value for '--samples' / '-n': 1000 is not in the range 1<=x<=256"),
    (["-c", "999"], "Invalid value for '--concurrency' / '-c': 999 is not in the range 1<=x<=256"),
    (["-s", ","], "Invalid value for --strategy: name at least one strategy"),
])
def test_out_of_range_settings_are_usage_errors(tmp_path: Path, env: dict[str, str], monkeypatch,
                                                capsys, flags: list[str], expected: str) -> None:
    data = write_dataset(tmp_path, 2)
    code, out, err = ponder_main(monkeypatch, capsys, env, "batch", str(data), *flags)
    assert code == 2 and "Traceback" not in err and "ValidationError" not in err
    assert expected in " ".join(re.sub(r"[│╭╮╰╯─]", " ", err).split()), err


def test_progress_without_a_terminal_is_plain_lines(tmp_path: Path, env: dict[str, str]) -> None:
    res = invoke(env, "batch", str(write_dataset(tmp_path, 20)), "-s", "cot", "-c", "1",
                 "--run", "logged")
    assert res.exit_code == 0, res.output
    lines = res.stderr.splitlines()
    assert "\x1b" not in res.stderr and "━" not in res.stderr and "\r" not in res.stderr
    pattern = re.compile(r"^\d\d:\d\d:\d\d logged: (\d+)/20 done \(\d+%\) · acc (100|0)\.0% "
                         r"\((\d+)/\3\) · [\d,]+ tok · \$0\.0000 · [\d.]+ items/s · ETA \S+$")
    done = [int(m.group(1)) for m in map(pattern.match, lines) if m]
    assert len(done) == len(lines) >= 10, lines  # a line each tenth of the run, nothing else
    assert done == sorted(done) and done[0] == 0 and done[-1] == 20
    assert lines[-1].endswith("acc 100.0% (20/20) · 620 tok · $0.0000 · " + lines[-1].split(" · ")[-2]
                              + " · ETA -")


def test_plain_progress_also_prints_on_a_timer() -> None:
    from ponder.cli.batch_cmd import _PlainProgress
    from ponder.graphs.batch import BatchProgress

    log = io.StringIO()
    plain = _PlainProgress(log, every_s=0.0)
    for done in range(4):  # 4 of 1,000 items: under a tenth, so only the timer prints
        plain.update(BatchProgress(run="big", total=1000, done=done, scored=done, correct=done,
                                   tokens=10 * done, resumed=0))
    plain.close()
    assert [line.split(" · ")[0][9:] for line in log.getvalue().splitlines()] == [
        "big: 0/1000 done (0%)", "big: 1/1000 done (0%)", "big: 2/1000 done (0%)",
        "big: 3/1000 done (0%)"]


def leases(db: Path) -> list[tuple]:
    return counts(db, "SELECT pid, host FROM leases") if db.exists() else []


def wait_until(db: Path, proc: subprocess.Popen, sql: str, timeout: float = 90) -> None:
    """Until ``sql`` counts at least one row in the child's store."""
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        with contextlib.suppress(sqlite3.OperationalError):
            if db.exists() and counts(db, sql)[0][0]:
                return
        time.sleep(0.05)
    raise AssertionError(f"never true: {sql}: "
                         f"{proc.stderr.read() if proc.poll() is not None else 'still running'}")


@pytest.mark.slow
def test_a_second_process_on_a_running_run_is_refused_naming_the_holder(tmp_path: Path) -> None:
    data, db, gate = write_dataset(tmp_path, 10), tmp_path / "k.db", tmp_path / "gate"
    first = child(tmp_path, data, 0.0, SCRIPT_GATE=str(gate))
    wait_until(db, first, "SELECT COUNT(*) FROM problems")  # solving its first item, held
    second = child(tmp_path, data, 0.0)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 2, err
    assert (f"error: run 'k' is being solved by another process: pid {first.pid} on "
            f"{socket.gethostname()} (since ") in err
    assert f"kill {first.pid}), then rerun this command to resume" in err and "Traceback" not in err
    gate.touch()
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert counts(db, "SELECT COUNT(*) FROM results") == [(20,)]
    per_pair = counts(db, "SELECT SUM(node = 'problem'), SUM(node = 'result') FROM events"
                          " GROUP BY problem_id, strategy")
    assert len(per_pair) == 20 and set(per_pair) == {(1, 1)}  # nothing solved twice
    assert counts(db, "SELECT status FROM runs") == [("done",)] and leases(db) == []


@pytest.mark.slow
def test_the_lease_of_a_killed_process_is_taken_over(tmp_path: Path, env: dict[str, str]) -> None:
    data, db, gate = write_dataset(tmp_path, 10), tmp_path / "k.db", tmp_path / "gate"
    killed = child(tmp_path, data, 0.0, SCRIPT_GATE=str(gate))
    wait_until(db, killed, "SELECT COUNT(*) FROM leases")
    killed.send_signal(signal.SIGKILL)
    killed.wait(timeout=30)
    assert leases(db) == [(killed.pid, socket.gethostname())]  # left behind, holder dead
    runs = invoke({**env, "store": str(db)}, "runs", "--json")
    assert [r["status"] for r in json.loads(runs.stdout)] == ["interrupted"]
    out, err = child(tmp_path, data, 0.0, "--json").communicate(timeout=120)
    assert json.loads(out)["solved"] == 20, err
    assert counts(db, "SELECT status FROM runs") == [("done",)] and leases(db) == []


@pytest.mark.slow
def test_a_full_disk_fails_the_run_clearly_and_a_resume_finishes_it(tmp_path: Path) -> None:
    data, db = write_dataset(tmp_path, 30), tmp_path / "k.db"
    full = child(tmp_path, data, 0.0, prelude=SMALL_DISK, SMALL_DISK_PAGES="40")
    out, err = full.communicate(timeout=120)
    assert full.returncode == 2, err
    assert "Traceback" not in err and "OperationalError" not in err
    assert re.search(r"error: the store .*k\.db is full \(database or disk is full\): free disk "
                     r"space there .* then rerun the same command to resume; the results stored "
                     r"so far are kept", err), err
    kept = stored(db)
    assert 0 < kept < 60
    [(status, error)] = counts(db, "SELECT status, json_extract(meta, '$.error') FROM runs")
    assert status == "failed" and "is full" in error and leases(db) == []
    finish = child(tmp_path, data, 0.0, "--json")
    out, err = finish.communicate(timeout=120)
    assert finish.returncode == 0, err
    assert (json.loads(out)["resumed"], json.loads(out)["solved"]) == (kept, 60 - kept)
    assert counts(db, "SELECT COUNT(DISTINCT problem_id || strategy) FROM results") == [(60,)]


def test_batch_takes_the_stop_rule_and_records_it(tmp_path: Path) -> None:
    model = register_script("cli-stop-rule", add)
    config, data = write_config(tmp_path, model), write_dataset(tmp_path, 2)
    store = str(tmp_path / "rule.db")
    result = CliRunner().invoke(app, ["batch", str(data), "-s", "self-consistency", "-n", "8",
                                      "--stop-rule", "conservative", "--stop-threshold", "0.9",
                                      "--run", "rule", "--config", str(config), "--store", store])
    assert result.exit_code == 0, result.output
    db = sqlite3.connect(store)
    [config_json] = db.execute("SELECT config FROM runs WHERE name = 'rule'").fetchone()
    options = json.loads(config_json)["options"]
    assert options["stop_rule"] == "conservative" and options["stop_threshold"] == 0.9
    bad = CliRunner().invoke(app, ["batch", str(data), "--stop-rule", "eager", "--config",
                                   str(config), "--store", store])
    assert bad.exit_code == 2 and "'eager' is not one of 'adaptive', 'conservative'" in " ".join(
        re.sub(r"[│╭╮╰╯─]", " ", bad.output).split())


@pytest.mark.parametrize("name", ["demo; touch pwned", "$(touch pwned)", "it's `id` & more"])
def test_the_report_hint_quotes_the_run_name_for_a_shell(tmp_path: Path, env: dict[str, str],
                                                         name: str) -> None:
    import shlex

    done = invoke(env, "batch", str(write_dataset(tmp_path, 1)), "-s", "cot", "--run", name)
    assert done.exit_code == 0, done.output
    hint = [line for line in done.stdout.splitlines() if line.startswith("report: ")]
    assert len(hint) == 1, done.stdout
    assert shlex.split(hint[0].removeprefix("report: ")) == ["ponder", "report", name]
    pasted = subprocess.run(["sh", "-c", f"ponder() {{ printf '%s\\n' \"$@\"; }}; "
                             + hint[0].removeprefix("report: ")], cwd=tmp_path,
                            capture_output=True, text=True, timeout=30)
    assert pasted.stdout == f"report\n{name}\n" and not (tmp_path / "pwned").exists()
