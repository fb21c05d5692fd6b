"""``ponder ui`` (being written)."""

from __future__ import annotations

import typer


def ui() -> None:
    """Open the web UI."""
    raise typer.Exit(2)
