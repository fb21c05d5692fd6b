"""A problem's trace events laid out as a graph and drawn as an Apache ECharts graph series.

The layout is computed here rather than by a force simulation so the picture reads left to
right in the order things happened: the problem, then one row per branch
(reason → code → execute → verify), then the vote, more rounds if any, and the result.
Edges follow ``parent_id``; dashed edges join each branch's last step to the vote that
counted it. Pure Python: the page hands the spec to ``st.echarts_chart``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ponder.tracetree import children
from ponder.types import TraceEvent
from ponder.ui import escape

X_STEP = 140
Y_STEP = 64
NODE_W, NODE_H = 100, 40
MARGIN = 40
ASSUMED_WIDTH = 1000
SIDE = NODE_W // 2 + 12  # room for the outermost nodes' boxes

NODE_COLORS = {
    "problem": "#607d8b", "route": "#8e24aa", "plan": "#8e24aa", "reason": "#1e88e5",
    "code": "#00897b", "execute": "#fb8c00", "verify": "#9e9e9e", "vote": "#f9a825",
    "escalate": "#d81b60", "expand": "#5e35b1", "prune": "#757575", "result": "#2e7d32",
}
VERDICT_COLORS = {"verified": "#43a047", "refuted": "#e53935", "unverified": "#9e9e9e",
                  "no_answer": "#bdbdbd"}
FAILED = "#e53935"


@dataclass
class TraceNode:
    """One event placed on the canvas."""

    index: int
    event: TraceEvent
    x: float
    y: float
    branch: int | None

    @property
    def title(self) -> str:
        """A short name for pickers: ``#3 reason · branch 1``."""
        where = f" · branch {self.branch}" if self.branch is not None else ""
        return f"#{self.index + 1} {self.event.node}{where}"


@dataclass
class TraceGraph:
    """Placed nodes, parent edges and the dashed branch → vote edges."""

    nodes: list[TraceNode] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)
    flows: list[tuple[int, int]] = field(default_factory=list)

    def index_of(self, event_id: str) -> int | None:
        return next((n.index for n in self.nodes if n.event.id == event_id), None)


def branch_numbers(events: list[TraceEvent], known: dict[str, int] | None = None) -> dict[str, int]:
    """Branch id → its sample index (from the result when known, else order of appearance)."""
    numbers = dict(known or {})
    for event in events:
        if event.branch_id and event.branch_id not in numbers:
            numbers[event.branch_id] = len(numbers)
    return numbers


def _ordered(events: list[TraceEvent]) -> list[TraceEvent]:
    """Events in the order they began; ties keep the tree order (parents first)."""
    tree = children(events)
    walk: list[TraceEvent] = []

    def visit(parent: str | None) -> None:
        for event in tree.get(parent, []):
            walk.append(event)
            visit(event.id)

    visit(None)
    rank = {e.id: i for i, e in enumerate(walk)}
    return sorted(walk, key=lambda e: (e.started_at, rank[e.id]))


def layout(events: list[TraceEvent], branches: dict[str, int] | None = None) -> TraceGraph:
    """Place events in columns by what they waited for and in rows by branch.

    A branch's first step starts after the latest shared step (plan, or the previous vote);
    a shared step (vote, escalate, result) starts after every branch that ended before it.
    Edges: a branch's first step hangs from the shared step that started its round (the
    plan, or the vote that asked for more samples), later steps from the step before; a
    shared step follows the branches it waited for (dashed) or else the shared step before.
    """
    numbers = branch_numbers(events, branches)
    ordered = _ordered(events)
    position = {e.id: i for i, e in enumerate(ordered)}
    rows = {b: i for i, b in enumerate(sorted({e.branch_id for e in ordered if e.branch_id},
                                              key=lambda b: numbers[b]))}
    spine_y = (len(rows) - 1) / 2 if rows else 0.0
    column: dict[str, int] = {}
    tails: dict[str, TraceEvent] = {}  # each open branch's latest step
    spine_col = -1
    previous: TraceEvent | None = None  # the latest shared step
    graph = TraceGraph()
    for i, event in enumerate(ordered):
        parent = ordered[position[event.parent_id]] if event.parent_id in position else None
        col = column.get(parent.id, -1) + 1 if parent else 0
        if parent is None or event.branch_id is None or parent.branch_id != event.branch_id:
            col = max(col, spine_col + 1)
        if event.branch_id is None:
            done = [t for t in tails.values() if t.ended_at <= event.started_at + 1e-6]
            col = max([col, *(column[t.id] + 1 for t in done)])
            graph.flows += [(position[t.id], i) for t in done]
            tails = {b: t for b, t in tails.items() if t not in done}
            spine_col = col
        else:
            tails[event.branch_id] = event
            done = []
        column[event.id] = col
        row = rows[event.branch_id] if event.branch_id else spine_y
        graph.nodes.append(TraceNode(i, event, col * X_STEP, row * Y_STEP,
                                     numbers.get(event.branch_id or "")))
        if event.branch_id is not None and parent is not None \
                and parent.branch_id == event.branch_id:
            graph.edges.append((position[parent.id], i))  # the next step of a branch
        elif event.branch_id is not None and previous is not None:
            graph.edges.append((position[previous.id], i))  # a branch of the latest round
        elif event.branch_id is None and not done and previous is not None:
            graph.edges.append((position[previous.id], i))  # the shared steps, in order
        previous = event if event.branch_id is None else previous
    return graph


def node_text(node: TraceNode) -> str:
    """The label drawn on a node: its step and the one fact that matters most."""
    out = node.event.outputs
    head = node.event.node if node.branch is None else f"{node.event.node} b{node.branch}"
    for key in ("answer", "leader", "verdict", "status"):
        value = out.get(key)
        if value is not None and value != "":
            text = str(value)
            return f"{head}\n{text[:14] + '…' if len(text) > 15 else text}"
    return head


def node_color(event: TraceEvent) -> str:
    """Green/red for verdicts, outcomes and failed executions; a color per step otherwise."""
    out = event.outputs
    if event.node == "verify":
        return VERDICT_COLORS.get(str(out.get("verdict")), NODE_COLORS["verify"])
    if event.node == "execute" and out.get("status") not in (None, "ok"):
        return FAILED
    if event.node == "result" and out.get("correct") is False:
        return FAILED
    return NODE_COLORS.get(event.node, "#546e7a")


def tooltip(event: TraceEvent) -> str:
    """Hover text: step, duration and tokens."""
    u = event.usage
    bits = [event.node, f"{max(0.0, event.ended_at - event.started_at):.2f}s"]
    if u.total_tokens:
        bits.append(f"{u.total_tokens} tokens")
    return " · ".join(bits)


def node_size(graph: TraceGraph, height: int) -> list[int]:
    """Box size in pixels: full size when there is room, smaller so neighbours never touch.

    The chart's width is the page's, unknown here; ``ASSUMED_WIDTH`` is a typical one.
    """
    columns = len({n.x for n in graph.nodes}) or 1
    rows = len({n.y for n in graph.nodes}) or 1
    per_column = (ASSUMED_WIDTH - 2 * SIDE) / max(1, columns - 1)
    per_row = (height - 2 * MARGIN) / max(1, rows - 1) if rows > 1 else float(NODE_H)
    return [round(min(NODE_W, 0.82 * per_column)), round(min(NODE_H, 0.72 * per_row))]


def _axis(values: list[float], pad: float) -> dict[str, Any]:
    """A hidden value axis spanning ``values`` (padded when they are all equal)."""
    low, high = (min(values), max(values)) if values else (0.0, 0.0)
    if high == low:
        low, high = low - pad, high + pad
    return {"type": "value", "show": False, "min": low, "max": high, "scale": True}


def echarts_spec(graph: TraceGraph, selected: int | None = None) -> dict[str, Any]:
    """An ECharts option drawing ``graph``; nodes are selectable one at a time.

    Nodes sit on hidden cartesian axes, so boxes keep their pixel size whatever the
    chart's width (a free "view" layout stretches them). Shift+wheel zooms, dragging pans.
    """
    height = chart_height(graph)
    size = node_size(graph, height)
    data = [{
        "name": f"n{n.index}", "value": [n.x, n.y], "symbol": "roundRect", "symbolSize": size,
        "itemStyle": {"color": node_color(n.event)}, "selected": n.index == selected,
        "label": {"formatter": escape.chart_label(node_text(n) if size[0] >= 64
                                                  else n.event.node[:4]),
                  "show": size[0] >= 30,
                  "color": "#212121" if n.event.node == "vote" else "#ffffff"},
        # A string tooltip is HTML: the node's text goes in escaped, its line breaks as <br/>.
        "tooltip": {"formatter": escape.html(f"{node_text(n)}\n{tooltip(n.event)}")},
    } for n in graph.nodes]
    links = [{"source": a, "target": b} for a, b in graph.edges]
    links += [{"source": a, "target": b, "lineStyle": {"type": "dashed", "opacity": 0.45}}
              for a, b in graph.flows]
    zoom = {"type": "inside", "zoomOnMouseWheel": "shift", "moveOnMouseWheel": False,
            "moveOnMouseMove": True, "filterMode": "none"}
    return {
        "animation": False,  # redraws on every rerun; fading in each time only distracts
        "tooltip": {"trigger": "item", "renderMode": "html"},
        "grid": {"left": SIDE, "right": SIDE, "top": MARGIN, "bottom": MARGIN},
        "xAxis": _axis([n.x for n in graph.nodes], X_STEP),
        "yAxis": {**_axis([n.y for n in graph.nodes], Y_STEP), "inverse": True},
        "dataZoom": [{**zoom, "xAxisIndex": 0}, {**zoom, "yAxisIndex": 0}],
        "series": [{
            "type": "graph", "id": "trace", "coordinateSystem": "cartesian2d",
            "selectedMode": "single", "data": data, "links": links,
            "edgeSymbol": ["none", "arrow"], "edgeSymbolSize": 7,
            "label": {"show": True, "fontSize": 11, "lineHeight": 14},
            "lineStyle": {"color": "#90a4ae", "width": 1.5, "curveness": 0.08},
            "select": {"itemStyle": {"borderColor": "#111111", "borderWidth": 3}},
            "emphasis": {"focus": "adjacency"},
        }],
    }


def chart_height(graph: TraceGraph) -> int:
    """Pixels enough for every branch row at full size, within reason."""
    ys = [n.y for n in graph.nodes] or [0.0]
    return int(max(160, min(1400, max(ys) - min(ys) + Y_STEP + 2 * MARGIN)))
