"""A search's candidates drawn as the tree they grew into.

A step-level search records, per round, one step whose outputs list every proposed partial
program and one whose outputs list the survivors (with the ``answer`` of each finished
program); :func:`ponder.agents.search.search_rounds` reads them back. A candidate's parent is the
survivor its code extends by one line, so the tree is rebuilt from the code alone: no node
name is assumed, only the shape of those outputs. Pruned candidates are drawn grey,
finished programs with their answer, scores rounded.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from ponder.agents.search import SCORE_MEANINGS, search_rounds, search_scorer
from ponder.types import TraceEvent
from ponder.ui import escape

X_STEP, Y_STEP = 230, 52
NODE_W, NODE_H = 200, 40
MARGIN = 30
COLORS = {"root": "#607d8b", "kept": "#1e88e5", "finished": "#2e7d32", "pruned": "#cfd8dc",
          "open": "#90caf9"}


@dataclass(eq=False)  # candidates are told apart by identity: two can share their code
class Candidate:
    """One partial program the search proposed."""

    index: int
    code: str
    depth: int
    score: float | None
    parent: int | None
    status: str = "open"  # root, kept, finished, pruned, open (never pruned nor expanded)
    answer: str | None = None
    x: float = 0.0
    y: float = 0.0

    @property
    def line(self) -> str:
        """The line this candidate added (its last)."""
        lines = self.code.rstrip("\n").split("\n")
        return lines[-1] if self.code else "(start)"

    @property
    def label(self) -> str:
        """``pages = 12 * 5`` / ``-0.29`` or ``→ 60 · -0.19`` for a finished program."""
        line = self.line if len(self.line) <= 26 else self.line[:25] + "…"
        if self.score is None:
            return line
        facts = f"{self.score:.2f}"
        if self.status == "finished":
            facts = f"→ {self.answer} · {facts}"
        elif self.status == "pruned":
            facts = f"pruned · {facts}"
        return f"{line}\n{facts}"


@dataclass
class SearchTree:
    """Every candidate, parents first."""

    nodes: list[Candidate] = field(default_factory=list)
    scorer: str = "logprob"  # what a score means: see ponder.agents.search.SCORE_MEANINGS

    @property
    def finished(self) -> list[Candidate]:
        return [n for n in self.nodes if n.status == "finished"]


def _score(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def build(events: list[TraceEvent]) -> SearchTree:
    """The tree of candidates a search's trace events describe (empty for other traces)."""
    tree = SearchTree(scorer=search_scorer(events))
    rounds = search_rounds(events)
    if not rounds:
        return tree
    tree.nodes.append(Candidate(0, "", 0, None, None, status="root"))
    alive: list[Candidate] = [tree.nodes[0]]  # what the last prune kept
    for depth, (proposed, kept) in enumerate(rounds, start=1):
        carried = Counter(n.code for n in alive if n.status == "finished")
        present: list[Candidate] = []
        for item in proposed:
            code = str(item.get("code") or "")
            old = next((n for n in alive if n.code == code and n not in present), None)
            if carried[code] and old is not None:  # a finished program waiting in the beam
                carried[code] -= 1
                present.append(old)
                continue
            stem = code.rstrip("\n").rpartition("\n")[0]
            stem = stem + "\n" if stem else ""
            parent = next((n for n in alive if n.code == stem), tree.nodes[0])
            node = Candidate(len(tree.nodes), code, depth, _score(item.get("score")),
                             parent.index)
            tree.nodes.append(node)
            present.append(node)
        survivors = Counter(str(k.get("code") or "") for k in kept)
        answers = {str(k.get("code") or ""): k.get("answer") for k in kept}
        # The score a survivor was ranked by (a judge scores candidates after they are proposed).
        ranked_by = {str(k.get("code") or ""): _score(k.get("score")) for k in kept}
        alive = []
        for node in present:
            if survivors[node.code]:
                survivors[node.code] -= 1
                answer = answers.get(node.code)
                if ranked_by.get(node.code) is not None:
                    node.score = ranked_by[node.code]
                node.status, node.answer = ("finished", str(answer)) if answer is not None \
                    else ("kept", None)
                alive.append(node)
            else:
                node.status = "pruned"
        if not kept:  # the last round was proposed but never pruned
            for node in present:
                node.status = "open"
    for n in tree.nodes:
        if n.status == "kept" and not any(c.parent == n.index for c in tree.nodes):
            n.status = "open"  # kept, but the search stopped before extending it
    _place(tree)
    return tree


def _place(tree: SearchTree) -> None:
    """Columns by depth; leaves one row each in depth-first order, parents centred."""
    kids: dict[int, list[Candidate]] = {}
    for n in tree.nodes:
        if n.parent is not None:
            kids.setdefault(n.parent, []).append(n)
    row = 0

    def visit(node: Candidate) -> float:
        nonlocal row
        node.x = node.depth * X_STEP
        mine = [visit(c) for c in kids.get(node.index, [])]
        if mine:
            node.y = sum(mine) / len(mine)
        else:
            node.y, row = row * Y_STEP, row + 1
        return node.y

    visit(tree.nodes[0])


def height(tree: SearchTree) -> int:
    ys = [n.y for n in tree.nodes] or [0.0]
    return int(max(160, max(ys) - min(ys) + Y_STEP + 2 * MARGIN))


def tooltip(node: Candidate, scorer: str = "logprob") -> str:
    """The whole program so far, its score said as what it is (and the probability a
    log-score means)."""
    if node.score is None:
        if node.parent is not None:
            return f"{node.status} · no score\n{node.code}"
        return "the empty program the search started from"
    chance = f" (p ≈ {math.exp(node.score):.2f})" if scorer != "sum" else ""
    what = {"logprob": "mean token log-prob", "judge": "judge log-score",
            "sum": "log-prob + judge log-score"}.get(scorer, "score")
    head = f"{node.status} · {what} {node.score:.3f}{chance}"
    if node.answer is not None:
        head += f" · answer {node.answer}"
    return f"{head}\n{node.code}"


def echarts_spec(tree: SearchTree, selected: int | None = None) -> dict[str, Any]:
    """The tree as an ECharts graph on hidden axes (boxes keep their size)."""
    xs, ys = [n.x for n in tree.nodes], [n.y for n in tree.nodes]
    data = [{
        "name": f"c{n.index}", "value": [n.x, n.y], "symbol": "roundRect",
        "symbolSize": [NODE_W, NODE_H], "selected": n.index == selected,
        "itemStyle": {"color": COLORS[n.status],
                      **({"borderColor": "#1b5e20", "borderWidth": 2}
                         if n.status == "finished" else {})},
        "label": {"formatter": escape.chart_label(n.label),
                  "color": "#546e7a" if n.status in ("pruned", "open") else "#ffffff"},
        "tooltip": {"formatter": escape.html(tooltip(n, tree.scorer))},
    } for n in tree.nodes]
    links = [{"source": n.parent, "target": n.index,
              **({"lineStyle": {"opacity": 0.35}} if n.status == "pruned" else {})}
             for n in tree.nodes if n.parent is not None]
    pad = NODE_W / 2 + 8
    return {
        "animation": False,
        "tooltip": {"trigger": "item", "renderMode": "html"},
        "grid": {"left": pad, "right": pad, "top": MARGIN, "bottom": MARGIN},
        "xAxis": {"type": "value", "show": False, "min": min(xs), "max": max(max(xs), 1)},
        "yAxis": {"type": "value", "show": False, "inverse": True, "min": min(ys),
                  "max": max(max(ys), min(ys) + 1)},
        "series": [{
            "type": "graph", "id": "search", "coordinateSystem": "cartesian2d",
            "selectedMode": "single", "data": data, "links": links,
            "edgeSymbol": ["none", "arrow"], "edgeSymbolSize": 6,
            "label": {"show": True, "fontSize": 11, "lineHeight": 14,
                      "fontFamily": "monospace"},
            "lineStyle": {"color": "#90a4ae", "width": 1.5},
            "select": {"itemStyle": {"borderColor": "#111111", "borderWidth": 3}},
        }],
    }


def _on_select(chart_key: str, pick_key: str) -> None:
    state: Any = st.session_state.get(chart_key)
    chosen = state.selection.selected if state else []
    picked = [i for group in chosen for i in group.get("data_indices", [])]
    if picked:
        st.session_state[pick_key] = picked[0]


def show(events: list[TraceEvent], *, key: str) -> None:
    """The search tree and the program of the candidate a reader clicks."""
    tree = build(events)
    if len(tree.nodes) < 2:
        return
    chart_key, pick_key = f"{key}_tree", f"{key}_candidate"
    if st.session_state.get(pick_key) not in range(len(tree.nodes)):
        done = tree.finished
        st.session_state[pick_key] = done[0].index if done else 0
    pruned = sum(n.status == "pruned" for n in tree.nodes)
    st.subheader("Search tree")
    st.caption(f"{len(tree.nodes) - 1} candidates over {max(n.depth for n in tree.nodes)} "
               f"rounds · {pruned} pruned (grey) · {len(tree.finished)} finished programs "
               f"(green, with their answer). Score: {SCORE_MEANINGS.get(tree.scorer, tree.scorer)}. "
               "Click a candidate to read its program.")
    st.echarts_chart(echarts_spec(tree, st.session_state[pick_key]), key=chart_key,
                     on_select=lambda: _on_select(chart_key, pick_key), height=height(tree))
    node = tree.nodes[st.session_state[pick_key]]
    st.markdown(f"**Candidate** · {escape.markdown(tooltip(node, tree.scorer).splitlines()[0])}")
    if node.code:
        st.code(node.code, language="python")
