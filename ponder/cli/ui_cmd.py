"""``ponder ui``: the Streamlit trace inspector and solve page over a store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ponder.cli.common import ConfigOpt, StoreOpt, config_for


def streamlit_command(app: Path, *, port: int, headless: bool,
                      config: Path | None = None) -> list[str]:
    """The ``python -m streamlit run`` command line for the UI."""
    import sys

    command = [sys.executable, "-m", "streamlit", "run", str(app),
               "--server.port", str(port), "--server.headless", "true" if headless else "false",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
               "--server.runOnSave", "false"]
    return command + (["--", "--config", str(config)] if config else [])


def ui(
    store: StoreOpt = None,
    port: Annotated[int, typer.Option("--port", min=1, max=65535,
                                      help="Port to serve on.")] = 8501,
    config: ConfigOpt = None,
    headless: Annotated[bool | None, typer.Option(
        "--headless/--open-browser",
        help="Do not open a browser (default: headless unless run from a terminal).")] = None,
) -> None:
    """Open the web UI: runs, a run's accuracy and cost, each problem's trace, a solve page."""
    import os
    import sys

    import ponder.ui

    cfg = config_for(config, store)
    app = Path(ponder.ui.__file__).with_name("app.py")
    if headless is None:
        headless = not sys.stdout.isatty()
    command = streamlit_command(app, port=port, headless=headless, config=config)
    env = {**os.environ, "PONDER_STORE": str(cfg.store)}
    where = "" if cfg.store.is_file() else " (not created yet: solve something first)"
    typer.echo(f"ponder ui on http://localhost:{port} · store {cfg.store}{where}", err=True)
    if os.name == "posix":
        # Become Streamlit: signals (Ctrl-C, a supervisor's SIGTERM) reach the server directly.
        sys.stdout.flush()
        os.execve(sys.executable, command, env)
    import subprocess

    raise typer.Exit(subprocess.call(command, env=env))
