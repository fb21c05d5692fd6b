"""Routing between rounds: which branches vote, what has been spent, whether to sample more."""

from __future__ import annotations

from typing import Any, Literal

from ponder.config import SolveOptions
from ponder.types import Branch, Usage
from ponder.agents.state import SolveState

Next = Literal["sample_more", "finish"]


def stage_branches(state: SolveState) -> list[Branch]:
    """The branches sampled by the current role (earlier stages do not vote)."""
    return [b for b in state.get("branches", []) if b.index >= state.get("stage_start", 0)]


def spent(state: SolveState) -> Usage:
    """Everything spent so far on this problem."""
    return Usage.total(list(state.get("usage", [])) + [b.usage for b in state.get("branches", [])])


def budget_reached(state: SolveState, options: SolveOptions) -> str | None:
    """Which per-problem budget is used up, if any."""
    usage = spent(state)
    if options.budget_tokens is not None and usage.total_tokens >= options.budget_tokens:
        return "budget_tokens"
    if options.budget_usd is not None and usage.cost_usd >= options.budget_usd:
        return "budget_usd"
    return None


def after_vote(state: SolveState, *, options: SolveOptions) -> Next:
    """Sample more while the vote is undecided and the stage has samples left."""
    if state.get("stopped"):
        return "finish"
    undecided = not state.get("decided")
    room = len(stage_branches(state)) < state.get("stage_samples", options.samples)
    return "sample_more" if undecided and room else "finish"
