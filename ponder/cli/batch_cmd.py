"""``ponder batch``, ``ponder runs``, ``ponder report`` and ``ponder export`` (being written)."""

from __future__ import annotations

import typer


def batch() -> None:
    """Solve every problem of a dataset."""
    raise typer.Exit(2)


def runs() -> None:
    """List runs."""
    raise typer.Exit(2)


def report() -> None:
    """Report a run."""
    raise typer.Exit(2)


def export() -> None:
    """Export a run."""
    raise typer.Exit(2)
