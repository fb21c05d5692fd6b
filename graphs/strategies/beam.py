"""``beam``: step-level beam search — expand partial programs line by line, score each
candidate (the proposer's token log-probabilities, the judge's process score, or both; see
:mod:`ponder.agents.search`), prune to the best, vote on the finished programs' results."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from ponder.agents import labels, search, voter
from ponder.agents.deps import Deps
from ponder.agents.judge import JUDGE_ROLE
from ponder.agents.router import budget_reached, spent
from ponder.agents.search import BeamSettings, BeamState
from ponder.config import SolveOptions
from ponder.errors import ConfigError
from ponder.graphs.runtime import Node
from ponder.graphs.sampling import result_of, start
from ponder.graphs.strategy import Shape, Strategy
from ponder.models import ModelClient, validate_roles

__all__ = ["BeamSettings", "STRATEGY", "build_beam"]


def finish(state: BeamState, *, deps: Deps[Any]) -> dict[str, Any]:
    """The Result of a search: the proposals it sampled (every one billed), no early stop."""
    used = state.get("proposals", 0)
    stopped = budget_reached(state, deps.options) or (
        "search_complete" if state.get("branches") else "no_answer")
    return {"result": result_of(state, deps, usage=spent(state), samples_used=used,
                                max_samples=planned(deps.settings), stopped=stopped)}


def planned(settings: BeamSettings) -> int:
    """Proposals a full search samples: ``beam_expand`` first, then width × expand a round."""
    return settings.beam_expand + (settings.beam_depth - 1) * settings.beam_width * settings.beam_expand


def check(models: ModelClient, options: SolveOptions, settings: BeamSettings) -> None:
    """Refuse up front what cannot work: a log-probability scorer for a proposer without
    usable log-probabilities (naming the model and provider); check the judge role where it
    scores the steps."""
    refusal = search.scorer_refusal(models, options.role, settings)
    if refusal:
        raise ConfigError(refusal)
    if search.resolve_scorer(models, options.role, settings) in ("judge", "sum"):
        validate_roles(models.config, [JUDGE_ROLE])


def _roles(options: SolveOptions, settings: BeamSettings) -> list[str]:
    """The proposer, and the judge where the settings name it (``auto`` adds it in ``check``
    when the proposer has no log-probabilities)."""
    judged = settings.beam_scorer in ("judge", "sum")
    return [options.role] + ([JUDGE_ROLE] if judged else [])


def _after_expand(state: BeamState, runtime: Runtime[Deps[BeamSettings]]) -> str:
    return search.after_expand(state, runtime.context)


def _next(state: BeamState, runtime: Runtime[Deps[BeamSettings]]) -> str:
    return search.beam_next(state, runtime.context)


def build_beam(shape: Shape) -> StateGraph[Any, Any, Any, Any]:
    """start → expand → [judge →] prune ⇄ expand … → collect → vote → finish."""
    graph = StateGraph(BeamState, context_schema=Deps)
    graph.add_node("start", shape.node("start", start, trace_as=labels.PROBLEM))
    nodes: dict[str, Node] = {"expand": search.expand, "judge": search.judge_steps,
                              "prune": search.prune, "collect": search.collect,
                              "vote": voter.vote}
    for name, node in nodes.items():
        graph.add_node(name, shape.node(name, node))
    graph.add_node("finish", shape.node("finish", finish, trace_as=labels.RESULT))
    graph.add_edge(START, "start")
    graph.add_edge("start", "expand")
    graph.add_conditional_edges("expand", _after_expand, {"judge": "judge", "prune": "prune"})
    graph.add_edge("judge", "prune")
    graph.add_conditional_edges("prune", _next, {"expand": "expand", "collect": "collect"})
    graph.add_edge("collect", "vote")
    graph.add_edge("vote", "finish")
    graph.add_edge("finish", END)
    return graph


STRATEGY = Strategy(name="beam", summary="Step-level beam search over program lines, scored by "
                    "token log-probabilities or the judge.", build=build_beam, runs_code=True,
                    settings=BeamSettings, roles=_roles, check=check)
