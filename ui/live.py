"""Solve one question while reporting progress: the engine behind the Solve page.

It drains the run lifecycle (``ponder.graphs.lifecycle.SolveRun``) that ``ponder.solve`` also
drains, folding its typed events into a :class:`LiveSolve` snapshot handed to a callback after
every event, so a page can redraw as steps and branches finish and the vote leader changes.
No Streamlit here: the page owns the drawing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ponder.agents.voter import tally
from ponder.config import Config, SolveOptions
from ponder.events import (BranchFinished, NodeFinished, RoundStarted, RunFinished, RunStarted,
                           StageChanged, VoteCounted)
from ponder.store import Store
from ponder.types import Branch, ProblemKind, Result, Vote


@dataclass
class LiveSolve:
    """What is known so far about a solve in progress."""

    run_id: str
    problem_id: str
    strategy: str
    kind: ProblemKind = "math"
    branches: list[Branch] = field(default_factory=list)
    steps: list[NodeFinished] = field(default_factory=list)
    votes: dict[str, Vote] = field(default_factory=dict)
    leader: str | None = None
    dispatched: int = 0
    escalated_to: str | None = None
    result: Result | None = None

    def apply(self, event: Any) -> bool:
        """Fold one event in; True when the picture changed."""
        if isinstance(event, BranchFinished):
            self.branches.append(event.branch)
        elif isinstance(event, NodeFinished):
            self.steps.append(event)
        elif isinstance(event, VoteCounted):
            self.votes, self.leader = dict(event.votes), event.leader
        elif isinstance(event, RoundStarted):
            self.dispatched += event.size
        elif isinstance(event, StageChanged):
            self.escalated_to = event.role
        elif isinstance(event, RunFinished):
            self.result = event.result
        elif isinstance(event, RunStarted):
            self.run_id = event.run_id
        else:
            return False
        return True

    def rows(self) -> list[dict[str, Any]]:
        """Finished branches as table rows: both answers, the verdict, which one counted."""
        return [{"branch": b.index, "answer": b.answer, "reasoned": b.reasoned_answer,
                 "program": b.code_answer, "verdict": b.verdict} for b in self.branches]

    def tally(self) -> dict[str, Vote]:
        """The vote so far: the last vote's, else the finished branches counted the same way."""
        return self.votes or tally(self.branches, self.kind)

    def current_leader(self) -> str | None:
        if self.leader is not None:
            return str(self.leader)
        counted = self.tally()
        return max(counted, key=lambda a: counted[a].weight) if counted else None


async def stream_solve(question: str, strategy: str, config: Config, options: SolveOptions,
                       store: Store, on_update: Callable[[LiveSolve], None]) -> LiveSolve:
    """Solve ``question`` with ``strategy``, store everything, call ``on_update`` as it goes."""
    from ponder.graphs.api import as_problem
    from ponder.graphs.lifecycle import SolveRun

    problem = as_problem(question)
    run = SolveRun(problem, strategy, config, options, store=store, meta={"source": "ui"})
    live = LiveSolve(run_id=run.run_id, problem_id=problem.id, strategy=strategy,
                     kind=problem.kind)
    async for event in run.events():
        if live.apply(event):
            on_update(live)
    return live
