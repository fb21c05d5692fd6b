"""The command line's last line of defence: ponder's errors as one line, bugs as a log file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CRASH = '''
import sys
from ponder.cli import app, main

@app.command("explode")
def explode() -> None:
    raise RuntimeError("boom \\x1b[2J")

sys.argv = ["ponder", "explode"]
main()
'''


def test_an_unexpected_error_is_logged_to_a_file_not_printed_as_a_traceback(tmp_path: Path):
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", CRASH], capture_output=True, text=True,
                          timeout=120, env=env)
    assert done.returncode == 70
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    assert "\x1b" not in done.stderr and "boom \\x1b[2J" in done.stderr
    log = Path(done.stderr.split("The traceback is in ")[1].split(";")[0])
    assert log.is_file() and log.is_relative_to(tmp_path)
    assert "Traceback" in log.read_text() and "RuntimeError: boom" in log.read_text()


def test_a_ponder_error_is_one_line_with_exit_2(tmp_path: Path):
    done = subprocess.run([sys.executable, "-m", "ponder", "solve", "2+2", "--config",
                           str(tmp_path / "missing.toml")], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
