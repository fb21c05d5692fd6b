"""``ponder strategies``: what the registry holds, with each strategy's roles and settings."""

from __future__ import annotations

from typing import Any

from ponder.cli.common import ConfigOpt, JsonOpt, config_for, console, print_json, text
from ponder.cli.help_text import prose


def strategies(as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """List the strategies (built-in and the config's plugins): what they do, the roles they
    need, whether they run code, and their own settings (pass them with --set KEY=VALUE)."""
    from ponder.config import SolveOptions
    from ponder.graphs.registry import for_config

    rows: list[dict[str, Any]] = []
    for spec in for_config(config_for(config)).values():
        settings = spec.settings()
        rows.append({"name": spec.name, "summary": spec.summary, "runs_code": spec.runs_code,
                     "roles": spec.roles(SolveOptions(), settings),
                     "settings": settings.model_dump(mode="json")})
    if as_json:
        print_json(rows)
        return
    from rich.padding import Padding
    from rich.text import Text

    out = console()
    for row in rows:  # prose, wrapped at the terminal's width under a hanging indent
        out.print(Text.assemble(text(row["name"], "bold"), text(f"  {prose(row['summary'])}")))
        detail = f"roles: {', '.join(row['roles'])}; runs code: {'yes' if row['runs_code'] else 'no'}"
        if row["settings"]:
            detail += "; settings: " + ", ".join(f"{k}={v}" for k, v in row["settings"].items())
        out.print(Padding(text(detail, "dim"), (0, 0, 0, 4)))
