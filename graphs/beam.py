"""Beam search strategy: expand partial programs line by line, score, prune, vote."""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from ponder.agents import search, voter
from ponder.agents.deps import Deps
from ponder.errors import ConfigError
from ponder.graphs.runtime import Node, bind
from ponder.graphs.sampling import finish, start
from ponder.graphs.state import SolveState
from ponder.providers import beam_refusal


def build_beam(deps: Deps, *, nodes: dict[str, Node] | None = None, checkpointer: Any = None) -> Any:
    """Step-level beam search (width ``beam_width``, ``beam_expand`` proposals per beam).

    Refuses up front (``ConfigError``) a model that cannot propose one scored line at a
    time: reasoning models, and providers without stop sequences or log-probabilities.
    """
    role = deps.options.role
    refusal = beam_refusal(role, deps.models.role(role), deps.models.profile(role))
    if refusal:
        raise ConfigError(refusal)
    nodes = nodes or {}
    graph = StateGraph(SolveState)
    for name, node in {"start": start, "expand": search.expand, "prune": search.prune,
                       "collect": search.collect, "vote": voter.vote, "finish": finish}.items():
        graph.add_node(name, bind(nodes.get(name, node), deps))
    graph.add_edge(START, "start")
    graph.add_edge("start", "expand")
    graph.add_edge("expand", "prune")
    graph.add_conditional_edges("prune", lambda s: search.beam_next(s, deps=deps),
                                {"expand": "expand", "collect": "collect"})
    graph.add_edge("collect", "vote")
    graph.add_edge("vote", "finish")
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer)
