"""The trace graph's layout and ECharts spec, on hand-made traces of known shape."""

from __future__ import annotations

from ponder.types import TraceEvent
from ponder.ui.graph import chart_height, echarts_spec, layout, step_color


def step(node: str, at: float, parent: TraceEvent | None = None, branch: str | None = None,
         **outputs: object) -> TraceEvent:
    return TraceEvent(run_id="r", problem_id="p", strategy="verified", node=node,
                      branch_id=branch, parent_id=parent.id if parent else None,
                      started_at=at, ended_at=at + 0.5, outputs=dict(outputs))


def two_rounds() -> list[TraceEvent]:
    """problem → 2 branches → vote → 1 more branch → vote → result."""
    root = step("problem", 0)
    events = [root]
    for name, t0 in (("b-a", 1), ("b-b", 1.1)):
        r = step("reason", t0, root, name, answer="5")
        v = step("verify", t0 + 1, r, name, verdict="verified", answer="5")
        events += [r, v]
    vote1 = step("vote", 3, root, leader="5")
    r = step("reason", 4, root, "b-c", answer="6")
    v = step("verify", 5, r, "b-c", verdict="refuted", answer="6")
    vote2 = step("vote", 6, root, leader="5")
    return events + [vote1, r, v, vote2, step("result", 7, root, answer="5", correct=True)]


def test_columns_follow_what_each_step_waited_for() -> None:
    events = two_rounds()
    graph = layout(events, {"b-a": 0, "b-b": 1, "b-c": 2})
    col = {n.event.id: n.x for n in graph.nodes}
    by = {(n.event.node, n.event.branch_id): n for n in graph.nodes}
    assert col[by["reason", "b-a"].event.id] == col[by["reason", "b-b"].event.id] > 0
    first_vote, second_vote = [n for n in graph.nodes if n.event.node == "vote"]
    assert first_vote.x > by["verify", "b-a"].x
    assert by["reason", "b-c"].x > first_vote.x, "round two starts after the first vote"
    assert second_vote.x > by["verify", "b-c"].x
    assert by["result", None].x > second_vote.x
    assert {by["reason", b].y for b in ("b-a", "b-b", "b-c")} == {0, 64, 128}
    assert by["reason", "b-c"].branch == 2 and by["reason", "b-c"].title.endswith("branch 2")


def test_edges_join_branches_to_the_vote_that_counted_them() -> None:
    graph = layout(two_rounds())
    name = {n.index: (n.event.node, n.event.branch_id) for n in graph.nodes}
    flows = {(name[a], name[b][0]) for a, b in graph.flows}
    assert flows == {(("verify", "b-a"), "vote"), (("verify", "b-b"), "vote"),
                     (("verify", "b-c"), "vote")}
    edges = {(name[a], name[b]) for a, b in graph.edges}
    assert (("problem", None), ("reason", "b-a")) in edges
    assert (("reason", "b-c"), ("verify", "b-c")) in edges
    assert (("vote", None), ("reason", "b-c")) in edges, "round two hangs from the first vote"
    assert (("problem", None), ("reason", "b-c")) not in edges
    assert (("vote", None), ("result", None)) in edges


def test_the_spec_colors_verdicts_and_marks_the_selection() -> None:
    graph = layout(two_rounds())
    spec = echarts_spec(graph, selected=3)
    data = spec["series"][0]["data"]
    assert len(data) == len(graph.nodes) and data[3]["selected"] and not data[0]["selected"]
    colors = {n.event.outputs.get("verdict"): data[n.index]["itemStyle"]["color"]
              for n in graph.nodes if n.event.node == "verify"}
    assert colors["verified"] != colors["refuted"]
    assert data[1]["label"]["formatter"] == "reason b0\n5"
    assert len(spec["series"][0]["links"]) == len(graph.edges) + len(graph.flows)
    assert 200 <= chart_height(graph) <= 1400


def test_an_empty_or_parentless_trace_still_lays_out() -> None:
    assert layout([]).nodes == []
    orphan = step("reason", 1, None, "b-x", answer="1")
    orphan.parent_id = "missing"
    graph = layout([orphan])
    assert len(graph.nodes) == 1 and graph.edges == []


def escalated(rounds: int = 3, width: int = 4) -> list[TraceEvent]:
    """Several rounds of ``width`` branches (reason → code → execute → verify), a vote after
    each, then an escalation to the reasoning model and the result: far wider than a page."""
    root = step("problem", 0)
    events, t = [root], 1.0
    for r in range(rounds):
        for b in range(width):
            parent = root
            for node in ("reason", "code", "execute", "verify"):
                out = {"verdict": "refuted"} if node == "verify" else {"answer": str(10 + b)}
                parent = step(node, t + 0.01 * b, parent, f"b-{r}-{b}", **out)
                events.append(parent)
                t += 1
        events.append(step("vote", t, root, leader="10"))
        t += 1
    events.append(step("escalate", t, root, answer="12"))
    events.append(step("result", t + 1, root, answer="12", correct=False))
    return events


def test_a_wide_multi_round_trace_keeps_labels_branch_numbers_and_answers() -> None:
    events = escalated()
    graph = layout(events)
    spec = echarts_spec(graph)
    data = spec["series"][0]["data"]
    labels = [d["label"]["formatter"] for d in data]
    # Nothing shrinks to a four-letter stub ("reas", "exec"): every label keeps its step,
    # its branch number and its answer, and the boxes keep full size.
    assert all(d["label"]["show"] for d in data) and data[0]["symbolSize"][0] >= 90
    assert "reason b11\n13" in labels and "verify b5\nrefuted" in labels, labels
    assert "escalate\n12" in labels
    # Rounds are stacked as bands: no more columns than the page holds, each band below
    # the one before, and every edge kept.
    assert len({n.x for n in graph.nodes}) <= 8
    votes = [n for n in graph.nodes if n.event.node == "vote"]
    assert votes[0].y < votes[1].y < votes[2].y
    assert len(spec["series"][0]["links"]) == len(graph.edges) + len(graph.flows)
    # Within a band, branches keep their own rows.
    first = [n for n in graph.nodes if n.event.node == "reason" and n.branch in range(4)]
    assert len({n.y for n in first}) == 4


def test_a_narrow_trace_is_not_folded() -> None:
    graph = layout(two_rounds())
    assert len({n.x for n in graph.nodes}) == 8  # one row of columns, as before


def test_node_colours_come_from_the_step_name_not_from_a_list_of_strategies() -> None:
    from ponder.ui import graph as module

    assert "escalate" not in module.NODE_COLORS and "expand" not in module.NODE_COLORS
    colors = {name: step_color(name) for name in ("escalate", "expand", "prune", "my_node")}
    assert len(set(colors.values())) == 4  # different steps, different colours
    assert colors == {name: step_color(name) for name in colors}  # and always the same one
    assert all(c.startswith("#") and len(c) == 7 for c in colors.values())
    # A user's custom step gets its own colour in the graph, not a shared fallback grey.
    root = step("problem", 0)
    mine = step("my_node", 1, root)
    data = echarts_spec(layout([root, mine]))["series"][0]["data"]
    assert data[1]["itemStyle"]["color"] == colors["my_node"]


def test_hashed_colours_never_look_like_a_verdict() -> None:
    import colorsys

    for i in range(500):
        color = step_color(f"custom_step_{i}")
        rgb = [int(color[k:k + 2], 16) / 255 for k in (1, 3, 5)]
        hue = colorsys.rgb_to_hls(*rgb)[0]
        assert 0.04 < hue < 0.25 or 0.43 < hue < 0.95, (color, hue)  # no red, no green
