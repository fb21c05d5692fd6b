"""``cot``: one chain of thought."""

from __future__ import annotations

from ponder.graphs.sampling import Sampling, build_sampling
from ponder.graphs.strategies.direct import _one_sample
from ponder.graphs.strategy import Shape, Strategy


def build_cot(shape: Shape):
    """One sample that reasons step by step before answering."""
    return build_sampling(Sampling(("reason",)), shape)


STRATEGY = Strategy(name="cot", summary="One chain of thought.", build=build_cot,
                    prepare=_one_sample, planned_samples=lambda o, s: 1)
