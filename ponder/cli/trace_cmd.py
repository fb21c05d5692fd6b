"""``ponder trace``: a problem's reasoning tree, drawn in the terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ponder.cli.common import ConfigOpt, StoreOpt, config_for, console, printable, text

if TYPE_CHECKING:
    from rich.text import Text
    from rich.tree import Tree

    from ponder.types import TraceEvent


def trace(
    run: Annotated[str, typer.Argument(help="Run id or name.")],
    problem: Annotated[str | None, typer.Option(help="Problem id (default: the first).")] = None,
    store: StoreOpt = None, config: ConfigOpt = None,
) -> None:
    """Draw a problem's reasoning tree in the terminal."""
    from ponder.store import Store

    db = Store(config_for(config, store).store)
    info = db.require_run(run)
    events = db.events(info.id, problem)
    if not events:
        typer.echo(f"run {printable(info.id)} has no trace events yet")
        raise typer.Exit(1)
    console().print(render_tree(events))


def event_label(event: TraceEvent) -> Text:
    """One event on one line: step, branch, the outputs that matter, tokens and time."""
    from rich.text import Text

    out: dict[str, Any] = event.outputs
    line = Text.assemble(text(event.node, "bold"))
    if event.branch_id:
        line.append_text(Text.assemble(" ", text(event.branch_id, "dim")))
    for key in ("answer", "verdict", "status", "difficulty", "role", "to", "leader", "confidence",
                "samples_used", "stopped"):
        value = out.get(key)
        if value is not None:
            line.append_text(text(f" {key}={value:.2f}" if isinstance(value, float)
                                  else f" {key}={value}"))
    if event.usage.total_tokens:
        took = event.ended_at - event.started_at
        line.append_text(text(f" {event.usage.total_tokens} tok, {took:.2f}s", "dim"))
    return line


def render_tree(events: list[TraceEvent]) -> Tree:
    """A Rich ``Tree`` of the events of one problem (or several), children under parents."""
    from rich.tree import Tree

    from ponder.tracetree import children

    tree = children(events)
    root = Tree(text("trace", "bold"))

    def add(node: Tree, parent: str | None) -> None:
        for event in tree.get(parent, []):
            add(node.add(event_label(event)), event.id)

    add(root, None)
    return root
