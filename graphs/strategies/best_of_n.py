"""``best-of-n``: N samples, one picked — by the problem's tests where it has them, else by
the judge (an outcome verifier model, :mod:`ponder.agents.judge`).

Every branch reasons and cross-checks with a program (as ``verified``), then the judge scores
each answered branch as a whole. ``pick="best"`` (the default) answers with the top branch:
passing the problem's tests first (code problems; the judge breaks ties between passing
branches), then the judge's score (a branch it gave no score ranks after scored ones), then an
executed cross-check, then token confidence. ``pick="weighted"`` votes instead, each branch
weighed as usual (verification × token confidence) times its judge score: weighted best-of-N.

Where the judge decided, the result says so (``confidence_parts["check"] = "judged"``), its
confidence is the judge's score of the answer, and a score of at least
:data:`~ponder.agents.judge.ACCEPT` counts as the answer verified.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from pydantic import BaseModel, ConfigDict

from ponder.agents import judge, labels, planner, voter
from ponder.agents.deps import Deps
from ponder.agents.judge import ACCEPT, JUDGE_ROLE, JudgedState
from ponder.agents.router import stage_branches
from ponder.agents.state import SolveState
from ponder.config import SolveOptions
from ponder.events import VoteCounted
from ponder.graphs import sampling
from ponder.graphs.strategy import Shape, Strategy, default_roles
from ponder.types import Branch, Problem


class BestOfNSettings(BaseModel):
    """``pick``: the judge's (or the tests') single best branch, or a vote weighted by judge
    scores."""

    model_config = ConfigDict(extra="forbid")

    pick: Literal["best", "weighted"] = "best"


def _has_tests(problem: Problem) -> bool:
    return problem.kind == "code" and bool(problem.tests)


def rank(branch: Branch, score: float | None, tests: bool) -> tuple[Any, ...]:
    """Passing the tests, then the judge's score (scored first), then an executed
    cross-check, then token confidence, then the earlier branch."""
    return (tests and branch.verdict == "verified", score is not None, score or 0.0,
            branch.verdict == "verified", branch.confidence or 0.0, -branch.index)


def judged_parts(parts: dict[str, Any], score: float | None, tests: bool) -> dict[str, Any]:
    """The confidence parts once the tests or the judge stand behind the answer."""
    if tests:
        return {**parts, "check": "executed"}
    if score is None:
        return parts
    out = {**parts, "check": "judged", "judge_score": round(score, 4),
           "confidence": round(score, 4),
           "summary": f"judge score {score:.2f}; {parts.get('summary', '')}"}
    if score >= ACCEPT and out.get("status") != "no_answer":
        out["status"] = "verified"
    return out


def pick_best(state: JudgedState, *, deps: Deps[Any]) -> dict[str, Any]:
    """The top-ranked branch's answer (:func:`rank`), whatever the others say."""
    problem, branches = state["problem"], stage_branches(state)
    judged, tests = state.get("judged") or {}, _has_tests(problem)
    answered = [b for b in branches if b.answer is not None and b.verdict != "no_answer"]
    order = sorted(answered, key=lambda b: rank(b, judged.get(b.id), tests), reverse=True)
    best = order[0] if order else None
    votes = voter.tally(branches, problem.kind)
    answer = best.answer if best else None
    total = sum(v.weight for v in votes.values())
    share = votes[answer].weight / total if answer in votes and total else 0.0
    parts = voter.assess(branches, answer, share, problem.kind)
    parts = judged_parts(parts, judged.get(best.id) if best else None, tests)
    deps.trace(outputs={"pick": "best", "best": best.index if best else None, "answer": answer,
                        "ranked": [{"branch": b.index, "answer": b.answer, "verdict": b.verdict,
                                    "judge": judged.get(b.id)} for b in order],
                        "confidence_parts": parts})
    deps.progress(VoteCounted(votes=votes, leader=answer, confidence=parts["confidence"],
                              decided=True, confidence_parts=parts))
    return {"votes": votes, "answer": answer, "confidence": parts["confidence"],
            "confidence_parts": parts, "decided": True}


def weighted_vote(state: JudgedState, *, deps: Deps[Any]) -> dict[str, Any]:
    """The voter's usual vote, each branch scaled by its judge score (see
    :func:`ponder.agents.judge.vote_scale`)."""
    update = voter.vote(state, deps=deps)
    judged, answer = state.get("judged") or {}, update["answer"]
    mine = [score for b in stage_branches(state)
            if b.answer == answer and (score := judged.get(b.id)) is not None]
    score = sum(mine) / len(mine) if mine else None
    parts = judged_parts(update["confidence_parts"], score, _has_tests(state["problem"]))
    if score is not None:
        parts["confidence"] = update["confidence"]  # the weighted vote's own confidence
    shown = (deps.span.outputs or {}) if deps.span else {}
    deps.trace(outputs={**shown, "pick": "weighted", "judge_score": score})
    return {**update, "confidence_parts": parts, "decided": True}


def choose(state: JudgedState, *, deps: Deps[BestOfNSettings]) -> dict[str, Any]:
    """Graph node: the pick the settings ask for."""
    return (weighted_vote if deps.settings.pick == "weighted" else pick_best)(state, deps=deps)


def finish(state: JudgedState, *, deps: Deps[Any]) -> dict[str, Any]:
    """The Result, its branches carrying their judge scores (``rewards["judge"]``)."""
    judged = state.get("judged") or {}
    branches = [b.model_copy(update={"rewards": {**b.rewards, "judge": judged[b.id]}})
                if judged.get(b.id) is not None else b for b in state.get("branches", [])]
    return sampling.finish(cast(SolveState, {**state, "branches": branches}), deps=deps)


def _fan_out(state: SolveState) -> list[Send] | str:
    sends = sampling.fan_out(state, mode="cot")
    return "judge" if sends == "vote" else sends


def build_best_of_n(shape: Shape) -> StateGraph[Any, Any, Any, Any]:
    """start → [plan →] dispatch → N branches → judge → vote (pick) → finish."""
    graph = StateGraph(JudgedState, context_schema=Deps)
    graph.add_node("start", shape.node("start", sampling.start, trace_as=labels.PROBLEM))
    chain = ["start", *(["plan"] if shape.plan else []), "dispatch"]
    if shape.plan:
        graph.add_node("plan", shape.node("plan", planner.plan))
    graph.add_node("dispatch", shape.node("dispatch", sampling.dispatch))
    graph.add_node("branch", sampling.branch_graph(("reason", "code", "execute"), shape))
    graph.add_node("judge", shape.node("judge", judge.judge_branches))
    graph.add_node("vote", shape.node("vote", choose))
    graph.add_node("finish", shape.node("finish", finish, trace_as=labels.RESULT))
    graph.add_edge(START, "start")
    for a, b in zip(chain, chain[1:]):
        graph.add_edge(a, b)
    graph.add_conditional_edges("dispatch", _fan_out, ["branch", "judge"])
    graph.add_edge("branch", "judge")
    graph.add_edge("judge", "vote")
    graph.add_edge("vote", "finish")
    graph.add_edge("finish", END)
    return graph


def _all_n(options: SolveOptions, settings: BestOfNSettings) -> SolveOptions:
    """Best-of-N draws all N samples: there is no vote to settle early."""
    return options.model_copy(update={"early_stop": False})


def _roles(options: SolveOptions, settings: BestOfNSettings) -> list[str]:
    return [*default_roles(options, settings), JUDGE_ROLE]


STRATEGY = Strategy(
    name="best-of-n", summary="N samples; the tests or the judge pick one (pick=weighted: a "
    "vote weighted by judge scores).", build=build_best_of_n, runs_code=True,
    settings=BestOfNSettings, roles=_roles, prepare=_all_n)
