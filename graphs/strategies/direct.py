"""``direct``: one answer, no reasoning."""

from __future__ import annotations

from langgraph.graph import StateGraph

from ponder.graphs.sampling import Sampling, build_sampling
from ponder.graphs.strategy import Shape, Strategy, one_sample


def build_direct(shape: Shape) -> StateGraph:
    """One sample prompted for the answer alone."""
    return build_sampling(Sampling(("reason",), mode="direct"), shape)


STRATEGY = Strategy(name="direct", summary="One answer, no reasoning (the baseline).",
                    build=build_direct, prepare=one_sample)
