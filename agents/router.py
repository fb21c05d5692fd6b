"""Routing between rounds: which branches vote, what has been spent, whether to sample more,
and a cheap difficulty estimate for strategies that pick a model per problem."""

from __future__ import annotations

import re
from typing import Any, Literal

from ponder.config import SolveOptions
from ponder.types import Branch, Problem, Usage
from ponder.agents.state import SolveState

_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)*")
_HARD_WORDS = re.compile(
    r"\b(percent|ratio|average|probability|remainder|interest|rate|each of|twice|half|"
    r"prove|integral|derivative|prime|modulo|combinations?|permutations?)\b", re.I)


def estimate_difficulty(problem: Problem) -> float:
    """A cheap difficulty estimate in [0, 1] from the question's surface.

    More quantities, more sentences and certain operations mean more reasoning steps; a
    one-step arithmetic question scores near 0. It is a routing heuristic, not a grade.
    """
    text = problem.question
    numbers = len(_NUMBER.findall(text))
    sentences = max(1, len(re.findall(r"[.?!](\s|$)", text)))
    hard = len(_HARD_WORDS.findall(text))
    score = 0.12 * max(0, numbers - 2) + 0.08 * max(0, sentences - 2) + 0.2 * hard
    if problem.kind == "code":
        score += 0.3
    return round(min(1.0, score), 3)


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
