"""``beam``: step-level beam search — expand partial programs line by line, score each
candidate by the model's own token log-probabilities, prune to the best, vote on the
finished programs' results."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import BaseModel, ConfigDict, Field

from ponder.agents import search, voter
from ponder.agents.search import BeamState
from ponder.agents.deps import Deps
from ponder.agents.router import spent
from ponder.config import SolveOptions
from ponder.errors import ConfigError
from ponder.graphs.sampling import result_of, start
from ponder.graphs.strategy import Shape, Strategy
from ponder.models import ModelClient
from ponder.providers import beam_refusal


class BeamSettings(BaseModel):
    """The beam's shape: ``beam_width`` survivors, ``beam_expand`` proposals each, up to
    ``beam_depth`` lines."""

    model_config = ConfigDict(extra="forbid")

    beam_width: int = Field(3, ge=1, le=32)
    beam_expand: int = Field(2, ge=1, le=16)
    beam_depth: int = Field(8, ge=1, le=64)


def finish(state: BeamState, *, deps: Deps) -> dict[str, Any]:
    """The Result of a search: the proposals it sampled (every one billed), no early stop."""
    used = state.get("proposals", 0)
    stopped = "search_complete" if state.get("branches") else "no_answer"
    return {"result": result_of(state, deps, usage=spent(state), samples_used=used,
                                max_samples=_planned(deps.options, deps.settings), stopped=stopped)}


def _planned(options: SolveOptions, settings: BaseModel) -> int:
    s: BeamSettings = settings  # type: ignore[assignment]
    return s.beam_expand + (s.beam_depth - 1) * s.beam_width * s.beam_expand


def _check(models: ModelClient, options: SolveOptions, settings: BaseModel) -> None:
    """Refuse a model that cannot propose one scored line at a time: reasoning models, and
    providers without stop sequences or log-probabilities."""
    refusal = beam_refusal(options.role, models.role(options.role), models.profile(options.role))
    if refusal:
        raise ConfigError(refusal)


def _next(state: BeamState, runtime: Runtime[Deps]) -> str:
    return search.beam_next(state, depth=runtime.context.settings.beam_depth)  # type: ignore[attr-defined]


def build_beam(shape: Shape) -> StateGraph:
    """start → expand ⇄ prune → collect → vote → finish."""
    graph = StateGraph(BeamState, context_schema=Deps)
    graph.add_node("start", shape.node("start", start, trace_as="problem"))
    for name, node in {"expand": search.expand, "prune": search.prune,
                       "collect": search.collect, "vote": voter.vote}.items():
        graph.add_node(name, shape.node(name, node))
    graph.add_node("finish", shape.node("finish", finish, trace_as="result"))
    graph.add_edge(START, "start")
    graph.add_edge("start", "expand")
    graph.add_edge("expand", "prune")
    graph.add_conditional_edges("prune", _next, {"expand": "expand", "collect": "collect"})
    graph.add_edge("collect", "vote")
    graph.add_edge("vote", "finish")
    graph.add_edge("finish", END)
    return graph


STRATEGY = Strategy(name="beam", summary="Step-level beam search over program lines, scored by "
                    "token log-probabilities.", build=build_beam, runs_code=True,
                    settings=BeamSettings, check=_check, planned_samples=_planned)
