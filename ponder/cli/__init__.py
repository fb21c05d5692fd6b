"""The ``ponder`` command line (Typer + Rich). Heavy libraries load inside commands only."""

from __future__ import annotations

import sys

import typer

from ponder.cli import batch_cmd, serve_cmd, solve_cmd, ui_cmd
from ponder.cli.sandbox_cmd import app as sandbox_app

app = typer.Typer(
    name="ponder", no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
    help="Inference-time reasoning: plan, reason, verify with code, vote.",
)
app.command("solve")(solve_cmd.solve)
app.command("models")(solve_cmd.models)
app.command("trace")(solve_cmd.trace)
app.command("batch")(batch_cmd.batch)
app.command("runs")(batch_cmd.runs)
app.command("report")(batch_cmd.report)
app.command("export")(batch_cmd.export)
app.command("ui")(ui_cmd.ui)
app.command("serve")(serve_cmd.serve)
app.add_typer(sandbox_app, name="sandbox", help="Check and use the code sandboxes.")


def main() -> None:
    """Entry point: run the app, turning ponder's own errors into one clear line."""
    from ponder.errors import PonderError

    try:
        app()
    except PonderError as exc:
        typer.secho(f"error: {exc}", err=True, fg="red")
        sys.exit(2)


if __name__ == "__main__":
    main()
