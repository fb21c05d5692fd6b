"""``escalate``: the cheap standard model first, the reasoning model only when needed.

Reasoning models are slower, costlier and prone to overthinking easy problems, so this
strategy samples the standard role and moves to the reasoning role when the vote stays split,
the winner is unverified or weakly supported, or the problem looks hard up front.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field

from ponder.agents.deps import Deps
from ponder.agents.router import stage_branches
from ponder.agents.voter import VoteSettings
from ponder.config import SolveOptions
from ponder.events import StageChanged
from ponder.graphs.sampling import Sampling, Stage, build_sampling, entered
from ponder.graphs.strategy import Shape, Strategy
from ponder.agents.state import SolveState
from ponder.types import Problem

STAGE = "escalate"  # the stage's name, in the graph and in ``Result.stages``

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


class EscalateSettings(VoteSettings):
    """When and where to escalate; its votes weigh prose as ``prose_weight`` says
    (:mod:`ponder.agents.voter`)."""

    escalate_role: str = "reasoner"
    escalate_below: float = Field(0.6, ge=0.0, le=1.0)
    escalate_samples: int | None = Field(None, ge=1)
    hard_above: float = Field(0.7, ge=0.0, le=1.0)

    def samples_after(self, options: SolveOptions) -> int:
        """Samples the reasoning role gets after an escalation (half of ``samples`` by default)."""
        return self.escalate_samples or max(1, options.samples // 2)


def route(state: SolveState, *, deps: Deps[EscalateSettings]) -> dict[str, Any]:
    """Pick the first role: the standard model unless the problem already looks hard, which
    goes straight to the escalation stage."""
    settings = deps.settings
    difficulty = estimate_difficulty(state["problem"])
    hard = difficulty >= settings.hard_above
    role = settings.escalate_role if hard else "standard"
    deps.trace(outputs={"difficulty": difficulty, "role": role})
    if hard:
        return entered(STAGE, {**state, "role": "standard"}, {"role": role, "difficulty": difficulty})
    return {"role": role, "difficulty": difficulty}


def needs_escalation(state: SolveState, deps: Deps[EscalateSettings]) -> bool:
    """Escalate when the vote is split or low in confidence, or the winner is unverified.

    The split is read from the *raw* vote (``confidence_parts``: branch counts before the
    confidence filter), so a filter that drops one branch of a 3:3 tie cannot turn it into
    a decision.
    """
    below = deps.settings.escalate_below
    if state.get("answer") is None:
        return True
    parts = state.get("confidence_parts") or {}
    if parts.get("split") or parts.get("status") == "unverified":
        return True
    if parts.get("counted") and parts["agree"] / parts["counted"] < below:
        return True
    if state.get("confidence", 0.0) < below:
        return True
    winner = state.get("votes", {}).get(state["answer"] or "")  # answered: checked above
    code_checked = any(b.execution is not None for b in stage_branches(state))
    return bool(code_checked and winner is not None and winner.verified == 0)


def escalate(state: SolveState, *, deps: Deps[EscalateSettings]) -> dict[str, Any]:
    """Switch sampling to the reasoning role; its branches vote afresh."""
    settings = deps.settings
    first = max((b.index for b in state.get("branches", [])), default=-1) + 1
    samples = settings.samples_after(deps.options)
    deps.trace(inputs={"from": state.get("role"), "answer": state.get("answer"),
                       "confidence": state.get("confidence")},
               outputs={"to": settings.escalate_role, "samples": samples})
    deps.progress(StageChanged(role=settings.escalate_role, samples=samples,
                               reason="the cheap model's vote was not good enough"))
    return {"role": settings.escalate_role, "stage_start": first,
            "stage_samples": samples, "planned": state.get("planned", 0) + samples,
            "decided": False}


def build_escalate(shape: Shape):
    """Verified sampling on the standard role, with the reasoning role as a second stage."""
    stage = Stage(name=STAGE, node=escalate, needed=needs_escalation, route=route)
    return build_sampling(Sampling(("reason", "code", "execute"), stage=stage), shape)


def _roles(options: SolveOptions, settings: EscalateSettings) -> list[str]:
    return list(dict.fromkeys(["standard", settings.escalate_role, "reasoner"]))


STRATEGY = Strategy(
    name="escalate", summary="Standard model first; the reasoning model only when the vote is "
    "split, weak or unverified.", build=build_escalate, runs_code=True, settings=EscalateSettings,
    roles=_roles)
