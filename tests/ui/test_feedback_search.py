"""Human feedback on the trace page, the search page across runs, and captions that tell
the truth about the models (AppTest over hand-built stores; no model runs here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ponder.config import load_config
from ponder.store import Store
from ponder.types import Problem, Result, Usage
from ponder.ui import escape, run_page, solve_page
from ponder.verdict import verdict_of

from .test_pages import open_page, texts
from .test_views import views_store  # noqa: F401 - a fixture this module uses too

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_a_label_set_on_the_trace_page_is_stored_and_shown_after_a_reload(
        views_store: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    path, run = views_store["path"], views_store["solve"]
    at = open_page(monkeypatch, path, "trace_page.py", run=run)
    assert any(e.label.startswith("Feedback: not labelled yet") for e in at.expander)
    at.radio(key="feedback_trace_label").set_value("wrong")
    at.text_input(key="feedback_trace_answer").input("16")
    at.text_area(key="feedback_trace_note").input("it asked for 4 × 4")
    at.text_input(key="feedback_trace_author").input("ana")
    next(b for b in at.button if b.label == "Save label").click().run()
    assert not at.exception, [e.value for e in at.exception]
    [item] = Store(path).feedback(run)
    assert (item.label, item.answer, item.note, item.author) == ("wrong", "16",
                                                                 "it asked for 4 × 4", "ana")
    again = open_page(monkeypatch, path, "trace_page.py", run=run)  # a reload
    shown = texts(again)
    assert ":red-badge[human: wrong] → **16** · ana" in shown
    assert any(e.label == "Feedback: labelled wrong by ana" for e in again.expander)
    # ... and the tables show it: the Run page's problem row, the Runs page's run row.
    problems = open_page(monkeypatch, path, "run_page.py", run=run).dataframe[-1].value
    assert list(problems["feedback"]) == ["wrong → 16 (ana)"]
    runs = open_page(monkeypatch, path).dataframe[0].value
    assert "wrong → 16 (ana)" in list(runs["feedback"])


def test_a_branch_is_labelled_from_under_its_card(views_store: dict[str, Any],  # noqa: F811
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    path, run = views_store["path"], views_store["solve"]
    at = open_page(monkeypatch, path, "trace_page.py", run=run)
    at.radio(key="feedback_branch_1_1_label").set_value("correct")
    at.text_input(key="feedback_branch_1_1_author").input("bo")
    save = [b for b in at.button if b.label == "Save label"]
    save[-1].click().run()
    assert not at.exception
    [item] = Store(path).feedback(run)
    assert (item.branch, item.label, item.author) == (1, "correct", "bo")
    assert ":green-badge[human: correct] · bo" in texts(open_page(monkeypatch, path,
                                                                  "trace_page.py", run=run))


def test_search_finds_results_by_verdict_label_and_text(views_store: dict[str, Any],  # noqa: F811
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    path = views_store["path"]
    Store(path).annotate(views_store["before"], "p2", "wrong", author="ana")
    at = open_page(monkeypatch, path, "search_page.py")
    everything = at.dataframe[0].value
    assert len(everything) == 5  # the solve's one result and the two batches' four
    at.multiselect(key="search_verdict").select("refuted").run()
    [row] = at.dataframe[0].value.itertuples(index=False)
    assert row.problem == "p1" and row.verdict == "refuted (executed check), confidence 0.00"
    at.multiselect(key="search_verdict").unselect("refuted")
    at.selectbox(key="search_label").select("wrong").run()
    found = at.dataframe[0].value
    assert list(zip(found["run"], found["problem"], strict=True)) == [("before", "p2")]
    assert list(found["feedback"]) == ["wrong (ana)"]
    at.selectbox(key="search_label").select("any label or none")
    at.multiselect(key="search_correct").select("correct")
    at.text_input(key="search_text").input("q1").run()
    found = at.dataframe[0].value
    assert list(zip(found["run"], found["problem"], strict=True)) == [("after", "p2")]
    at.number_input(key="search_tokens_min").set_value(1000.0).run()
    assert "No result matches" in texts(at)


def test_a_remote_model_at_no_cost_is_not_called_embedded(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "remote.db"
    store = Store(path)
    run = store.create_run(kind="batch", name="remote", strategies=["cot"],
                           config={"roles": {"reasoner": "openai/gpt-4o-mini"}})
    store.add_problem(run.id, Problem(id="p1", question="What is 1 + 1?", reference="2"))
    store.save_result(Result(run_id=run.id, problem_id="p1", strategy="cot", answer="2",
                             reference="2", correct=True,
                             models={"reasoner": "openai/gpt-4o-mini"},
                             usage=Usage(prompt_tokens=9, latency_s=0.4)))
    store.close()
    shown = texts(open_page(monkeypatch, path, "run_page.py", run=run.id))
    assert "embedded" not in shown
    assert escape.markdown(run_page.free_caption(["openai/gpt-4o-mini"])) in shown
    assert "openai/gpt-4o-mini" in run_page.free_caption(["openai/gpt-4o-mini"])
    assert "embedded" in run_page.free_caption(["local/gemma-3-270m"])


def test_the_solve_page_caption_names_the_configured_models(tmp_path: Path) -> None:
    scripted = load_config(None, store=tmp_path / "s.db").with_models(
        reasoner="openai/scripted", standard="openai/scripted")
    caption = solve_page.models_caption(scripted)
    assert "embedded" not in caption and "offline" not in caption
    assert caption.startswith("openai/scripted is called through the provider")
    local = solve_page.models_caption(load_config(None, store=tmp_path / "s.db"))
    assert "embedded, offline on the CPU" in local and "local/gemma-3-270m" in local


def test_the_badge_text_is_the_one_the_cli_prints(views_store: dict[str, Any]) -> None:  # noqa: F811
    from ponder.cli.solve_cmd import _print_result

    import contextlib
    import io

    result = Store(views_store["path"]).result(views_store["solve"], "p1")
    assert result is not None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        _print_result(result)
    first = out.getvalue().splitlines()[0]
    assert first == f"Answer: 8  [{verdict_of(result).line()}]"
    assert verdict_of(result).line() == "refuted (executed check), confidence 0.00"
