"""``ponder models``: per role, the model, whether it answers now, and what ponder uses."""

from __future__ import annotations

from typing import Annotated

import typer

from ponder.cli.common import ConfigOpt, JsonOpt, config_for, number, print_json


def models(config: ConfigOpt = None, as_json: JsonOpt = False,
           timeout: Annotated[float, typer.Option(**number(float, 0, 600, low_open=True), help=(
               "Seconds to wait for each provider."))] = 5.0,
           ) -> None:
    """Per role: the model, whether it answers now (one free model-list request), and the
    capabilities ponder will use with it."""
    from ponder.models import check_model

    cfg = config_for(config)
    statuses = [check_model(name, role, reach=True, timeout=timeout)
                for name, role in cfg.roles.items()]
    if as_json:
        print_json([s.__dict__ for s in statuses])
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table("role")
    table.add_column("model", no_wrap=True)
    for heading in ("usable", "reachable", "capabilities used", "detail"):
        table.add_column(heading)
    for s in statuses:
        table.add_row(escape(s.role), escape(s.model),
                      "[green]yes[/green]" if s.usable else "[red]no[/red]",
                      escape(s.reachable or "not checked"), escape(", ".join(s.capabilities)),
                      escape(s.detail))
    Console().print(table)
