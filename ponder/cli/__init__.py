"""The ``ponder`` command line (Typer + Rich), a front end. Heavy libraries load inside
commands only; one module per command (``<command>_cmd.py``), the flags several
commands share in ``common.py``. May import every layer below and the other front ends it starts (the server,
the UI); nothing imports it but ``python -m ponder``."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import typer

from ponder.cli import (annotate_cmd, batch_cmd, distill_cmd, export_cmd, models_cmd,
                        report_cmd, runs_cmd, serve_cmd, solve_cmd, strategies_cmd, trace_cmd,
                        ui_cmd)
from ponder.cli.help_text import ProseGroup
from ponder.cli.sandbox_cmd import app as sandbox_app
from ponder.cli.store_cmd import app as store_app

app = typer.Typer(
    name="ponder", cls=ProseGroup, no_args_is_help=True, add_completion=False,
    pretty_exceptions_enable=False,
    help="Inference-time reasoning: plan, reason, verify with code, vote.",
)
app.command("solve")(solve_cmd.solve)
app.command("models")(models_cmd.models)
app.command("strategies")(strategies_cmd.strategies)
app.command("trace")(trace_cmd.trace)
app.command("batch")(batch_cmd.batch)
app.command("runs")(runs_cmd.runs)
app.command("report")(report_cmd.report)
app.command("export")(export_cmd.export)
app.command("annotate")(annotate_cmd.annotate)
app.command("distill")(distill_cmd.distill)
app.command("ui")(ui_cmd.ui)
app.command("serve")(serve_cmd.serve)
app.add_typer(sandbox_app, name="sandbox", help="Check and use the code sandboxes.")
app.add_typer(store_app, name="store", help="Copy runs between stores; check a store.")


def main() -> None:
    """Entry point: run the app, turning ponder's own errors into one clear line.

    Anything else is a bug in ponder: its traceback goes to a log file, never the terminal,
    and the user is told where it is.
    """
    from ponder.cli.common import printable, undecodable_argument
    from ponder.errors import PonderError

    if problem := undecodable_argument(sys.argv[1:]):
        typer.secho(f"error: {problem}", err=True, fg="red")
        sys.exit(2)  # before any command runs: nothing is created
    try:
        app()
    except PonderError as exc:
        typer.secho(f"error: {printable(exc)}", err=True, fg="red")
        sys.exit(2)
    except KeyboardInterrupt:
        typer.secho("interrupted", err=True, fg="yellow")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        _crashed(exc)


def _crashed(exc: BaseException) -> NoReturn:
    """The last line of defence: a bug's traceback goes to a log file, the user gets where."""
    from ponder.cli.common import printable

    where = _log_crash()
    typer.secho(f"ponder failed unexpectedly: {type(exc).__name__}: {printable(exc)}\n"
                f"The traceback is in {where}; please include it in a bug report.",
                err=True, fg="red")
    sys.exit(70)


def _log_crash() -> str:
    """Write the current exception's traceback to a timestamped file; return its path."""
    import tempfile
    import time
    import traceback
    from pathlib import Path

    from platformdirs import user_log_dir

    text = f"ponder {' '.join(sys.argv[1:])}\n\n{traceback.format_exc()}"
    for folder in (Path(user_log_dir("ponder", appauthor=False)), Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
            path.write_text(text, encoding="utf-8", errors="backslashreplace")
            return str(path)
        except OSError:
            continue
    return "(no writable log folder)"


if __name__ == "__main__":
    main()
