"""A search's candidates rebuilt as a tree from its trace events (the shapes beam records)."""

from __future__ import annotations

from ponder.types import TraceEvent, Usage
from ponder.ui import search_tree


def ev(node: str, at: float, **outputs: object) -> TraceEvent:
    return TraceEvent(run_id="r", problem_id="p", strategy="beam", node=node, started_at=at,
                      ended_at=at + 0.5, outputs=dict(outputs),
                      usage=Usage(prompt_tokens=100, calls=2) if node == "expand" else Usage())


def beam_trace() -> list[TraceEvent]:
    """Two rounds as beam records them: round one keeps two of three lines; round two
    finishes two programs (one twice: duplicates happen) and one fails, which is dropped."""
    a, b, c = "x = 12 * 5\n", "y = 12 + 5\n", "z = 0\n"
    return [
        ev("problem", 0),
        ev("expand", 1, candidates=[{"code": a, "score": -0.2890266190423129},
                                    {"code": b, "score": -0.5194668004286787},
                                    {"code": c, "score": -1.9}]),
        ev("prune", 2, kept=[{"code": a, "score": -0.289, "answer": None},
                             {"code": b, "score": -0.519, "answer": None}]),
        ev("expand", 3, candidates=[{"code": a + "print(x)\n", "score": -0.19416054333},
                                    {"code": a + "print(x)\n", "score": -0.19416054333},
                                    {"code": b + "print(q)\n", "score": -0.4}]),
        ev("prune", 4, kept=[{"code": a + "print(x)\n", "score": -0.194, "answer": "60"},
                             {"code": a + "print(x)\n", "score": -0.194, "answer": "60"}]),
        ev("vote", 5, leader="60"),
    ]


def test_candidates_form_a_tree_with_pruned_and_finished_ones() -> None:
    tree = search_tree.build(beam_trace())
    by_line = {}
    for n in tree.nodes:
        by_line.setdefault(n.line, []).append(n)
    root = tree.nodes[0]
    assert root.status == "root" and len(tree.nodes) == 7
    (x,), (y,), (z,) = by_line["x = 12 * 5"], by_line["y = 12 + 5"], by_line["z = 0"]
    assert (x.parent, y.parent, z.parent) == (0, 0, 0)
    assert (x.status, y.status, z.status) == ("kept", "kept", "pruned")
    finished = by_line["print(x)"]
    assert [n.parent for n in finished] == [x.index, x.index]
    assert [(n.status, n.answer) for n in finished] == [("finished", "60")] * 2
    (failed,) = by_line["print(q)"]
    assert failed.parent == y.index and failed.status == "pruned"
    # Scores read rounded; a finished program shows its answer; pruned ones say so.
    assert x.label == "x = 12 * 5\n-0.29"
    assert finished[0].label == "print(x)\n→ 60 · -0.19"
    assert z.label == "z = 0\npruned · -1.90"


def test_the_tree_is_drawn_left_to_right_with_pruned_candidates_greyed() -> None:
    tree = search_tree.build(beam_trace())
    spec = search_tree.echarts_spec(tree)
    data = spec["series"][0]["data"]
    colors = {n.status: data[n.index]["itemStyle"]["color"] for n in tree.nodes}
    assert colors["pruned"] == search_tree.COLORS["pruned"] != colors["finished"]
    assert len(spec["series"][0]["links"]) == len(tree.nodes) - 1
    depth_x = {n.depth: n.x for n in tree.nodes}
    assert depth_x[0] < depth_x[1] < depth_x[2]
    ys = [n.y for n in tree.nodes if n.depth == 2]
    assert len(set(ys)) == len(ys), "siblings never overlap"
    # Hover shows the whole program so far, escaped as HTML.
    tip = data[tree.finished[0].index]["tooltip"]["formatter"]
    assert "answer 60" in tip and "x = 12 * 5<br/>print(x)" in tip


def test_a_trace_without_candidates_has_no_tree() -> None:
    assert search_tree.build([ev("problem", 0), ev("vote", 1, leader="5")]).nodes == []


def test_a_judge_scored_search_says_its_scores_are_the_judges() -> None:
    """With beam_scorer=judge the proposals carry no score until the judge has read them; the
    tree takes the score each survivor was ranked by and names it as the judge's."""
    a, b = "x = 12 * 5\n", "y = 12 + 5\n"
    events = [
        ev("expand", 1, candidates=[{"code": a, "score": None}, {"code": b, "score": None}]),
        ev("prune", 2, scorer="judge", kept=[{"code": a, "score": -0.1, "answer": None,
                                              "judge": -0.1}]),
    ]
    tree = search_tree.build(events)
    assert tree.scorer == "judge"
    kept = next(n for n in tree.nodes if n.line == "x = 12 * 5")
    pruned = next(n for n in tree.nodes if n.line == "y = 12 + 5")
    assert kept.score == -0.1 and pruned.score is None
    assert search_tree.tooltip(kept, tree.scorer).startswith("open · judge log-score -0.100 (p ≈ 0.90)")
    assert search_tree.tooltip(pruned, tree.scorer).startswith("pruned · no score")
    assert search_tree.build(beam_trace()).scorer == "logprob"  # traces that never said
    assert "mean token log-prob -0.289" in search_tree.tooltip(
        search_tree.build(beam_trace()).nodes[1])
