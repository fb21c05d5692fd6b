"""Solve one question while reporting progress: the engine behind the Solve page.

:class:`LiveJobs` runs each solve in a background thread, draining the run lifecycle
(``ponder.graphs.lifecycle.SolveRun``) that ``ponder.solve`` also drains, and folds its typed
events into the job's :class:`LiveSolve` snapshot, which the page polls and redraws as steps
and branches finish and the vote leader changes. No Streamlit here: the page owns the drawing.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ponder.agents.voter import tally
from ponder.config import Config, SolveOptions
from ponder.errors import PonderError
from ponder.events import (BranchFinished, NodeFinished, RoundStarted, RunFinished, RunStarted,
                           StageChanged, TextDelta, VoteCounted)
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
    # Every stage the sampling moved through (a strategy escalating, ``checked`` cross-
    # checking), in order: the generic record the result's ``stages`` also keeps.
    stages: list[StageChanged] = field(default_factory=list)
    result: Result | None = None
    # The text being generated right now, by branch id (None: the problem's own steps).
    writing: dict[str | None, tuple[str, str]] = field(default_factory=dict)
    branch_index: dict[str, int] = field(default_factory=dict)

    def apply(self, event: Any) -> bool:
        """Fold one event in; True when the picture changed."""
        if isinstance(event, TextDelta):
            if event.branch_id and event.branch is not None:
                self.branch_index[event.branch_id] = event.branch
            node, text = self.writing.get(event.branch_id, (event.node, ""))
            self.writing[event.branch_id] = (event.node, (text if node == event.node else "")
                                             + event.text)
        elif isinstance(event, BranchFinished):
            self.branches.append(event.branch)
            self.writing.pop(event.branch.id, None)
        elif isinstance(event, NodeFinished):
            self.steps.append(event)
            if self.writing.get(event.branch_id, ("", ""))[0] == event.node:
                self.writing.pop(event.branch_id, None)
        elif isinstance(event, VoteCounted):
            self.votes, self.leader = dict(event.votes), event.leader
        elif isinstance(event, RoundStarted):
            self.dispatched += event.size
        elif isinstance(event, StageChanged):
            self.stages.append(event)
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


CANCELLED = "cancelled from the Solve page"


@dataclass
class LiveJob:
    """A solve running in the background of the UI server: the page polls it, a reload finds
    it again by run id, and the cancel button stops it (the run ends ``cancelled``)."""

    live: LiveSolve
    started: float = field(default_factory=time.time)
    status: str = "running"  # running | done | failed | cancelled
    error: str | None = None
    finished: float | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _task: asyncio.Task | None = None

    @property
    def run_id(self) -> str:
        return self.live.run_id

    @property
    def elapsed_s(self) -> float:
        return (self.finished or time.time()) - self.started

    def cancel(self) -> bool:
        """Ask the run to stop; False when it already ended."""
        if self.status != "running" or self._loop is None or self._task is None:
            return False
        self._loop.call_soon_threadsafe(self._task.cancel, CANCELLED)
        return True


class LiveJobs:
    """The background solves of one UI server, by run id."""

    def __init__(self) -> None:
        self._jobs: dict[str, LiveJob] = {}
        self._lock = threading.Lock()

    def get(self, run_id: str) -> LiveJob | None:
        with self._lock:
            return self._jobs.get(run_id)

    def start(self, question: str, strategy: str, config: Config, options: SolveOptions,
              store: Store) -> LiveJob:
        """Record the run now (so its id can go in the URL) and solve it in a thread."""
        from ponder.graphs.api import as_problem
        from ponder.graphs.lifecycle import SolveRun

        problem = as_problem(question)
        run = SolveRun(problem, strategy, config, options, store=store, meta={"source": "ui"},
                       stream_text=True)
        run.open()
        job = LiveJob(LiveSolve(run_id=run.run_id, problem_id=problem.id, strategy=strategy,
                                kind=problem.kind))
        ready = threading.Event()
        thread = threading.Thread(target=self._run, args=(run, job, ready), daemon=True,
                                  name=f"ponder-live-{run.run_id}")
        with self._lock:
            self._jobs[run.run_id] = job
        thread.start()
        ready.wait(10)
        return job

    @staticmethod
    def _run(run: Any, job: LiveJob, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        job._loop = loop
        job._task = loop.create_task(_drain(run, job))
        ready.set()
        try:
            loop.run_until_complete(job._task)
        except BaseException:  # noqa: BLE001 - recorded on the job by _drain
            pass
        finally:
            job.finished = time.time()
            loop.close()


async def _drain(run: Any, job: LiveJob) -> None:
    try:
        async for event in run.events():
            job.live.apply(event)
        job.status = "done"
    except asyncio.CancelledError:  # the run recorded itself cancelled, with the reason
        job.status, job.error = "cancelled", CANCELLED
        raise
    except Exception as exc:  # noqa: BLE001 - shown on the page; the run is marked failed
        job.status, job.error = "failed", str(exc) if isinstance(exc, PonderError) \
            else f"{type(exc).__name__}: {exc}"
