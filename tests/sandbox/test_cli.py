"""``ponder sandbox run`` and ``check``, driven as a user would: a child process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLI = [str(Path(sys.executable).with_name("ponder")), "sandbox"]  # the installed entry point
needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONDER_")}
    return subprocess.run([*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60)


def program(tmp_path: Path, source: str) -> str:
    path = tmp_path / "prog.py"
    path.write_text(source)
    return str(path)


@needs_bwrap
def test_run_json_reports_the_whole_result(tmp_path: Path) -> None:
    done = cli("run", program(tmp_path, "print('hi')\nanswer({'x': [1, 2]})\n"), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {"status", "stdout", "stderr", "truncated", "duration_s", "exit_code", "value"} <= set(result)
    assert result["status"] == "ok" and result["stdout"] == "hi\n" and result["value"] == {"x": [1, 2]}


@needs_bwrap
def test_run_human_output_passes_the_program_output_through(tmp_path: Path) -> None:
    done = cli("run", program(tmp_path, "print(6 * 7)\n"), cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout == "42\n" and "[ok]" in done.stderr


@needs_bwrap
def test_failing_program_exits_1_with_the_traceback(tmp_path: Path) -> None:
    done = cli("run", program(tmp_path, "raise ValueError('nope')\n"), "--json", cwd=tmp_path)
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["status"] == "error" and "ValueError: nope" in result["stderr"]


@needs_bwrap
def test_timeout_option_is_applied(tmp_path: Path) -> None:
    done = cli("run", program(tmp_path, "while True:\n    pass\n"), "--timeout", "1", "--json", cwd=tmp_path)
    assert done.returncode == 1
    assert json.loads(done.stdout)["status"] == "timeout"


def test_subprocess_backend_says_it_is_not_isolated(tmp_path: Path) -> None:
    done = cli("run", program(tmp_path, "answer(1)\n"), "--sandbox", "subprocess", "--json", cwd=tmp_path)
    assert done.returncode == 0
    assert json.loads(done.stdout)["value"] == 1
    assert "NOT isolate" in done.stderr


def test_config_file_pointing_at_missing_bwrap_is_a_sandbox_error(tmp_path: Path) -> None:
    config = tmp_path / "custom.toml"
    config.write_text('[sandbox]\nbwrap = "/nonexistent/bwrap"\n')
    done = cli("--config", str(config), "run", program(tmp_path, "print(1)\n"), "--json", cwd=tmp_path)
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["status"] == "sandbox_error" and "apt-get install -y bubblewrap" in result["message"]


def test_bad_config_value_is_reported(tmp_path: Path) -> None:
    done = cli("run", program(tmp_path, "print(1)\n"), "--sandbox", "docker", cwd=tmp_path)
    assert done.returncode == 2 and "sandbox.backend" in done.stderr


@needs_bwrap
def test_check_lists_every_backend(tmp_path: Path) -> None:
    done = cli("check", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    checks = {c["name"]: c for c in json.loads(done.stdout)}
    assert set(checks) == {"local", "e2b", "subprocess"}
    assert checks["local"]["ok"] and "bubblewrap" in checks["local"]["detail"]


def test_check_fails_when_the_configured_backend_cannot_run(tmp_path: Path) -> None:
    (tmp_path / "ponder.toml").write_text('[sandbox]\nbwrap = "/nonexistent/bwrap"\n')
    done = cli("check", cwd=tmp_path)
    assert done.returncode == 1
    assert "FAIL local (configured)" in done.stdout and "apt-get install -y bubblewrap" in done.stdout


@pytest.mark.parametrize("source", [b"print('\xff')\n", b"x = 1\nprint('caf\xe9')\n"])
def test_undecodable_file_is_a_clear_error(tmp_path: Path, source: bytes) -> None:
    path = tmp_path / "latin.py"
    path.write_bytes(source)
    done = cli("run", str(path), "--sandbox", "subprocess", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{path} is not valid utf-8 text (byte 0x" in done.stderr and "coding: latin-1" in done.stderr


@needs_bwrap
def test_file_with_a_coding_line_runs_in_its_encoding(tmp_path: Path) -> None:
    path = tmp_path / "latin.py"
    path.write_bytes(b"# -*- coding: latin-1 -*-\nprint('caf\xe9')\nanswer('caf\xe9')\n")
    done = cli("run", str(path), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["stdout"] == "caf\u00e9\n" and result["value"] == "caf\u00e9"
