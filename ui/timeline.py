"""A problem's steps as spans: a waterfall timeline beside a collapsible span tree.

Every trace event is a span with a start (seconds after the first step began), a duration,
tokens and cost. Branches sampled in parallel overlap on the time axis, so a reader sees
what ran concurrently; the wall time and the summed model time are shown apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import altair as alt
import pandas as pd
import streamlit as st

from ponder.agents import labels
from ponder.types import TraceEvent
from ponder.ui import escape, widgets
from ponder.ui.graph import TraceGraph, node_color, step_kind

ROW_PX = 26
TOTALS = {labels.RESULT}  # steps whose usage is the whole solve's, not their own


@dataclass(frozen=True)
class Span:
    """One step placed in time."""

    index: int
    node: str
    branch: int | None
    start: float
    end: float
    tokens: int
    cost: float
    model_s: float
    kind: str = ""  # what its colour means (graph.step_kind), shared with the step graph
    color: str = "#9e9e9e"

    @property
    def label(self) -> str:
        where = f" · b{self.branch}" if self.branch is not None else ""
        return f"#{self.index + 1} {self.node}{where}"

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


def spans(graph: TraceGraph) -> list[Span]:
    """The graph's steps as spans, in the order they began, times relative to the first."""
    if not graph.nodes:
        return []
    t0 = min(n.event.started_at for n in graph.nodes)
    return [Span(index=n.index, node=n.event.node, branch=n.branch,
                 start=n.event.started_at - t0, end=max(n.event.ended_at, n.event.started_at) - t0,
                 tokens=n.event.usage.total_tokens, cost=n.event.usage.cost_usd,
                 model_s=n.event.usage.latency_s, kind=step_kind(n.event),
                 color=node_color(n.event)) for n in graph.nodes]


def overlapping_branches(items: list[Span]) -> bool:
    """Whether two different branches ran at the same time (the fan-out was parallel)."""
    by_branch: dict[int, tuple[float, float]] = {}
    for s in items:
        if s.branch is not None:
            lo, hi = by_branch.get(s.branch, (s.start, s.end))
            by_branch[s.branch] = (min(lo, s.start), max(hi, s.end))
    ranges = sorted(by_branch.values())
    return any(b[0] < a[1] - 1e-6 for a, b in zip(ranges, ranges[1:], strict=False))


def waterfall(items: list[Span]) -> alt.Chart:
    """One bar per span on a shared time axis, rows in the order steps began."""
    frame = pd.DataFrame([{
        "span": s.label, "step": s.kind or s.node, "start (s)": round(s.start, 3),
        "end (s)": round(s.start + max(s.duration, 0.004), 3),
        "duration (s)": round(s.duration, 3), "tokens": s.tokens, "cost ($)": s.cost,
        "model time (s)": round(s.model_s, 3),
    } for s in items])
    colors = {s.kind or s.node: s.color for s in items}
    steps = sorted(colors)
    return alt.Chart(frame).mark_bar(cornerRadius=2).encode(
        x=alt.X("start (s):Q", title="seconds since the first step"),
        x2="end (s):Q",
        y=alt.Y("span:N", sort=[s.label for s in items], title=None,
                axis=alt.Axis(labelLimit=160, labelOverlap=False)),
        color=alt.Color("step:N", scale=alt.Scale(
            domain=steps, range=[colors[s] for s in steps]),
            # In rows of four under the chart: one row on top ran past its right edge.
            legend=alt.Legend(orient="bottom", title=None, columns=4, labelLimit=160)),
        tooltip=["span", "duration (s)", "start (s)", "tokens",
                 alt.Tooltip("cost ($):Q", format="$.5f"), "model time (s)"],
    )


def tree(items: list[Span], events: list[TraceEvent]) -> None:
    """Shared steps as lines; each branch a collapsible group with its steps and totals."""
    answers = {e.branch_id: e.outputs.get("answer") for e in events
               if e.branch_id and e.outputs.get("answer") is not None}
    verdicts = {e.branch_id: e.outputs.get("verdict") for e in events
                if e.branch_id and e.outputs.get("verdict")}
    ids = {}
    for e, s in zip(events, items, strict=False):
        if s.branch is not None and e.branch_id:
            ids[s.branch] = e.branch_id
    shown: set[int] = set()
    for s in items:
        if s.branch is None:
            total = " (the whole solve)" if s.node in TOTALS else ""
            st.markdown(f"`{s.start:7.2f}s` **{s.node}** · {s.duration:.2f}s"
                        + (f" · {s.tokens:,} tok{total}" if s.tokens else ""))
            continue
        if s.branch in shown:
            continue
        shown.add(s.branch)
        mine = [x for x in items if x.branch == s.branch]
        start, end = min(x.start for x in mine), max(x.end for x in mine)
        branch_id = ids.get(s.branch)
        facts = [f"{end - start:.2f}s", f"{sum(x.tokens for x in mine):,} tok"]
        if branch_id in answers:
            facts.append(f"answer {escape.markdown(answers[branch_id])}")
        if branch_id in verdicts:
            facts.append(escape.markdown(verdicts[branch_id]))
        with st.expander(f"Branch {s.branch} · from {start:.2f}s · " + " · ".join(facts)):
            for x in mine:
                st.markdown(f"`{x.start:7.2f}s` {x.node} · {x.duration:.2f}s"
                            + (f" · {x.tokens:,} tok · {widgets.dollars(x.cost)}"
                               if x.tokens else ""))


def show(events: list[TraceEvent], graph: TraceGraph) -> None:
    """The waterfall beside the span tree, with wall and summed model time labelled apart."""
    items = spans(graph)
    if not items:
        return
    st.subheader("Timeline")
    wall = max(s.end for s in items)
    model = sum(s.model_s for s in items if s.node not in TOTALS)
    parallel = overlapping_branches(items)
    st.caption(f"wall time {wall:.2f}s · model time (summed over calls) {model:.2f}s"
               + (" · branches ran in parallel (overlapping bars)" if parallel else ""))
    left, right = st.columns([3, 2])
    left.altair_chart(waterfall(items), width="stretch",
                      height=min(1400, 90 + ROW_PX * len(items)))
    with right:
        st.markdown("**Span tree**")
        tree(items, [n.event for n in graph.nodes])
