"""``cot``: one chain of thought."""

from __future__ import annotations

from langgraph.graph import StateGraph

from ponder.graphs.sampling import Sampling, build_sampling
from ponder.graphs.strategy import Shape, Strategy, one_sample


def build_cot(shape: Shape) -> StateGraph:
    """One sample that reasons step by step before answering."""
    return build_sampling(Sampling(("reason",)), shape)


STRATEGY = Strategy(name="cot", summary="One chain of thought.", build=build_cot,
                    prepare=one_sample)
