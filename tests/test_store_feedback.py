"""People's labels on traces and branches: stored with author and time, replaced, removed,
refused with a clear message where there is nothing to label; and searching across runs."""

from __future__ import annotations

from pathlib import Path

import pytest

import ponder
from ponder.errors import StoreError
from ponder.store import Store
from ponder.store.search import ResultQuery
from ponder.types import Branch, ExecResult, Problem, Result, Usage
from ponder.verdict import verdict_of


def solved(store: Store, run_name: str, strategies: tuple[str, ...] = ("pot",)) -> str:
    run = store.create_run(kind="solve", name=run_name, strategies=list(strategies))
    store.add_problem(run.id, Problem(id="p1", question="How many apples?", reference="3"))
    for strategy in strategies:
        store.save_result(Result(run_id=run.id, problem_id="p1", strategy=strategy, answer="4",
                                 reference="3", correct=False, models={"reasoner": "local/x"},
                                 branches=[Branch(index=0, answer="4"),
                                           Branch(index=1, answer="3")]))
    return run.id


def test_a_label_is_stored_with_author_and_time_and_replaced_by_the_next(store_url: str) -> None:
    store = Store(store_url)
    run = solved(store, "r1")
    first = store.annotate("r1", "p1", "wrong", answer=" 3 ", note="counted twice", author="ana")
    assert (first.run_id, first.strategy, first.branch, first.answer) == (run, "pot", None, "3")
    assert first.line() == "wrong → 3 (ana)" and first.created_at > 0
    store.annotate("r1", "p1", "unsure", author="bo")
    store.annotate("r1", "p1", "correct", branch=1, author="ana")
    stored = store.feedback(run, "p1", "pot")
    assert [(f.branch, f.label, f.author, f.answer) for f in stored] == [
        (None, "unsure", "bo", None), (1, "correct", "ana", None)]
    assert store.trace_labels([run])[(run, "p1", "pot")].label == "unsure"
    assert store.remove_feedback(run, "p1", "pot") and not store.remove_feedback(run, "p1", "pot")
    assert [f.branch for f in store.feedback(run)] == [1]
    store.delete_run(run)  # labels go with their run
    assert store.feedback(run) == []


def test_labels_that_name_nothing_are_refused_with_what_to_do(store_url: str) -> None:
    store = Store(store_url)
    solved(store, "r1", ("pot", "cot"))
    with pytest.raises(StoreError, match="several strategies .* name one with --strategy"):
        store.annotate("r1", "p1", "wrong")
    with pytest.raises(StoreError, match="no result for problem 'p9'"):
        store.annotate("r1", "p9", "wrong", strategy="pot")
    with pytest.raises(StoreError, match="has no branch 5"):
        store.annotate("r1", "p1", "wrong", strategy="pot", branch=5)
    with pytest.raises(StoreError, match="unknown label 'bad'"):
        store.annotate("r1", "p1", "bad", strategy="pot")
    with pytest.raises(StoreError, match="no run 'nope'"):
        store.annotate("nope", "p1", "wrong")


def test_the_python_api_labels_a_store_by_path(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = Store(path)
    run = solved(store, "r1")
    store.close()
    item = ponder.annotate("r1", "p1", "wrong", store=path, note="n", author="cy")
    assert item.label == "wrong"
    assert Store(path).feedback(run)[0].note == "n"


def verdict_cases() -> list[Result]:
    """Results covering every verdict rule (and the ones just beside each)."""
    ran = ExecResult(status="ok", value=4)
    base = {"run_id": "", "problem_id": "", "strategy": "pot"}
    return [
        Result(**base, answer=None, stopped="truncated"),
        Result(**base, answer=None, branches=[Branch(index=0, truncated=True)]),
        Result(**base, answer=None, branches=[Branch(index=0, truncated=True),
                                              Branch(index=1)]),
        Result(**base, answer=None, stopped="budget_tokens"),
        Result(**base, answer=None, stopped="run_budget_usd"),
        Result(**base, answer=None),
        Result(**base, answer="4", confidence=0.9, confidence_parts={"status": "verified"},
               branches=[Branch(index=0, answer="4", execution=ran)]),
        Result(**base, answer="4", confidence_parts={"status": "unverified", "verified": 1}),
        Result(**base, answer="4", confidence_parts={"status": "unverified", "refuted": 2}),
        Result(**base, answer="4", confidence_parts={"status": "unchecked", "refuted": 2}),
        Result(**base, answer="4", confidence_parts={"split": True}),
        Result(**base, answer="4", confidence_parts={"split": False}),
        Result(**base, answer="4"),
    ]


def test_the_sql_verdict_agrees_with_verdict_of(store_url: str) -> None:
    store = Store(store_url)
    run = store.create_run(kind="batch", name="v", strategies=["pot"])
    cases = verdict_cases()
    for i, case in enumerate(cases):
        store.add_problem(run.id, Problem(id=f"p{i}", question=f"q{i}"), position=i)
        store.save_result(case.model_copy(update={"run_id": run.id, "problem_id": f"p{i}"}))
    rows = store.search_results(ResultQuery(run_id=run.id), limit=100)
    by_problem = {r["problem_id"]: r["verdict"] for r in rows}
    expected = {f"p{i}": verdict_of(c).label for i, c in enumerate(cases)}
    assert by_problem == expected
    assert set(expected.values()) == {"truncated", "budget", "no_answer", "verified", "refuted",
                                      "split", "unverified"}
    for label in set(expected.values()):
        found = store.search_results(ResultQuery(verdicts=[label]), limit=100)
        assert sorted(r["problem_id"] for r in found) == sorted(
            p for p, v in expected.items() if v == label)


def test_search_filters_across_runs(store_url: str) -> None:
    store = Store(store_url)
    a, b = solved(store, "a"), solved(store, "b", ("cot",))
    store.annotate("a", "p1", "wrong", author="ana")

    def found(**kw: object) -> list[tuple[str, str]]:
        query = ResultQuery(**kw)
        rows = store.search_results(query)
        assert store.count_search(query) == len(rows)
        return sorted((r["run_id"], r["strategy"]) for r in rows)

    assert found() == sorted([(a, "pot"), (b, "cot")])
    assert found(strategies=["cot"]) == [(b, "cot")]
    assert found(label="wrong") == [(a, "pot")]
    assert found(label="none") == [(b, "cot")]
    assert found(label="correct") == []
    assert found(text="apples", correctness=["wrong"]) == sorted([(a, "pot"), (b, "cot")])
    assert found(correctness=["correct", "no_answer"]) == []
    assert found(model="local/") == sorted([(a, "pot"), (b, "cot")])
    assert found(model="openai/") == []
    assert found(min_tokens=1) == [] and found(max_cost=0.0) != []
    assert store.result_models() == ["local/x"]
    assert store.verdict_counts([a]) == {a: {"unverified": 1}}
    assert store.label_counts([a, b]) == {a: {"wrong": 1}}
