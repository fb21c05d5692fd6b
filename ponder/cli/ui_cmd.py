"""``ponder ui``: the Streamlit trace inspector and solve page over a store."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from ponder.cli.common import ConfigOpt, StoreOpt, config_for, number, printable

LOOPBACK = "127.0.0.1"
HOSTS_ENV = "PONDER_UI_ALLOWED_HOSTS"  # read by ponder.ui.guard (the UI's process)


def is_loopback(address: str) -> bool:
    """Whether only this machine can reach ``address`` (``localhost``, 127.x, ``::1``)."""
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def exposure_warning(address: str, port: int) -> str | None:
    """What to tell a user who serves the UI beyond this machine, or None on loopback."""
    if is_loopback(address):
        return None
    return (f"warning: the UI listens on {printable(address)}:{port}, reachable from other "
            "machines, and has no login: anyone who reaches it can read every run and, on the "
            "Solve page, run models and model-written code. Bind to 127.0.0.1 (the default) "
            "and use an SSH tunnel or an authenticating proxy to reach it from elsewhere.")


def allowed_names(address: str, extra: list[str]) -> list[str]:
    """The host names the UI answers to beyond localhost and IP literals: ``--address`` when
    it is a name, and every ``--allow-host``."""
    names = [address, *extra] if not _is_ip(address) else list(extra)
    for position, name in enumerate(names):
        if not name.strip() or any(c in name for c in ",/ \t"):
            flag = "--address" if position == 0 and not _is_ip(address) else "--allow-host"
            raise typer.BadParameter(f"{printable(name)!r} is not a host name", param_hint=flag)
    return [name.strip().lower() for name in names]


def _is_ip(address: str) -> bool:
    try:
        ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return True


def streamlit_command(app: Path, *, port: int, headless: bool, address: str = LOOPBACK,
                      config: Path | None = None) -> list[str]:
    """The ``python -m streamlit run`` command line for the UI.

    The toolbar is in viewer mode: Streamlit's developer options (Deploy, rerun on save,
    clear cache) are for an app's author, not for the people reading the runs. XSRF protection
    and CORS are pinned on, whatever a Streamlit config file or variable says.
    """
    import sys

    command = [sys.executable, "-m", "streamlit", "run", str(app),
               "--server.address", address, "--server.port", str(port),
               "--server.headless", "true" if headless else "false",
               "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
               "--server.runOnSave", "false", "--client.toolbarMode", "viewer",
               "--server.enableXsrfProtection", "true", "--server.enableCORS", "true"]
    return command + (["--", "--config", str(config)] if config else [])


def ui(
    store: StoreOpt = None,
    port: Annotated[int, typer.Option("--port", **number(int, 1, 65535),
                                      help="Port to serve on.")] = 8501,
    address: Annotated[str, typer.Option("--address", help=(
        "Interface to listen on. The UI has no login and its Solve page runs models and code: "
        "keep the default unless the network is yours; 0.0.0.0 serves every interface."))
    ] = LOOPBACK,
    allow_host: Annotated[list[str] | None, typer.Option("--allow-host", metavar="NAME", help=(
        "A host name browsers may use to reach the UI besides localhost and IP addresses "
        "(repeatable). Requests naming any other host are refused: DNS-rebinding pages."))
    ] = None,
    config: ConfigOpt = None,
    headless: Annotated[bool | None, typer.Option(
        "--headless/--open-browser",
        help="Do not open a browser (default: headless unless run from a terminal).")] = None,
) -> None:
    """Open the web UI: runs, a run's accuracy and cost, each problem's trace, a solve page."""
    import os
    import sys

    import ponder.ui
    from ponder.store import redacted

    cfg = config_for(config, store)
    app = Path(ponder.ui.__file__).with_name("app.py")
    if headless is None:
        headless = not sys.stdout.isatty()
    command = streamlit_command(app, port=port, headless=headless, address=address,
                                config=config)
    env = {**os.environ, "PONDER_STORE": str(cfg.store),
           HOSTS_ENV: ",".join(allowed_names(address, allow_host or []))}
    missing = isinstance(cfg.store, Path) and not cfg.store.is_file()  # a URL: the server's
    where = " (not created yet: solve something first)" if missing else ""
    host = "localhost" if is_loopback(address) else address
    if ":" in host:
        host = f"[{host.strip('[]')}]"
    typer.echo(f"ponder ui on http://{printable(host)}:{port} · store "
               f"{printable(redacted(cfg.store))}{where}", err=True)
    warning = exposure_warning(address, port)
    if warning:
        typer.secho(warning, fg="yellow", err=True)
    if os.name == "posix":
        # Become Streamlit: signals (Ctrl-C, a supervisor's SIGTERM) reach the server directly.
        sys.stdout.flush()
        sys.stderr.flush()
        os.execve(sys.executable, command, env)
    import subprocess

    raise typer.Exit(subprocess.call(command, env=env))
