"""Options and helpers shared by the commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

StoreOpt = Annotated[Path | None, typer.Option(
    "--store", envvar="PONDER_STORE", help="SQLite store (default: the user data directory).")]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="A ponder.toml (default: ./ponder.toml if present).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]


def config_for(config: Path | None, store: Path | None = None, **overrides: Any) -> Any:
    """Load the configuration at the edge, with CLI flags taking precedence."""
    from ponder.config import load_config

    return load_config(config, store=store, **overrides)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))
