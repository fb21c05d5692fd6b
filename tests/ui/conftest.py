"""Stores for the UI tests: one made by a real run of the embedded model, one of hostile text.

One ``verified`` solve with two samples runs once per session. A small batch run is then
assembled from that real result and its trace (copied under new ids, with references that
make one problem correct, one wrong and one unanswered) so the batch pages have every
outcome to show without paying for more model calls.

The hostile store holds no model run: it is written straight through the Store, with every
string a model or a dataset could supply replaced by markup that would fetch a URL of a local
canary server, inject an element or restyle the page if any page rendered it as markup.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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


BATCH_ROLES = {"reasoner": {"model": "local/gemma-3-270m", "temperature": 0.7},
               "standard": {"model": "local/smollm2-135m", "temperature": 0.7}}
"""Roles as ``ponder batch`` stores them: one dict per role, not a model string."""


def build_batch(store: Store, solved: Result, events: list[TraceEvent], question: str) -> str:
    """A two-strategy batch of three problems built from one real solve.

    ``verified`` gets p-correct right, p-wrong wrong and p-none unanswered (truncated);
    ``self-consistency`` also gets p-wrong right (so the strategies' accuracies differ:
    1/3 and 2/3) and its results name the standard model too, as an escalation would.
    """
    run = store.create_run(kind="batch", name="ui-batch", dataset="tiny.jsonl",
                           strategies=["verified", "self-consistency"],
                           config={"roles": BATCH_ROLES})
    answer = solved.answer or "5"  # the copies need an answer even if the model gave none
    cases = [("correct", answer), ("wrong", f"{answer}0" if answer else "1"), ("none", answer)]
    for position, (label, reference) in enumerate(cases):
        problem = Problem(id=f"p-{label}", question=question, reference=reference)
        store.add_problem(run.id, problem, position=position)
        for strategy in run.strategies:
            given = None if label == "none" else answer
            models = dict(solved.models)
            if strategy == "self-consistency":
                models["standard"] = "local/smollm2-135m"
                given = reference if label == "wrong" else given
            store.save_result(solved.model_copy(update={
                "run_id": run.id, "problem_id": problem.id, "strategy": strategy,
                "answer": given, "reference": reference, "models": models,
                "stopped": "truncated" if given is None else solved.stopped,
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


CANARY = "ponder-canary"
"""Every URL the hostile text points at contains this, so any request for one is caught."""


def hostile_text(origin: str, tag: str) -> str:
    """Text that would fetch, link, inject or restyle if a page rendered it as markup.

    ``origin`` is a listening canary server; ``tag`` names where the text was stored, so a
    test can tell which field leaked.
    """
    url = f"{origin}/{CANARY}-{tag}"
    return (f"![x]({url}-md.png) <img src=/{CANARY}-{tag}-html.png> <b id={CANARY}-{tag}>b</b>"
            f" ` <img src={url}-tick.png> ` [link]({url}-link) {url}-auto"
            f" :red[{CANARY}-red] :streamlit: :material/home: $x^2$ {{b}} **bold** -> end")


class Canary:
    """A local HTTP server that records every path asked of it: any request here leaked."""

    def __init__(self) -> None:
        hits: list[str] = []
        self.hits = hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@dataclass(frozen=True)
class HostileStore:
    """A store whose run, problem, answers, code, output and ids are all hostile text."""

    path: Path
    run_id: str
    problem_id: str
    strategy: str
    canary: Canary
    marker: str = CANARY
    # Short enough for a graph node's label (15 characters) to keep whole: an execution
    # status and a vote leader that are markup too.
    status: str = "<img src=/pc1>"
    leader: str = "<b id=pcx>b</b>"


def build_hostile(path: Path, canary: Canary) -> HostileStore:
    """One stored solve (problem → reason → code → execute → vote → result), every string
    that came from a model or a dataset replaced by :func:`hostile_text`."""
    from ponder.types import Branch, ExecResult, Usage, Vote

    def evil(tag: str) -> str:
        return hostile_text(canary.origin, tag)

    run_id, problem_id, strategy = "run-" + evil("rid"), "p-" + evil("pid"), "pot" + evil("s")
    store = Store(path)
    try:
        store.create_run(run_id=run_id, name=evil("name"), kind="solve", strategies=[strategy],
                         dataset=evil("dataset"), config={"roles": {"reasoner": evil("model")}})
        store.add_problem(run_id, Problem(id=problem_id, question=evil("question"),
                                          reference=evil("ref")))
        execution = ExecResult(status="ok", stdout=evil("stdout"), stderr=evil("stderr"),
                               value="`" + evil("value"), duration_s=0.1)
        branch = Branch(index=0, model=evil("bmodel"), text=evil("text"), answer=evil("answer"),
                        reasoned_answer=evil("answer"),
                        code=evil("code"), execution=execution, code_answer=evil("canswer"),
                        verdict="verified", confidence=0.9, usage=Usage(prompt_tokens=3))
        votes = {evil("answer"): Vote(count=1, weight=1.0, verified=1)}
        steps = [("problem", None, {"question": evil("question")}, {"strategy": strategy}),
                 ("reason", branch.id, {"messages": [{"role": evil("role"),
                                                      "content": evil("prompt")}]},
                  {"text": evil("text"), "answer": evil("answer")}),
                 ("code", branch.id, {}, {"code": evil("code")}),
                 ("execute", branch.id, {"code": evil("code")},
                  {**execution.model_dump(), "status": HostileStore.status}),
                 ("vote", None, {}, {"votes": {k: v.model_dump() for k, v in votes.items()},
                                     "leader": HostileStore.leader}),
                 ("result", None, {}, {"answer": evil("answer"), "correct": False})]
        parent = None
        for i, (node, branch_id, inputs, outputs) in enumerate(steps):
            event = TraceEvent(run_id=run_id, problem_id=problem_id, strategy=strategy,
                               node=node, branch_id=branch_id, parent_id=parent,
                               started_at=1000.0 + i, ended_at=1000.5 + i, inputs=inputs,
                               outputs=outputs, usage=Usage(prompt_tokens=3))
            store.add_event(event)
            parent = event.id
        store.save_result(Result(run_id=run_id, problem_id=problem_id, strategy=strategy,
                                 answer=evil("answer"), confidence=0.9, votes=votes,
                                 branches=[branch], models={"reasoner": evil("rmodel")},
                                 samples_used=1, max_samples=1, stopped=evil("stopped"),
                                 reference=evil("ref"), correct=False))
        # A person's label whose answer, note and name are hostile too.
        store.annotate(run_id, problem_id, "wrong", answer=evil("fix"), note=evil("note"),
                       author=evil("author"))
        store.update_run(run_id, status="done")
    finally:
        store.close()
    return HostileStore(path=path, run_id=run_id, problem_id=problem_id, strategy=strategy,
                        canary=canary)


@pytest.fixture
def hostile_store(tmp_path: Path) -> Iterator[HostileStore]:
    """A hostile store in a folder whose name is hostile too (pages show the store's path),
    and the canary server its URLs point at."""
    canary = Canary()
    folder = tmp_path / f"<img src={CANARY}-dir.png> `x` $y$ :red[dir]"
    folder.mkdir()
    try:
        yield build_hostile(folder / "hostile.db", canary)
    finally:
        canary.server.shutdown()


def rerun_batch(store: Store, batch_id: str) -> str:
    """A second run of a batch (``ui-batch-2``) whose p-correct and p-wrong flip under
    ``verified``: what the Compare page contrasts with the first."""
    first = store.require_run(batch_id)
    run = store.create_run(kind="batch", name="ui-batch-2", dataset=first.dataset,
                           strategies=first.strategies, config=first.config)
    for result in store.iter_results(batch_id):
        problem = store.problem(batch_id, result.problem_id)
        assert problem is not None
        store.add_problem(run.id, problem, position=["p-correct", "p-wrong", "p-none"].index(
            problem.id))
        flip = result.strategy == "verified" and problem.id in ("p-correct", "p-wrong")
        answer = (problem.reference + "1" if result.correct else problem.reference) \
            if flip and problem.reference else result.answer
        store.save_result(result.model_copy(update={
            "run_id": run.id, "answer": answer,
            "correct": (answer == problem.reference) if answer is not None else False}))
        copy_trace(store, store.events(batch_id, problem.id, result.strategy), run.id,
                   problem.id, result.strategy)
    store.update_run(run.id, status="done")
    return run.id


def add_hostile_rerun(hostile: HostileStore) -> str:
    """A second hostile run of the same problem whose answer is now right (so it flipped):
    what the Compare page sets beside the first. Its name and answer are hostile too."""
    store = Store(hostile.path)
    try:
        first = store.require_run(hostile.run_id)
        run_id = "run-" + hostile_text(hostile.canary.origin, "rid2")
        store.create_run(run_id=run_id, name=hostile_text(hostile.canary.origin, "name2"),
                         kind="solve", strategies=first.strategies, config=first.config)
        problem = store.problem(hostile.run_id, hostile.problem_id)
        assert problem is not None
        store.add_problem(run_id, problem)
        result = store.result(hostile.run_id, hostile.problem_id, hostile.strategy)
        assert result is not None
        store.save_result(result.model_copy(update={
            "run_id": run_id, "answer": hostile_text(hostile.canary.origin, "answer2"),
            "correct": True}))
        store.update_run(run_id, status="done")
    finally:
        store.close()
    return run_id
