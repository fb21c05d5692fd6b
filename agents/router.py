"""Router and escalator: keep the expensive reasoning model for the problems that need it.

Reasoning models are slower, costlier and prone to overthinking easy problems, so the
``escalate`` strategy starts on the cheap standard role and moves to the reasoning role only
when the vote stays split, the winner is unverified, or the problem looks hard up front.
"""

from __future__ import annotations

import re
import time
from typing import Any, Literal

from ponder.agents.deps import Deps
from ponder.config import SolveOptions
from ponder.types import Branch, Problem, Usage

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


def route(state: dict[str, Any], *, deps: Deps) -> dict[str, Any]:
    """Pick the first role: the standard model unless the problem already looks hard."""
    problem, started = state["problem"], time.time()
    difficulty = estimate_difficulty(problem)
    hard = difficulty >= deps.options.hard_above
    role = deps.options.escalate_role if hard else "standard"
    event = deps.record(problem, "route", started, parent=state.get("parent_event"),
                        outputs={"difficulty": difficulty, "role": role})
    return {"role": role, "difficulty": difficulty, "escalated": hard, "parent_event": event}


Next = Literal["sample_more", "escalate", "finish"]


def stage_branches(state: dict[str, Any]) -> list[Branch]:
    """The branches sampled by the current role (earlier stages do not vote)."""
    return [b for b in state.get("branches", []) if b.index >= state.get("stage_start", 0)]


def spent(state: dict[str, Any]) -> Usage:
    """Everything spent so far on this problem."""
    return Usage.total(list(state.get("usage", [])) + [b.usage for b in state.get("branches", [])])


def budget_reached(state: dict[str, Any], options: SolveOptions) -> str | None:
    """Which per-problem budget is used up, if any."""
    usage = spent(state)
    if options.max_tokens is not None and usage.total_tokens >= options.max_tokens:
        return "budget_tokens"
    if options.max_cost_usd is not None and usage.cost_usd >= options.max_cost_usd:
        return "budget_cost"
    return None


def after_vote(state: dict[str, Any], *, options: SolveOptions, can_escalate: bool) -> Next:
    """Decide what follows a vote: more samples, the reasoning model, or the result."""
    if state.get("stopped"):
        return "finish"
    undecided = not state.get("decided")
    room = len(stage_branches(state)) < state.get("stage_samples", options.samples)
    if undecided and room:
        return "sample_more"
    if can_escalate and not state.get("escalated") and needs_escalation(state, options):
        return "escalate"
    return "finish"


def needs_escalation(state: dict[str, Any], options: SolveOptions) -> bool:
    """Escalate when the vote is split or low in confidence, or the winner is unverified.

    The split is read from the *raw* vote (``confidence_parts``: branch counts before the
    confidence filter), so a filter that drops one branch of a 3:3 tie cannot turn it into
    a decision.
    """
    if state.get("answer") is None:
        return True
    parts = state.get("confidence_parts") or {}
    if parts.get("split") or parts.get("status") == "unverified":
        return True
    if parts.get("counted") and parts["agree"] / parts["counted"] < options.escalate_below:
        return True
    if state.get("confidence", 0.0) < options.escalate_below:
        return True
    winner = state.get("votes", {}).get(state["answer"])
    code_checked = any(b.execution is not None for b in stage_branches(state))
    return bool(code_checked and winner is not None and winner.verified == 0)


def escalate(state: dict[str, Any], *, deps: Deps) -> dict[str, Any]:
    """Switch sampling to the reasoning role; its branches vote afresh."""
    problem, started = state["problem"], time.time()
    start = max((b.index for b in state.get("branches", [])), default=-1) + 1
    samples = deps.options.escalation_samples
    event = deps.record(problem, "escalate", started, parent=state.get("parent_event"),
                        inputs={"from": state.get("role"), "answer": state.get("answer"),
                                "confidence": state.get("confidence")},
                        outputs={"to": deps.options.escalate_role, "samples": samples})
    deps.progress({"event": "escalated", "to": deps.options.escalate_role})
    return {"role": deps.options.escalate_role, "escalated": True, "stage_start": start,
            "stage_samples": samples, "decided": False, "parent_event": event}
