"""``ponder report``: a run's accuracy, cost and latency per strategy."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from ponder.cli.common import ConfigOpt, OutOpt, StoreOpt, config_for, printable

# Spelled here so `ponder --help` need not import ponder.eval.report (tests/cli check they agree).
ReportFormat = Literal["md", "json", "csv"]


def report(
    run: Annotated[str, typer.Argument(metavar="RUN", help="Run name or id (`ponder runs`).")],
    fmt: Annotated[ReportFormat, typer.Option("--format", "-f", help="md, json or csv.")] = "md",
    output: OutOpt = None, store: StoreOpt = None, config: ConfigOpt = None,
) -> None:
    """Accuracy, no-answer rate, tokens, cost, latency and samples per strategy of a run."""
    from ponder.eval.report import report_text
    from ponder.store import Store

    body = report_text(Store(config_for(config, store).store), run, fmt)  # type: ignore[arg-type]
    if output:
        output.write_text(body, encoding="utf-8")
    else:  # md is read in a terminal; json and csv are data (json escapes controls itself)
        typer.echo(printable(body) if fmt == "md" else body, nl=False)
