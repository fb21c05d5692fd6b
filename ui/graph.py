"""A problem's trace events laid out as a graph and drawn as an Apache ECharts graph series.

The layout is computed here rather than by a force simulation so the picture reads left to
right in the order things happened: the problem, then one row per branch
(reason → code → execute → verify), then the vote, more rounds if any, and the result.
Edges follow ``parent_id``; dashed edges join each branch's last step to the vote that
counted it. A trace wider than the page (several rounds of sampling, an escalation) is
folded: its rounds are stacked as bands, so labels keep their size. Pure Python: the page
hands the spec to ``st.echarts_chart``.
"""

from __future__ import annotations

import colorsys
import hashlib
from dataclasses import dataclass, field
from typing import Any

from ponder.agents import labels
from ponder.tracetree import children
from ponder.types import TraceEvent
from ponder.ui import escape

X_STEP = 140
Y_STEP = 64
NODE_W, NODE_H = 100, 40
MARGIN = 40
ASSUMED_WIDTH = 1000
SIDE = NODE_W // 2 + 12  # room for the outermost nodes' boxes
MAX_COLUMNS = 8  # what ASSUMED_WIDTH holds at full node size: the width of a folded band
FOLD_ABOVE = 11  # more columns than this and boxes get too narrow for their labels: fold
BAND_GAP = 40  # pixels between two folded bands

NODE_COLORS = dict(zip(labels.SHARED, ("#607d8b", "#8e24aa", "#8e24aa", "#1e88e5", "#00897b",
                                        "#fb8c00", "#6d4c41", "#9e9e9e", "#f9a825", "#2e7d32"),
                          strict=True))
"""Colours of the generic steps every sampling strategy shares; any other step (a
strategy's own, a user's custom node) gets :func:`step_color`'s colour from its name."""
HUES = ((0.05, 0.24), (0.44, 0.94))  # where hashed colours may fall: no red, no green
HUE_SPLIT = (HUES[0][1] - HUES[0][0]) / (HUES[0][1] - HUES[0][0] + HUES[1][1] - HUES[1][0])
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


def step_color(node: str) -> str:
    """A step's colour: the palette's for generic steps, else a stable one hashed from its
    name (mid lightness, so white labels stay readable)."""
    if node in NODE_COLORS:
        return NODE_COLORS[node]
    digest = hashlib.sha256(node.encode("utf-8")).digest()
    share = int.from_bytes(digest[:2], "big") / 65536
    # Hues off the reds and greens, which mean refuted/failed and verified/correct here.
    low, high = HUES
    hue = low[0] + share * (low[1] - low[0]) if share < HUE_SPLIT \
        else high[0] + (share - HUE_SPLIT) / (1 - HUE_SPLIT) * (high[1] - high[0])
    red, green, blue = colorsys.hls_to_rgb(hue, 0.38 + digest[2] / 255 * 0.08, 0.6)
    return "#{:02x}{:02x}{:02x}".format(*(round(255 * c) for c in (red, green, blue)))


def layout(events: list[TraceEvent], branches: dict[str, int] | None = None,
           fold_above: int | None = FOLD_ABOVE) -> TraceGraph:
    """Place events in columns by what they waited for and in rows by branch.

    A trace of more than ``fold_above`` columns is folded into bands (:func:`fold`).
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
    if fold_above is not None and len({n.x for n in graph.nodes}) > fold_above:
        return fold(graph)
    return graph


def _segments(graph: TraceGraph) -> list[list[float]]:
    """The graph's columns cut after each step that closed a round (a vote its branches
    flowed into): every round stays whole."""
    ends = {graph.nodes[b].x for _, b in graph.flows}
    segments: list[list[float]] = [[]]
    for x in sorted({n.x for n in graph.nodes}):
        segments[-1].append(x)
        if x in ends:
            segments.append([])
    return [s for s in segments if s]


def fold(graph: TraceGraph, max_columns: int = MAX_COLUMNS) -> TraceGraph:
    """Stack the rounds of a wide trace as bands, read like lines of text.

    Whole rounds are packed into a band while it holds ``max_columns`` columns (a longer
    round, or a chain of shared steps such as a search's, wraps); each band
    has rows only for the branches that ran in it, its shared steps centred between them.
    Nodes keep their index, edges and flows; only positions change.
    """
    bands: list[list[float]] = []
    chunks = [segment[i:i + max_columns] for segment in _segments(graph)  # a long chain wraps
              for i in range(0, len(segment), max_columns)]
    for segment in chunks:
        if bands and len(bands[-1]) + len(segment) <= max_columns:
            bands[-1] += segment
        else:
            bands.append(list(segment))
    top = 0.0
    for band in bands:
        start, members = band[0], [n for n in graph.nodes if n.x in set(band)]
        rows = sorted({n.y for n in members if n.branch is not None})
        spine = top + (len(rows) - 1) / 2 * Y_STEP if rows else top
        for n in members:
            y = top + rows.index(n.y) * Y_STEP if n.branch is not None else spine
            n.x, n.y = (n.x - start), y
        top += max(1, len(rows)) * Y_STEP + BAND_GAP
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
    if event.node == labels.VERIFY:
        return VERDICT_COLORS.get(str(out.get("verdict")), step_color(labels.VERIFY))
    if event.node == labels.EXECUTE and out.get("status") not in (None, "ok"):
        return FAILED
    if event.node == labels.RESULT and out.get("correct") is False:
        return FAILED
    return step_color(event.node)


def step_kind(event: TraceEvent) -> str:
    """What a step's colour means, for a legend: ``verify: refuted``, ``execute: timeout``,
    ``result: wrong``, else the step's name (the graph and the timeline share these)."""
    out = event.outputs
    if event.node == labels.VERIFY and str(out.get("verdict")) in VERDICT_COLORS:
        return f"verify: {out.get('verdict')}"
    if event.node == labels.EXECUTE and out.get("status") not in (None, "ok"):
        return f"execute: {out.get('status')}"
    if event.node == labels.RESULT and out.get("correct") is False:
        return "result: wrong"
    return event.node


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
                  "color": "#212121" if n.event.node == labels.VOTE else "#ffffff"},
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
