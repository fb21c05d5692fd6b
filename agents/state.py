"""Graph state: what flows between nodes (LangGraph channels with reducers).

``parent_event`` is the node wrapper's (``ponder.graphs.runtime``): nodes never set it."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from ponder.types import Branch, Problem, Result, StageRecord, Usage, Vote


def _latest(old: str | None, new: str | None) -> str | None:
    """The trace event the next step hangs off (nodes running side by side may both set it)."""
    return new


class SolveState(TypedDict, total=False):
    """State of one problem being solved. Branches and usage accumulate across rounds."""

    problem: Problem
    plan: str | None
    role: str
    difficulty: float
    parent_event: Annotated[str | None, _latest]
    branches: Annotated[list[Branch], operator.add]
    usage: Annotated[list[Usage], operator.add]
    roles: Annotated[list[str], operator.add]
    notes: Annotated[list[str], operator.add]
    stage_start: int
    started_at: float
    stage_samples: int
    planned: int
    round_size: int
    votes: dict[str, Vote]
    answer: str | None
    confidence: float
    confidence_parts: dict[str, Any]
    decided: bool
    stop_check: dict[str, Any]
    stopped: str | None
    stage: str | None  # the Stage sampling moved to (None: the first)
    stages: Annotated[list[StageRecord], operator.add]  # each stage entered, in order
    # What a stage's node tells the branches it plans (sent with each, see BranchState).
    stage_args: dict[str, Any]
    result: Result | None


class BranchState(TypedDict, total=False):
    """State of one branch inside the fan-out (a ``Send`` payload)."""

    problem: Problem
    role: str
    plan: str | None
    mode: str
    index: int
    branch_id: str
    parent_event: str | None
    stage_args: dict[str, Any]
    branch: Branch
    branches: Annotated[list[Branch], operator.add]


class BranchOutput(TypedDict):
    """What a branch hands back to the problem's state."""

    branches: Annotated[list[Branch], operator.add]
