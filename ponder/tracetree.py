"""Rebuild the tree of a problem's trace events from their parent ids.

The UI lays it out as a graph (``ponder.ui.graph``); ``ponder trace`` draws it in the
terminal (``ponder.cli.trace_cmd.render_tree``).
"""

from __future__ import annotations

from collections import defaultdict

from ponder.types import TraceEvent


def children(events: list[TraceEvent]) -> dict[str | None, list[TraceEvent]]:
    """Events grouped by parent id (roots under ``None``), in time order."""
    ids = {e.id for e in events}
    tree: dict[str | None, list[TraceEvent]] = defaultdict(list)
    for event in events:
        parent = event.parent_id if event.parent_id in ids else None
        tree[parent].append(event)
    return tree
