"""Trace outcome, branch cards, timeline, bad URLs, the batch matrix and run comparison,
over a hand-built store whose every value is known (no model runs here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from ponder.store import Store
from ponder.types import Branch, ExecResult, Problem, Result, TraceEvent, Usage, Vote
from ponder.ui import escape, matrix, panels, timeline
from ponder.ui.graph import layout

from .test_pages import APP, open_page, texts


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
    # Defect 1: one verdict badge, its parts beneath (no separate confidence, stop and
    # code-check widgets telling three stories).
    assert "### Answer: 8" in shown
    assert f":red-badge[{escape.markdown('refuted (executed check), confidence 0.00')}]" in shown
    assert ":green-badge[matches the reference] 8" in shown
    [parts] = [c for c in at.caption.values if escape.markdown("stopped: ") in c]
    for part in ("confidence 0.00 = min(share 1.00, stability 0.75) × verification 0.00",
                 "code checks: 0 verified, 1 refuted",
                 "stopped: max samples — every planned sample was drawn", "2/2 samples"):
        assert escape.markdown(part) in parts, part
    assert "**Stopped:**" not in shown and "**Code checks:**" not in shown
    metrics = [(m.label, m.value) for m in at.metric]
    # Defect 7: wall time (3.52 s) and summed model time (6.29 s) apart and labelled; the
    # header's metrics are usage only (its confidence is in the badge).
    assert metrics[:5] == [("Tokens", "80"), ("Cost", "$0"), ("Wall time", "3.52s"),
                           ("Model time (summed)", "6.29s"), ("Calls", "2")]


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
    badged = matrix.build(cells, ["cot"], {("a", "cot"): "verified (executed check), "
                                           "confidence 0.90"})
    assert badged.frame["cot"][0] == ("✓ correct · verified (executed check), "
                                      "confidence 0.90 · 1,234 tok")
    assert matrix.target(built, "run-1", (1, "cot")) == {"run": "run-1", "problem": "b",
                                                         "strategy": "cot"}
    assert matrix.target(built, "run-1", (1, "question")) is None


def test_run_page_draws_the_matrix_of_a_batch(views_store: dict[str, Any],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(monkeypatch, views_store["path"], "run_page.py", run=views_store["after"])
    assert "Problems × strategies" in at.subheader.values
    frame = at.dataframe[1].value
    shown = frame.data if hasattr(frame, "data") else frame  # a Styler keeps its frame in .data
    # The verdict badge's text, as each trace's header shows it.
    assert list(shown["cot"]) == ["✗ wrong · unverified, confidence 0.00 · 10 tok",
                                  "✓ correct · unverified, confidence 0.00 · 20 tok"]


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
    # Defect 5: each flipped problem's question beside both answers.
    assert sorted(zip(flips["problem"], flips["question"], flips["answer A"], flips["answer B"],
                      strict=True)) == [("p1", "q0", "1", "2"), ("p2", "q1", "2", "1")]
    assert "What was configured differently" in at.subheader.values
    assert any("configured the same way" in c for c in at.caption.values)


def test_compare_shows_what_was_configured_differently(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cfg.db"
    store = Store(path)
    try:
        ids = []
        for name, samples, model in (("four", 4, "local/gemma-3-270m"), ("two", 2, "openai/o4")):
            run = store.create_run(kind="batch", name=name, strategies=["cot"], config={
                "roles": {"reasoner": {"model": model, "temperature": 0.7}},
                "options": {"samples": samples, "stop_rule": "adaptive", "seed": 7}})
            ids.append(run.id)
    finally:
        store.close()
    at = open_page(monkeypatch, path, "compare_page.py", a=ids[0], b=ids[1])
    diff = at.dataframe[0].value
    assert [tuple(r) for r in diff[["setting", "A", "B"]].itertuples(index=False)] == [
        ("options.samples", "4", "2"), ("roles.reasoner.model", "local/gemma-3-270m", "openai/o4")]


@pytest.fixture
def beam_store(tmp_path: Path) -> dict[str, Any]:
    """A beam solve as beam records it: usage on its expand steps, none on its branches."""
    from .test_search_tree import beam_trace

    path = tmp_path / "beam.db"
    store = Store(path)
    try:
        run = store.create_run(kind="solve", strategies=["beam"])
        store.add_problem(run.id, Problem(id="p1", question="What is 12 * 5?"))
        for event in beam_trace():
            store.add_event(event.model_copy(update={"run_id": run.id, "problem_id": "p1"}))
        program = "x = 12 * 5\nprint(x)\n"
        branches = [Branch(index=i, model="local/gemma-3-270m", code=program, answer="60",
                           code_answer="60", execution=ExecResult(status="ok", stdout="60"),
                           verdict="unverified") for i in range(2)]
        store.save_result(Result(run_id=run.id, problem_id="p1", strategy="beam", answer="60",
                                 votes={"60": Vote(count=2, weight=1.6)}, branches=branches,
                                 usage=Usage(prompt_tokens=200, calls=4), samples_used=2,
                                 max_samples=8, stopped="decided"))
        store.update_run(run.id, status="done")
    finally:
        store.close()
    return {"path": path, "run": run.id}


def test_a_beam_trace_draws_its_search_tree_and_says_usage_is_per_step(
        beam_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(monkeypatch, beam_store["path"], "trace_page.py", run=beam_store["run"])
    assert "Search tree" in at.subheader.values
    assert any("6 candidates over 2 rounds · 2 pruned (grey) · 2 finished programs" in c
               for c in at.caption.values), at.caption.values
    shown = texts(at)
    # The branches recorded no usage of their own: no "0 tokens · $0 · 0.00s" card.
    assert not [c for c in at.caption.values if c.startswith("0 tokens · $0")]
    assert "usage is recorded per step, not per branch: the shared steps spent 200 tokens" \
        in shown


def test_a_step_link_opens_that_step_with_its_candidates_as_a_rounded_table(
        beam_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(monkeypatch, beam_store["path"], "trace_page.py", run=beam_store["run"],
                   step="2")
    assert "\\#2 expand" in at.subheader.values
    assert [s.proto.anchor for s in at.subheader if s.value == "\\#2 expand"] == ["step-2"]
    table = next(d.value for d in at.dataframe if "score" in d.value.columns)
    assert list(table["score"]) == [-0.289, -0.519, -1.9]  # not -0.2890266190423129
    links = [m for m in at.markdown.values if m.startswith("[Link to this step]")]
    assert links and links[0].endswith("&step=2#step-2)"), links


def test_breadcrumbs_and_previous_next_problem(views_store: dict[str, Any],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(monkeypatch, views_store["path"], "trace_page.py", run=views_store["before"],
                   problem="p1", strategy="cot")
    crumbs = [(p.proto.label, p.proto.page, p.proto.query_string) for p in at.get("page_link")]
    assert ("Runs", "runs", "") in crumbs
    assert ("before", "run", f"run={views_store['before']}") in crumbs
    assert ("problem p1", "trace", f"run={views_store['before']}&problem=p1") in crumbs
    assert "**cot**" in at.markdown.values  # the level the page is on, not a link
    assert ("next problem →", "trace", f"run={views_store['before']}&problem=p2&strategy=cot") \
        in crumbs
    assert not any(label.startswith("← previous") for label, _, _ in crumbs)
    assert "problem 1 of 2" in at.caption.values

    at = open_page(monkeypatch, views_store["path"], "trace_page.py", run=views_store["before"],
                   problem="p2", strategy="cot")
    crumbs = [(p.proto.label, p.proto.query_string) for p in at.get("page_link")]
    assert ("← previous problem", f"run={views_store['before']}&problem=p1&strategy=cot") \
        in crumbs
    assert not any(label.startswith("next problem") for label, _ in crumbs)

    at = open_page(monkeypatch, views_store["path"], "run_page.py", run=views_store["before"])
    labels = [p.proto.label for p in at.get("page_link")]
    assert labels[:1] == ["Runs"] and "**before**" in at.markdown.values


def test_key_columns_are_pinned_and_accuracy_bars_are_not_red(
        views_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    at = open_page(monkeypatch, views_store["path"])
    columns = json.loads(at.dataframe[0].proto.columns)
    pinned = [name for name, conf in columns.items() if conf.get("pinned")]
    assert pinned == ["run", "what"]
    assert columns["accuracy"]["type_config"]["color"] == "blue"  # the theme's primary is red
    problems = json.loads(open_page(monkeypatch, views_store["path"], "run_page.py",
                                    run=views_store["solve"]).dataframe[-1].proto.columns)
    assert [n for n, conf in problems.items() if conf.get("pinned")] == ["problem", "outcome"]
    at = open_page(monkeypatch, views_store["path"], "run_page.py", run=views_store["before"])
    columns = json.loads(at.dataframe[0].proto.columns)
    assert columns["strategy"]["pinned"] and columns["accuracy"]["type_config"]["color"] == "blue"


def test_vote_bars_say_their_counts_and_the_answer_axis_has_no_clipped_title() -> None:
    assert panels.tally_text(3, 1, 2.3324) == "3 votes · 1 verified · weight 2.33"
    assert panels.tally_text(1, 0, 1.0) == "1 vote · 0 verified · weight 1.00"
    chart = panels.tally_chart({"8": Vote(count=3, weight=2.3324, verified=1),
                                "9": Vote(count=1, weight=0.5)}, "8")
    assert chart is not None
    spec = chart.to_dict()
    bars, text = spec["layer"]
    assert bars["encoding"]["y"]["title"] is None  # a rotated "answer" was clipped to "answei"
    assert text["mark"]["type"] == "text" and text["encoding"]["text"]["field"] == "facts"
    rows = next(iter(spec["datasets"].values()))
    assert {r["answer"]: r["facts"] for r in rows} == {
        "8": "3 votes · 1 verified · weight 2.33", "9": "1 vote · 0 verified · weight 0.50"}
    assert panels.tally_chart({}) is None


def test_strategy_charts_use_distinct_colours_and_no_clipped_labels() -> None:
    import pandas as pd

    from ponder.ui import compare_page, run_page, widgets

    frame = pd.DataFrame({"strategy": ["cot", "pot", "verified"], "accuracy": [0.5, 0.55, 0.6],
                          "tokens / problem": [100.0, 101.0, 102.0]})
    spec = run_page.tradeoff_chart(frame, "tokens / problem").to_dict()
    assert "layer" not in spec and spec["mark"]["type"] == "point"  # no text beside points
    colors = spec["encoding"]["color"]["scale"]["range"]
    assert len(set(colors)) == 3 and colors == widgets.STRATEGY_PALETTE[:3]
    both = pd.DataFrame({"strategy": ["cot", "pot"], "accuracy A": [0.5, 0.2],
                         "accuracy B": [0.6, None]})
    chart = compare_page.accuracy_chart(both).to_dict()
    assert "facet" not in chart and "row" not in json_text(chart)  # no rotated facet labels
    assert any(layer["mark"]["type"] == "text" for layer in chart["layer"])


def json_text(spec: dict[str, Any]) -> str:
    import json

    return json.dumps(spec)


def test_compare_links_keep_ids_with_url_syntax_whole() -> None:
    from urllib.parse import parse_qs, urlsplit

    from ponder.ui import compare_page

    run, problem, strategy = "run-a&b=c#d", "p 1?x=/../y", "pot%20"
    query = parse_qs(urlsplit(compare_page.trace_link(run, problem, strategy)).query)
    assert query == {"run": [run], "problem": [problem], "strategy": [strategy]}


def test_a_code_step_prints_its_program_once(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    program = "pens = 3 * 4 - 5\nanswer(pens)"
    path = tmp_path / "code.db"
    store = Store(path)
    try:
        run = store.create_run(kind="solve", strategies=["pot"])
        store.add_problem(run.id, Problem(id="p1", question="Pens?"))
        root = TraceEvent(run_id=run.id, problem_id="p1", strategy="pot", node="problem",
                          started_at=1.0, ended_at=1.0)
        code = TraceEvent(run_id=run.id, problem_id="p1", strategy="pot", node="code",
                          branch_id="b-1", parent_id=root.id, started_at=1.0, ended_at=2.0,
                          outputs={"text": f"Sure:\n```python\n{program}\n```", "code": program})
        store.add_event(root)
        store.add_event(code)
    finally:
        store.close()
    at = open_page(monkeypatch, path, "trace_page.py", run=run.id, step="2")
    assert [c.value for c in at.code].count(program) == 1  # not once as Output, again as Code
    assert any(e.label.startswith("Model output") for e in at.expander)


def test_the_timeline_legend_wraps_under_the_chart() -> None:
    spec = timeline.waterfall(timeline.spans(layout(traced("r", "p", "verified")))).to_dict()
    legend = spec["encoding"]["color"]["legend"]
    assert legend["orient"] == "bottom" and legend["columns"] == 4


def test_the_runs_page_opens_on_the_page_its_url_names(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "many.db"
    store = Store(path)
    try:
        for i in range(30):
            store.create_run(kind="solve", name=f"run-{i:02d}", strategies=["cot"])
    finally:
        store.close()
    monkeypatch.setenv("PONDER_STORE", str(path))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["page"] = "2"
    at.switch_page("runs_page.py")
    at.run()
    assert not at.exception
    assert "rows 26–30 of 30" in at.caption.values
    assert len(at.dataframe[0].value) == 5
    assert at.query_params.get("page") == "2"


def test_text_without_separate_reasoning_is_named_reasoning_and_answer(
        views_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(monkeypatch, views_store["path"], "trace_page.py", run=views_store["solve"])
    shown = texts(at)
    # The refuted branch's card: the embedded model's text holds its reasoning and answer.
    assert "**Reasoning and answer**" in shown
    assert "the answer taken from it: 9" in shown


def test_picking_another_problem_drops_the_step_link_of_the_one_before(
        views_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_page(monkeypatch, views_store["path"], "trace_page.py", run=views_store["before"],
                   step="1")
    assert at.query_params.get("step") == "1"
    at.number_input(key="trace_position").set_value(2).run()
    assert not at.exception and "step" not in at.query_params


def test_the_checks_line_names_reasoning_from_other_branches() -> None:
    from ponder.ui.outcome import checks

    # checked's reasoning cross-check: no branch verified itself; reasoning elsewhere agreed.
    crossed = {"status": "verified", "verified": 0, "refuted": 0, "reasoned_agree": 1}
    assert checks(crossed) == ("code checks: 0 verified, 0 refuted; 1 reasoned answer(s) agree "
                               "with the executed result")
    paired = {"status": "verified", "verified": 2, "refuted": 0, "reasoned_agree": 1}
    assert checks(paired) == "code checks: 2 verified, 0 refuted"
    assert checks({"status": "unchecked", "reasoned_agree": 0}) == "no code check ran"
