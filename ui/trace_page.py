"""Trace page: one problem as a graph of its steps; click a node to read it; votes; branches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import streamlit as st

from ponder.agents.labels import CODE, REASON, VOTE
from ponder.store import RunInfo
from ponder.telemetry import trace_url
from ponder.types import TraceEvent, Usage
from ponder.ui import (data, escape, feedback, outcome, panels, search_tree, timeline,
                       widgets)
from ponder.ui.graph import TraceGraph, chart_height, echarts_spec, layout


def pick_strategy(run: RunInfo) -> str | None:
    """The strategy to show when a run compared several (``?strategy=`` or a picker)."""
    wanted = st.query_params.get("strategy")
    if wanted and run.strategies and wanted not in run.strategies:
        widgets.not_found(f"Strategy {escape.markdown(wanted)} is not in run "
                          f"{escape.markdown(run.id)} (it ran "
                          f"{escape.markdown(', '.join(run.strategies))}).", run_id=run.id)
    if len(run.strategies) <= 1:
        return wanted or (run.strategies[0] if run.strategies else None)
    index = run.strategies.index(wanted) if wanted in run.strategies else 0
    chosen = st.selectbox("Strategy", run.strategies, index=index, key="trace_strategy")
    st.query_params["strategy"] = chosen
    return chosen


def pick_problem(path: str, run: RunInfo, strategy: str | None) -> str | None:
    """The problem named by ``?problem=``, else the one at a position the user picks."""
    wanted = st.query_params.get("problem")
    if wanted:
        if data.trace(path, run.id, wanted, strategy).problem is None \
                and not data.trace(path, run.id, wanted, strategy).events:
            widgets.not_found(f"Problem {escape.markdown(wanted)} is not in run "
                              f"{escape.markdown(run.id)}.", run_id=run.id)
        if st.button("Browse the run's problems", key="trace_browse"):
            del st.query_params["problem"]
            st.rerun()
        return wanted
    total, _ = data.results_page(path, run.id, strategy, None, 1, 0)
    if not total:
        return data.first_traced_problem(path, run.id)
    position = 1
    if total > 1:
        # No max_value: the range would change (and reset the input) as a batch grows.
        position = min(total, int(st.number_input(f"Problem (1–{total})", min_value=1, value=1,
                                                  step=1, key="trace_position",
                                                  on_change=_forget_step)))
    _, rows = data.results_page(path, run.id, strategy, None, 1, position - 1)
    return rows[0]["problem_id"] if rows else None


def _forget_step() -> None:
    """Another problem was picked: a ``?step=`` named a step of the one before."""
    st.query_params.pop("step", None)


def overview(trace: data.Trace, labels: list[feedback.Feedback] | None = None) -> None:
    """The question, then the outcome first: answer, verdict badge and its parts, a
    person's label, cost."""
    problem, result = trace.problem, trace.result
    if problem is not None:
        st.markdown("**Question**")
        panels.text_block(problem.question)
    if result is None:
        st.warning("No result is stored for this problem yet (still running, or the run "
                   "failed); showing the steps recorded so far.")
        return
    outcome.show(result, trace.events, feedback.of_branch(labels or [], None))


def neighbours(path: str, run: RunInfo, problem_id: str, strategy: str | None) -> None:
    """``← previous`` · problem N of M · ``next →`` in the run's problem order."""
    near = data.neighbours(path, run.id, problem_id)
    if near is None or near.total < 2:
        return
    keep = {"strategy": strategy} if strategy else {}
    with st.container(horizontal=True, gap="medium", vertical_alignment="center",
                      key="trace_neighbours"):
        if near.previous is not None:
            st.page_link("trace_page.py", label="← previous problem", query_params={
                "run": run.id, "problem": near.previous, **keep})
        st.caption(f"problem {near.position:,} of {near.total:,}")
        if near.next is not None:
            st.page_link("trace_page.py", label="next problem →", query_params={
                "run": run.id, "problem": near.next, **keep})


def step_anchor(index: int) -> str:
    """The in-page anchor of step ``#index+1`` (what a step link scrolls to)."""
    return f"step-{index + 1}"


def step_link(run_id: str, problem_id: str, strategy: str | None, index: int) -> str:
    """A relative URL that opens this trace on step ``#index+1`` and scrolls to it."""
    query = {"run": run_id, "problem": problem_id, **({"strategy": strategy} if strategy else {}),
             "step": str(index + 1)}
    return f"./trace?{urlencode(query)}#{step_anchor(index)}"


def _remember_step(node_key: str) -> None:
    """Keep the picked step in the URL (``?step=N``), so the address links to it."""
    st.query_params["step"] = str(st.session_state[node_key] + 1)


def _on_graph_select(chart_key: str, node_key: str) -> None:
    """Copy a click on a graph node into the node picker."""
    state: Any = st.session_state.get(chart_key)
    selected = state.selection.selected if state else []
    indices = [i for group in selected if group.get("data_type") in ("node", "main")
               for i in group.get("data_indices", [])]
    if indices:
        st.session_state[node_key] = indices[0]
        _remember_step(node_key)


def default_node(graph: TraceGraph) -> int:
    """Open on the first code step (the thing a reader checks), else the first step."""
    for wanted in (CODE, REASON, VOTE):
        found = [n for n in graph.nodes if n.event.node == wanted]
        if found:
            return min(found, key=lambda n: (n.branch or 0, n.index)).index
    return 0


def _linked_step(graph: TraceGraph, key: str) -> int | None:
    """The step ``?step=N`` names, the first time this page sees that link."""
    wanted = st.query_params.get("step", "")
    seen = f"{key}_linked"
    if not wanted.isdigit() or not 1 <= int(wanted) <= len(graph.nodes) \
            or st.session_state.get(seen) == wanted:
        return None
    st.session_state[seen] = wanted
    return int(wanted) - 1


def graph_section(graph: TraceGraph, key: str, link: Callable[[int], str]) -> None:
    """The trace graph, clickable, above the chosen step's details (``link``: a step's URL)."""
    node_key, chart_key = f"{key}_node", f"{key}_graph"
    linked = _linked_step(graph, key)
    if linked is not None:
        st.session_state[node_key] = linked
    elif st.session_state.get(node_key) not in range(len(graph.nodes)):
        st.session_state[node_key] = default_node(graph)
    st.subheader("Steps")
    st.echarts_chart(echarts_spec(graph, st.session_state[node_key]), key=chart_key,
                     on_select=lambda: _on_graph_select(chart_key, node_key),
                     height=chart_height(graph))
    st.caption("Click a step to read it (or pick it below); shift+scroll zooms, drag pans. "
               "Dashed lines join branches to the vote that counted them.")
    st.selectbox("Step", list(range(len(graph.nodes))), key=node_key,
                 format_func=lambda i: graph.nodes[i].title,
                 on_change=lambda: _remember_step(node_key))
    index = st.session_state[node_key]
    with st.container(border=True):
        panels.step(graph.nodes[index], graph, anchor=step_anchor(index))
        st.markdown(f"[Link to this step]({link(index)})")


def votes_section(trace: data.Trace) -> None:
    """The final vote tally (or the latest vote recorded, while a problem runs)."""
    votes: dict[str, Any] = {}
    leader = None
    if trace.result is not None and trace.result.votes:
        votes, leader = dict(trace.result.votes), trace.result.answer
    else:
        for event in reversed(trace.events):
            if event.node == VOTE and isinstance(event.outputs.get("votes"), dict):
                votes, leader = event.outputs["votes"], event.outputs.get("leader")
                break
    if votes:
        st.subheader("Votes")
        panels.vote_chart(votes, leader)


def shared_usage(events: list[TraceEvent]) -> Usage:
    """What the steps no branch owns spent (a search's expansions, a plan), not the total."""
    return Usage.total([e.usage for e in events
                        if e.branch_id is None and e.node not in timeline.TOTALS])


def main() -> None:
    crumbs = st.container()
    st.title("Trace")
    path = widgets.store_or_stop()
    run = widgets.pick_run(path, key="trace_run")
    if run is None:
        st.info("No runs yet.")
        return
    strategy = pick_strategy(run)
    problem_id = pick_problem(path, run, strategy)
    with crumbs:
        widgets.breadcrumbs(run, problem_id, strategy)
    if problem_id is None:
        st.info("This run has no traced problems yet.")
        return
    neighbours(path, run, problem_id, strategy)
    trace = data.trace(path, run.id, problem_id, strategy)
    result = trace.result
    target = (run.id, problem_id, result.strategy) if result is not None else None
    labels = data.feedback(path, *target) if target else []
    overview(trace, labels)
    viewer = trace_url(data.settings().viewer_url, trace.events)
    if viewer is not None:
        st.link_button("Open this trace in the trace viewer", viewer)
    if target is not None:
        feedback.trace_section(path, target, labels)
    if not trace.events:
        st.info("No trace events were recorded for this problem.")
        return
    known = {b.id: b.index for b in trace.result.branches} if trace.result else None
    graph = layout(trace.events, known)
    key = f"trace_{run.id}_{problem_id}_{strategy}"
    search_tree.show(trace.events, key=key)  # a search's own picture comes first
    graph_section(graph, key=key, link=lambda i: step_link(run.id, problem_id, strategy, i))
    timeline.show(trace.events, graph)
    votes_section(trace)
    if trace.result is not None and trace.result.branches:
        branches = trace.result.branches
        st.subheader("Branches side by side" if len(branches) > 1 else "Branch")
        panels.compare(trace.result, key=f"trace_cmp_{run.id}_{problem_id}",
                       shared=shared_usage(trace.events),
                       below=lambda b, side: feedback.branch_widget(path, target, labels, b,
                                                                    side) if target else None)


if __name__ == "__main__":  # Streamlit runs page files as __main__
    main()
