"""What a run reports while it runs: one typed definition of every event.

Nodes emit progress events (:class:`RoundStarted`, :class:`VoteCounted`, ...); the node wrapper
emits :class:`NodeFinished` for every node and :class:`BranchFinished` for every branch handed
to the vote; the run lifecycle (``ponder.graphs.lifecycle.SolveRun``) brackets them with
:class:`RunStarted` and :class:`RunFinished`. Whoever drains a run reads these same objects:
``ponder.solve``/``asolve``, the UI's live Solve page (``ponder.ui.live``) and the server
(``ponder.serve``, which streams their ``line()`` as the reasoning channel). The batch
runner does not stream: it takes each problem's ``Result``.

>>> VoteCounted(votes={"8": Vote(count=3, weight=3.0)}, leader="8", confidence=0.7).line()
'vote: leader 8 (confidence 0.70, undecided)'
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from ponder.types import Branch, Result, Vote


class _Event(BaseModel):
    def line(self) -> str | None:
        """The event as one line of text for a log or a streamed reasoning channel."""
        return None


class RunStarted(_Event):
    """The run is recorded (status ``running``); everything after belongs to ``run_id``."""

    type: Literal["run_started"] = "run_started"
    run_id: str
    problem_id: str
    strategy: str


class RoundStarted(_Event):
    """A round of ``size`` branches is being sampled with ``role``."""

    type: Literal["round"] = "round"
    size: int
    role: str

    def line(self) -> str:
        return f"sampling {self.size} branches with the {self.role} role"


class NodeFinished(_Event):
    """A node (built-in or user-supplied) ran; ``event_id`` is its trace event."""

    type: Literal["node"] = "node"
    node: str
    event_id: str
    branch_id: str | None = None
    duration_s: float = 0.0
    error: str | None = None


class TextDelta(_Event):
    """Text a model is generating for ``node`` (of branch ``branch_id``), piece by piece.

    Sent only to a consumer that asked for it (``SolveRun(stream_text=True)``)."""

    type: Literal["text"] = "text"
    node: str
    branch_id: str | None = None
    branch: int | None = None  # the branch's index, for people
    text: str


class BranchFinished(_Event):
    """A branch reached the vote with its answer and verdict."""

    type: Literal["branch"] = "branch"
    branch: Branch

    def line(self) -> str:
        b = self.branch
        return f"branch {b.index} finished: answer {b.answer} ({b.verdict})"


class VoteCounted(_Event):
    """The vote after a round: the tally, the leader, and whether sampling may stop."""

    type: Literal["vote"] = "vote"
    votes: dict[str, Vote] = Field(default_factory=dict)
    leader: str | None = None
    confidence: float = 0.0
    decided: bool = False
    confidence_parts: dict[str, Any] = Field(default_factory=dict)

    def line(self) -> str:
        state = "decided" if self.decided else "undecided"
        return f"vote: leader {self.leader} (confidence {self.confidence:.2f}, {state})"


class StageChanged(_Event):
    """Sampling moved to another role (e.g. a strategy escalating to the reasoning model)."""

    type: Literal["stage"] = "stage"
    role: str
    samples: int
    reason: str = ""

    def line(self) -> str:
        return f"moving to the {self.role} role ({self.samples} samples){': ' if self.reason else ''}{self.reason}"


class RunFinished(_Event):
    """The run's result, already saved (status ``done``)."""

    type: Literal["result"] = "result"
    result: Result


ProgressEvent = (RoundStarted | NodeFinished | TextDelta | BranchFinished | VoteCounted
                 | StageChanged)
RunEvent = Annotated[RunStarted | ProgressEvent | RunFinished, Field(discriminator="type")]
