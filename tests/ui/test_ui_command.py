"""``ponder ui``: the command line it hands to Streamlit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ponder.cli.ui_cmd import streamlit_command


def test_the_streamlit_command_runs_the_packaged_app_headless() -> None:
    import ponder.ui

    app = Path(ponder.ui.__file__).with_name("app.py")
    command = streamlit_command(app, port=8765, headless=True, config=Path("my.toml"))
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", str(app)] and app.is_file()
    flags = dict(zip(command[5:-3:2], command[6:-3:2], strict=True))
    assert flags["--server.port"] == "8765" and flags["--server.headless"] == "true"
    assert flags["--browser.gatherUsageStats"] == "false"
    assert command[-3:] == ["--", "--config", "my.toml"]
    assert "--" not in streamlit_command(app, port=1, headless=False)


def test_ui_help_names_its_options() -> None:
    done = subprocess.run([sys.executable, "-c", "from ponder.cli import main; main()", "ui",
                           "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    for option in ("--store", "--port", "--config", "--headless"):
        assert option in done.stdout
