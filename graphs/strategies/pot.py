"""``pot``: program of thought — the model writes code, the sandbox computes the answer."""

from __future__ import annotations

from langgraph.graph import StateGraph

from ponder.graphs.sampling import Sampling, build_sampling
from ponder.graphs.strategy import Shape, Strategy


def build_pot(shape: Shape) -> StateGraph:
    """Up to ``samples`` programs, executed and voted on their results."""
    return build_sampling(Sampling(("code", "execute")), shape)


STRATEGY = Strategy(name="pot", summary="Program of thought: sampled programs run in the "
                    "sandbox, their results voted.", build=build_pot, runs_code=True)
