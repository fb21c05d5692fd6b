"""Rebuild the tree of a problem's trace events (for the terminal and the UI)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ponder.types import TraceEvent


def children(events: list[TraceEvent]) -> dict[str | None, list[TraceEvent]]:
    """Events grouped by parent id (roots under ``None``), in time order."""
    ids = {e.id for e in events}
    tree: dict[str | None, list[TraceEvent]] = defaultdict(list)
    for event in events:
        parent = event.parent_id if event.parent_id in ids else None
        tree[parent].append(event)
    return tree


def label(event: TraceEvent) -> str:
    """A one-line summary of an event."""
    out: dict[str, Any] = event.outputs
    u = event.usage
    bits = [f"[bold]{event.node}[/bold]"]
    if event.branch_id:
        bits.append(f"[dim]{event.branch_id}[/dim]")
    for key in ("answer", "verdict", "status", "difficulty", "role", "to", "leader", "confidence",
                "samples_used", "stopped"):
        if out.get(key) is not None:
            value = out[key]
            bits.append(f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}")
    if u.total_tokens:
        bits.append(f"[dim]{u.total_tokens} tok, {event.ended_at - event.started_at:.2f}s[/dim]")
    return " ".join(bits)


def render_tree(events: list[TraceEvent]) -> Any:
    """A Rich ``Tree`` of the events of one problem (or several)."""
    from rich.tree import Tree

    tree = children(events)
    root = Tree("[bold]trace[/bold]")

    def add(node: Any, parent: str | None) -> None:
        for event in tree.get(parent, []):
            add(node.add(label(event)), event.id)

    add(root, None)
    return root
