"""Trace outcome, branch cards, timeline, bad URLs, the batch matrix and run comparison,
over a hand-built store whose every value is known (no model runs here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ponder.store import Store
from ponder.types import Branch, ExecResult, Problem, Result, TraceEvent, Usage, Vote
from ponder.ui import escape, matrix, panels, timeline
from ponder.ui.graph import layout

from .test_pages import open_page, texts


def refuted_branch() -> Branch:
    """Defect 1: the text says 9, the program returned 8, the vote counted 8, refuted."""
    return Branch(id="b-x", index=0, model="local/gemma-3-270m", text="so the answer is 9",
                  reasoned_answer="9", answer="8", code="def answer(x):\n    return 8",
                  execution=ExecResult(status="ok", value=8), code_answer="8",
                  verdict="refuted", usage=Usage(prompt_tokens=40, completion_tokens=10,
                                                 latency_s=3.0, calls=1))


def traced(run_id: str, problem_id: str, strategy: str) -> list[TraceEvent]:
    """problem → two branches in parallel (reason 0–3 s, 0.2–3.5 s) → vote → result."""
    def ev(node: str, start: float, end: float, branch: str | None = None,
           parent: TraceEvent | None = None, **out: Any) -> TraceEvent:
        return TraceEvent(run_id=run_id, problem_id=problem_id, strategy=strategy, node=node,
                          branch_id=branch, parent_id=parent.id if parent else None,
                          started_at=1000 + start, ended_at=1000 + end, outputs=out,
                          usage=Usage(prompt_tokens=40, latency_s=end - start, calls=1)
                          if node == "reason" else Usage())
    root = ev("problem", 0, 0.01)
    a = ev("reason", 0.01, 3.0, "b-x", root, answer="9")
    b = ev("reason", 0.2, 3.5, "b-y", root, answer="8")
    result = ev("result", 3.51, 3.52, None, root, answer="8")
    result.usage = a.usage + b.usage  # the result step carries the whole solve's usage
    return [root, a, b, ev("vote", 3.5, 3.51, None, root, leader="8"), result]


@pytest.fixture
def views_store(tmp_path: Path) -> dict[str, Any]:
    """A solve with a refuted, unverified outcome; two batch runs whose outcomes flip."""
    path = tmp_path / "views.db"
    store = Store(path)
    try:
        run = store.create_run(kind="solve", strategies=["verified"],
                               config={"roles": {"reasoner": {"model": "local/gemma-3-270m"}}})
        store.add_problem(run.id, Problem(id="p1", question="What is 4 + 4?", reference="8"))
        for event in traced(run.id, "p1", "verified"):
            store.add_event(event)
        other = Branch(id="b-y", index=1, model="local/gemma-3-270m", text="8",
                       reasoned_answer="8", answer="8", verdict="unverified")
        store.save_result(Result(
            run_id=run.id, problem_id="p1", strategy="verified", answer="8", confidence=0.0,
            confidence_parts={"status": "unverified", "share": 1.0, "stability": 0.75,
                              "verification": 0.0, "verified": 0, "refuted": 1,
                              "summary": "2 of 2 branches agree; "
                              "0 verified, 1 refuted; token confidence n/a"},
            votes={"8": Vote(count=2, weight=1.0)}, branches=[refuted_branch(), other],
            usage=Usage(prompt_tokens=80, latency_s=6.29, calls=2), samples_used=2,
            max_samples=2, stopped="max_samples", reference="8", correct=True, wall_s=3.52))
        store.update_run(run.id, status="done")
        batches = []
        for name, right in (("before", {"p1"}), ("after", {"p2"})):
            batch = store.create_run(kind="batch", name=name, strategies=["cot"])
            for i, pid in enumerate(("p1", "p2")):
                store.add_problem(batch.id, Problem(id=pid, question=f"q{i}", reference="1"),
                                  position=i)
                store.save_result(Result(run_id=batch.id, problem_id=pid, strategy="cot",
                                         answer="1" if pid in right else "2", reference="1",
                                         correct=pid in right,
                                         usage=Usage(prompt_tokens=10 * (i + 1))))
            batches.append(batch.id)
    finally:
        store.close()
    return {"path": path, "solve": run.id, "before": batches[0], "after": batches[1]}


def test_a_branch_card_shows_both_answers_the_verdict_and_what_the_vote_counted(
        views_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(monkeypatch, views_store["path"], "trace_page.py", run=views_store["solve"])
    metrics = [(m.label, m.value) for m in at.metric]
    assert ("Reasoned answer", "9") in metrics and ("Program answer", "8") in metrics
    assert ("Verdict", "refuted") in metrics
    assert f"**Vote counted:** {escape.markdown(panels.counted(refuted_branch()))}" in texts(at)
    assert panels.counted(refuted_branch()) == "8 (the program's answer)"


def test_the_trace_header_leads_with_the_outcome_and_labels_wall_and_model_time(
        views_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(monkeypatch, views_store["path"], "trace_page.py", run=views_store["solve"])
    shown = texts(at)
    assert "### Answer: 8 :green-badge[correct]" in shown
    assert "**Stopped:** " + escape.markdown("max samples — every planned sample was drawn") \
        in shown
    assert "**Code checks:** :red-badge[unverified] — 0 verified, 1 refuted" in shown
    assert escape.markdown("min(share 1.00, stability 0.75) × verification 0.00") in shown
    metrics: dict[str, str] = {}
    for m in at.metric:  # the header's come first (each step repeats them for itself)
        metrics.setdefault(m.label, m.value)
    # Defect 7: wall time (3.52 s) and summed model time (6.29 s) apart and labelled.
    assert metrics["Wall time"] == "3.52s" and metrics["Model time (summed)"] == "6.29s"
    assert metrics["Confidence"] == "0.00"


def test_the_timeline_draws_every_step_and_parallel_branches_overlap(
        views_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    events = traced("r", "p", "verified")
    spans = timeline.spans(layout(events))
    assert [s.node for s in spans] == ["problem", "reason", "reason", "vote", "result"]
    assert timeline.overlapping_branches(spans)
    assert spans[2].start == pytest.approx(0.2) and spans[2].duration == pytest.approx(3.3)
    assert spans[1].tokens == 40
    spec = timeline.waterfall(spans).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert len(rows) == 5 and rows[1]["end (s)"] > rows[2]["start (s)"]

    at = open_page(monkeypatch, views_store["path"], "trace_page.py", run=views_store["solve"])
    assert "Timeline" in at.subheader.values
    # Summed model time counts each call once (not again through the result's total).
    assert any("wall time 3.52s · model time (summed over calls) 6.29s" in c
               and "branches ran in parallel" in c for c in at.caption.values), at.caption.values
    assert [e.label for e in at.expander if e.label.startswith("Branch 0")]


@pytest.mark.parametrize(("params", "message"), [
    ({"run": "run-nope"}, "Run run\\-nope not found"),
    ({"problem": "p-nope"}, "Problem p\\-nope is not in run"),
    ({"strategy": "beam"}, "Strategy beam is not in run"),
])
def test_bad_urls_say_what_is_missing_and_link_back(
        views_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
        params: dict[str, str], message: str) -> None:
    query = {"run": views_store["solve"], **params}
    at = open_page(monkeypatch, views_store["path"], "trace_page.py", **query)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    assert not at.get("echarts_chart")  # nothing else (no other run's trace) is shown
    links = [link.proto.page for link in at.get("page_link")]
    assert any(p.endswith("runs") for p in links), links
    assert at.query_params.get("run") == query["run"]  # the URL is not rewritten


def test_the_matrix_shows_each_problem_under_each_strategy() -> None:
    cells = [{"problem_id": "a", "position": 0, "question": "q", "strategy": "cot",
              "answer": "1", "correct": 1, "tokens": 1234, "stopped": "decided"},
             {"problem_id": "a", "position": 0, "question": "q", "strategy": "pot",
              "answer": None, "correct": 0, "tokens": 50, "stopped": "truncated"},
             {"problem_id": "b", "position": 1, "question": "r", "strategy": "cot",
              "answer": None, "correct": 0, "tokens": 9, "stopped": "max_samples"},
             {"problem_id": "c", "position": 2, "question": "s", "strategy": None,
              "answer": None, "correct": None, "tokens": None, "stopped": None}]
    built = matrix.build(cells, ["cot", "pot"])
    assert list(built.frame.columns) == ["#", "problem", "question", "cot", "pot"]
    assert list(built.frame["cot"]) == ["✓ correct · 1,234 tok", "∅ no answer · 9 tok",
                                        "… pending"]
    assert built.frame["pot"][0] == "✂ truncated · 50 tok"
    assert matrix.target(built, "run-1", (1, "cot")) == {"run": "run-1", "problem": "b",
                                                         "strategy": "cot"}
    assert matrix.target(built, "run-1", (1, "question")) is None


def test_run_page_draws_the_matrix_of_a_batch(views_store: dict[str, Any],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(monkeypatch, views_store["path"], "run_page.py", run=views_store["after"])
    assert "Problems × strategies" in at.subheader.values
    frame = at.dataframe[1].value
    shown = frame.data if hasattr(frame, "data") else frame  # a Styler keeps its frame in .data
    assert list(shown["cot"]) == ["✗ wrong · 10 tok", "✓ correct · 20 tok"]


def test_compare_runs_per_strategy_and_the_problems_that_flipped(
        views_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(monkeypatch, views_store["path"], "compare_page.py",
                   a=views_store["before"], b=views_store["after"])
    per = at.dataframe[0].value
    row = per[per["strategy"] == "cot"].iloc[0]
    assert row["accuracy A"] == 0.5 and row["accuracy B"] == 0.5
    assert row["tokens A"] == 30 and row["tokens B"] == 30
    flips = at.dataframe[1].value
    assert sorted(zip(flips["problem"], flips["flip"], strict=True)) == [
        ("p1", "broken in B"), ("p2", "fixed in B")]
    assert flips["trace B"][0].startswith(f"./trace?run={views_store['after']}&problem=")
    assert any("2 result(s) in both runs; 1 fixed in B, 1 broken in B" in c
               for c in at.caption.values)
