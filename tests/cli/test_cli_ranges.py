"""Every option states its range: a value outside it is a usage error (exit 2, one line naming
the option and what it takes), never "ponder failed unexpectedly"; inputs read from files are
capped; arguments that are not UTF-8 are refused before anything runs."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ponder.cli import batch_cmd, export_cmd, report_cmd
from ponder.scripted import register_script


def echo(messages: list[dict[str, str]], index: int) -> str:
    return "Answer: 42"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    model = register_script("ranges-echo", echo)
    path = tmp_path / "ponder.toml"
    path.write_text(f'[roles.reasoner]\nmodel = "{model}"\n[roles.standard]\nmodel = "{model}"\n')
    return path


def ponder(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """The real entry point in process: exit code and stderr, box drawing folded away."""
    from ponder.cli import main

    monkeypatch.setattr(sys, "argv", ["ponder", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    err = capsys.readouterr().err
    return code, " ".join(re.sub(r"[│╭╮╰╯─]", " ", err).split())


HUGE = "99999999999999999999"
CASES = [
    (["solve", "q", "--samples", "300"], "'--samples' / '-n': 300 is not in the range 1<=x<=256"),
    (["solve", "q", "--budget-usd", "nan"], "'--budget-usd': nan is not a finite number in the range x>0"),
    (["solve", "q", "--budget-usd", "-1"], "'--budget-usd': -1 is not in the range x>0"),
    (["solve", "q", "--budget-usd", "inf"], "'--budget-usd': inf is not a finite number"),
    (["solve", "q", "--budget-tokens", "0"], "'--budget-tokens': 0 is not in the range 1<=x<="),
    (["solve", "q", "--stop-threshold", "nan"], "'--stop-threshold': nan is not a finite number in the range 0.5<=x<=1.0"),
    (["solve", "q", "--stop-rule", "weird"], "'--stop-rule': 'weird' is not one of 'adaptive', 'conservative'"),
    (["solve", "q", "--seed", HUGE], f"'--seed': {HUGE} is not in the range 0<=x<=2147483647"),
    (["batch", "d.jsonl", "--concurrency", "5000"], "'--concurrency' / '-c': 5000 is not in the range 1<=x<=256"),
    (["batch", "d.jsonl", "--limit", HUGE], f"'--limit': {HUGE} is not in the range 1<=x<=1000000000"),
    (["batch", "d.jsonl", "--run-budget-usd", "nan"], "'--run-budget-usd': nan is not a finite number"),
    (["batch", "d.jsonl", "--run-budget-tokens", "-3"], "'--run-budget-tokens': -3 is not in the range"),
    (["batch", "d.jsonl", "--kind", "poetry"], "'--kind': 'poetry' is not one of 'math', 'code', 'choice', 'text'"),
    (["batch", "d.jsonl", "--dataset-format", "xml"], "'--dataset-format': 'xml' is not one of 'auto'"),
    (["runs", "--limit", HUGE], f"'--limit': {HUGE} is not in the range 1<=x<=1000000000"),
    (["report", "r", "--format", "xml"], "'--format' / '-f': 'xml' is not one of 'md', 'json', 'csv'"),
    (["export", "r", "--format", "parquet"], "'--format' / '-f': 'parquet' is not one of 'sft'"),
    (["models", "--timeout", "-1"], "'--timeout': -1 is not in the range 0<x<=600"),
    (["models", "--timeout", "nan"], "'--timeout': nan is not a finite number in the range 0<x<=600"),
    (["sandbox", "run", "f.py", "--timeout", "nan"], "'--timeout': nan is not a finite number in the range 0<x<=600"),
    (["ui", "--port", "0"], "'--port': 0 is not in the range 1<=x<=65535"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "expected"), CASES, ids=lambda v: " ".join(v)[:40] if isinstance(v, list) else None)
def test_out_of_range_values_are_usage_errors_naming_the_option_and_range(
        tmp_path: Path, monkeypatch, capsys, config: Path, args: list[str], expected: str) -> None:
    monkeypatch.chdir(tmp_path)
    Path("d.jsonl").write_text('{"question": "1 + 1?", "answer": "2"}\n')
    Path("f.py").write_text("print(1)\n")
    code, err = ponder(monkeypatch, capsys, *args, *(["--store", str(tmp_path / "s.db")]
                                                    if args[0] not in ("sandbox", "models") else []))
    assert code == 2, err
    assert "failed unexpectedly" not in err and "Traceback" not in err and "pydantic" not in err
    option, _, message = expected.partition(": ")
    assert f"Invalid value for {option}: " in err and message in err, err
    assert not (tmp_path / "s.db").exists()  # refused before any run


def test_the_choices_the_cli_spells_are_the_ones_the_library_has() -> None:
    from ponder.eval.datasets import FORMATS
    from ponder.eval.export import EXPORT_FORMATS
    from ponder.eval.report import REPORT_FORMATS

    from typing import get_args

    assert get_args(batch_cmd.DatasetFormat) == FORMATS
    assert get_args(export_cmd.ExportFormat) == EXPORT_FORMATS
    assert get_args(report_cmd.ReportFormat) == REPORT_FORMATS


def test_a_binary_config_file_is_one_clear_line(tmp_path: Path, monkeypatch, capsys) -> None:
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    code, err = ponder(monkeypatch, capsys, "strategies", "--config", str(binary))
    assert code == 2 and "failed unexpectedly" not in err
    assert f"error: config file {binary} is not UTF-8 text (byte 0x" in err, err


def test_a_huge_config_file_is_refused_without_reading_it_whole(tmp_path: Path, monkeypatch,
                                                                capsys) -> None:
    big = tmp_path / "big.toml"
    big.write_text("# padding\n" * 200_000)
    code, err = ponder(monkeypatch, capsys, "strategies", "--config", str(big))
    assert code == 2 and f"config file {big} is larger than 1 MiB" in err, err
    code, err = ponder(monkeypatch, capsys, "strategies", "--config", "/dev/zero")
    assert code == 2 and "config file /dev/zero is larger than 1 MiB" in err, err


def test_config_validation_errors_are_one_line_per_field_with_file_and_key(
        tmp_path: Path, monkeypatch, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("samples = 300\nconcurrency = 0\n[sandbox]\ntimeout_s = 9999\n"
                   '[roles.reasoner]\nmodel = "gpt-4o"\ntemperature = 5\n')
    monkeypatch.setenv("PONDER_STRATEGY", "cot")
    code, err = ponder(monkeypatch, capsys, "strategies", "--config", str(bad))
    assert code == 2
    from ponder.config import load_config
    from ponder.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        load_config(bad)
    lines = str(info.value).splitlines()
    assert lines[0] == "invalid configuration (5 problems):"
    assert sorted(line.split(": ", 2)[1] for line in lines[1:]) == [
        "concurrency", "roles.reasoner.model", "roles.reasoner.temperature", "samples",
        "sandbox.timeout_s"]
    assert all(line.startswith(f"  {bad}: ") for line in lines[1:]), lines
    assert f"  {bad}: samples: Input should be less than or equal to 256 (got 300)" in lines
    monkeypatch.setenv("PONDER_SAMPLES", "0")
    with pytest.raises(ConfigError, match=r"\n  PONDER_SAMPLES: samples: Input should be greater"):
        load_config(None)


def test_sandbox_run_reads_at_most_its_cap(tmp_path: Path, monkeypatch, capsys) -> None:
    code, err = ponder(monkeypatch, capsys, "sandbox", "run", "/dev/zero")
    assert code == 2 and "error: the program /dev/zero is larger than 1 MiB" in err, err


def test_an_argument_that_is_not_utf8_is_refused_before_a_run_is_created(tmp_path: Path) -> None:
    store = tmp_path / "s.db"
    done = subprocess.run([sys.executable, "-c", "from ponder.cli import main; main()", b"solve",
                           b"What is 6*7? \xff", b"--store", str(store).encode()],
                          capture_output=True, timeout=120, env={**os.environ, "LC_ALL": "C.UTF-8"})
    err = done.stderr.decode()
    assert done.returncode == 2, err
    assert err.startswith("error: argument 2 (What is 6*7? \\xff) is not UTF-8 text (byte 0xff)")
    assert "failed unexpectedly" not in err and not store.exists()


def test_a_store_written_in_full_is_untouched_by_a_refused_argument(tmp_path: Path) -> None:
    """A non-UTF-8 run name on a command that would write: nothing written to the store."""
    store = tmp_path / "s.db"
    from ponder.store import Store

    Store(store).close()
    before = store.read_bytes()
    done = subprocess.run([sys.executable, "-c", "from ponder.cli import main; main()", b"batch",
                           b"data.jsonl", b"--run", b"caf\xe9", b"--store", str(store).encode()],
                          capture_output=True, timeout=120)
    assert done.returncode == 2 and b"is not UTF-8 text (byte 0xe9)" in done.stderr
    assert store.read_bytes() == before
    assert sqlite3.connect(store).execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0


@pytest.mark.parametrize(("args", "expected"), [
    (["solve", "q", "--sandbox", "docker"], "unknown sandbox 'docker'; choose one of e2b, local, subprocess"),
    (["sandbox", "run", "f.py", "--sandbox", "docker"], "unknown sandbox 'docker'; choose one of"),
    (["batch", "d.jsonl", "--executor", "spark"], "error: unknown executor 'spark'; choose one of"),
    (["solve", "q", "--cache", "adir"], "error: cannot open the response cache at adir: not a regular file"),
    (["solve", "q", "--store", "adir"], "error: the store path adir is not a regular file"),
    (["runs", "--store", "/dev/null"], "error: the store path /dev/null is not a regular file"),
    (["strategies", "--config", "adir"], "error: config file adir is a directory"),
    (["ui", "--address", ""], "Invalid value for --address: '' is not a host name"),
    (["ui", "--allow-host", "a b"], "Invalid value for --allow-host: 'a b' is not a host name"),
])  # fmt: skip
def test_odd_paths_and_names_are_clear_errors(tmp_path: Path, monkeypatch, capsys, config: Path,
                                              args: list[str], expected: str) -> None:
    monkeypatch.chdir(tmp_path)
    Path("adir").mkdir()
    Path("d.jsonl").write_text('{"question": "1 + 1?", "answer": "2"}\n')
    Path("f.py").write_text("print(1)\n")
    extra = [] if "--store" in args or "--config" in args else ["--store", "s.db"]
    extra += [] if "--config" in args else ["--config", str(config)]
    code, err = ponder(monkeypatch, capsys, *args, *([] if args[0] == "sandbox" else extra))
    assert code == 2 and "failed unexpectedly" not in err and expected in err, err
