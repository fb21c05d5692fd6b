"""A store made by a real run of the embedded model, shared by the UI tests.

One ``verified`` solve with two samples runs once per session. A small batch run is then
assembled from that real result and its trace (copied under new ids, with references that
make one problem correct, one wrong and one unanswered) so the batch pages have every
outcome to show without paying for more model calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ponder.store import Store
from ponder.types import Problem, Result, TraceEvent, new_id


@dataclass(frozen=True)
class UIStore:
    """The store file and what is in it."""

    path: Path
    solve_run: str
    result: Result
    batch_run: str


def copy_trace(store: Store, events: list[TraceEvent], run_id: str, problem_id: str,
               strategy: str) -> None:
    """Store ``events`` again under a new run, problem and strategy, with fresh ids."""
    ids = {e.id: new_id("e-") for e in events}
    for event in events:
        store.add_event(event.model_copy(update={
            "id": ids[event.id], "run_id": run_id, "problem_id": problem_id,
            "strategy": strategy, "parent_id": ids.get(event.parent_id or "")}))


def build_batch(store: Store, solved: Result, events: list[TraceEvent], question: str) -> str:
    """A two-strategy batch of three problems built from one real solve."""
    run = store.create_run(kind="batch", name="ui-batch", dataset="tiny.jsonl",
                           strategies=["verified", "self-consistency"])
    answer = solved.answer or "5"  # the copies need an answer even if the model gave none
    cases = [("correct", answer), ("wrong", f"{answer}0" if answer else "1"), ("none", answer)]
    for position, (label, reference) in enumerate(cases):
        problem = Problem(id=f"p-{label}", question=question, reference=reference)
        store.add_problem(run.id, problem, position=position)
        for strategy in run.strategies:
            given = None if label == "none" else answer
            store.save_result(solved.model_copy(update={
                "run_id": run.id, "problem_id": problem.id, "strategy": strategy,
                "answer": given, "reference": reference,
                "correct": given is not None and given == reference}))
            copy_trace(store, events, run.id, problem.id, strategy)
    store.update_run(run.id, status="done")
    return run.id


@pytest.fixture(scope="session")
def ui_store(tmp_path_factory: pytest.TempPathFactory) -> UIStore:
    """A store holding a real embedded ``verified`` solve and a batch made from it."""
    import ponder
    from ponder.config import load_config

    path = tmp_path_factory.mktemp("ui") / "ui.db"
    question = "What is 2 + 3?"
    result = ponder.solve(question, strategy="verified", samples=2,
                          config=load_config(None, store=path))
    store = Store(path)
    try:
        events = store.events(result.run_id)
        assert events, "the real run recorded no trace events"
        batch = build_batch(store, result, events, question)
    finally:
        store.close()
    return UIStore(path=path, solve_run=result.run_id, result=result, batch_run=batch)
