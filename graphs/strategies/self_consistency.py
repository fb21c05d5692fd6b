"""``self-consistency``: majority vote over sampled chains of thought (Wang et al., 2022),
stopping early once the vote is decided."""

from __future__ import annotations

from langgraph.graph import StateGraph

from ponder.graphs.sampling import Sampling, build_sampling
from ponder.graphs.strategy import Shape, Strategy


def build_self_consistency(shape: Shape) -> StateGraph:
    """Up to ``samples`` chains of thought, voted."""
    return build_sampling(Sampling(("reason",)), shape)


STRATEGY = Strategy(name="self-consistency",
                    summary="Majority vote over up to N chains of thought, stopping once decided.",
                    build=build_self_consistency)
