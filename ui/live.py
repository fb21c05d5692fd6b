"""Solve one question while reporting progress: the engine behind the Solve page.

It records the run exactly as ``ponder.solve`` does (run, problem, trace events, result), but
streams the graph's progress (``ponder.graphs.api.progress_events``) and hands a
:class:`LiveSolve` snapshot to a callback after every progress event, so a page can redraw
as branches finish and the vote leader changes. No Streamlit here: the page owns the drawing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ponder.config import Config, SolveOptions
from ponder.errors import PonderError
from ponder.store import Store
from ponder.types import Result, Vote, new_id


@dataclass
class LiveSolve:
    """What is known so far about a solve in progress."""

    run_id: str
    problem_id: str
    strategy: str
    branches: list[dict[str, Any]] = field(default_factory=list)
    votes: dict[str, Any] = field(default_factory=dict)
    leader: str | None = None
    dispatched: int = 0
    escalated_to: str | None = None
    result: Result | None = None

    def apply(self, item: dict[str, Any]) -> bool:
        """Fold one progress item in; True when the picture changed."""
        if item.get("type") != "progress":
            return False
        event = item.get("event")
        if event == "branch_finished":
            self.branches.append({"branch": item.get("branch"), "answer": item.get("answer"),
                                  "verdict": item.get("verdict")})
        elif event == "vote":
            self.votes = dict(item.get("votes") or {})
            self.leader = item.get("leader")
        elif event == "round":
            self.dispatched += int(item.get("size") or 0)
        elif event == "escalated":
            self.escalated_to = item.get("to")
        return True

    def tally(self) -> dict[str, Vote]:
        """The vote so far: the last vote event's, else a count of finished branches."""
        if self.votes:
            return {str(a): v if isinstance(v, Vote) else Vote.model_validate(v)
                    if isinstance(v, dict) else Vote(count=int(v), weight=float(v))
                    for a, v in self.votes.items()}
        counts: dict[str, Vote] = {}
        for b in self.branches:
            if b["answer"] is not None:
                vote = counts.setdefault(str(b["answer"]), Vote())
                vote.count += 1
                vote.weight += 1.0
                vote.verified += b["verdict"] == "verified"
        return counts

    def current_leader(self) -> str | None:
        if self.leader is not None:
            return str(self.leader)
        tally = self.tally()
        return max(tally, key=lambda a: tally[a].weight) if tally else None


async def stream_solve(question: str, strategy: str, config: Config, options: SolveOptions,
                       store: Store, on_update: Callable[[LiveSolve], None]) -> LiveSolve:
    """Solve ``question`` with ``strategy``, store everything, call ``on_update`` as it goes."""
    from ponder.graphs.api import as_problem, build_graph, progress_events

    problem = as_problem(question)
    run_id = new_id("run-")
    store.create_run(run_id=run_id, kind="solve", strategies=[strategy],
                     config={"roles": {k: v.model for k, v in config.roles.items()},
                             "options": options.model_dump()}, meta={"source": "ui"})
    store.add_problem(run_id, problem)
    live = LiveSolve(run_id=run_id, problem_id=problem.id, strategy=strategy)
    try:
        graph = build_graph(strategy, config, options=options, store=store, run_id=run_id)
        async for item in progress_events(graph, problem):
            if item.get("type") == "result":
                live.result = item.get("result")
            elif live.apply(item):
                on_update(live)
        if live.result is None:
            raise PonderError(f"the {strategy} graph finished without a result; "
                              "a custom graph must end by setting state['result']")
        store.save_result(live.result)
        store.update_run(run_id, status="done")
    except BaseException:
        store.update_run(run_id, status="failed")
        raise
    on_update(live)
    return live
