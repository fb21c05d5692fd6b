"""``direct``: one answer, no reasoning."""

from __future__ import annotations

from ponder.config import SolveOptions
from ponder.graphs.sampling import Sampling, build_sampling
from ponder.graphs.strategy import Shape, Strategy
from pydantic import BaseModel


def _one_sample(options: SolveOptions, settings: BaseModel) -> SolveOptions:
    return options.model_copy(update={"samples": 1})


def build_direct(shape: Shape):
    """One sample prompted for the answer alone."""
    return build_sampling(Sampling(("reason",), mode="direct"), shape)


STRATEGY = Strategy(name="direct", summary="One answer, no reasoning (the baseline).",
                    build=build_direct, prepare=_one_sample, planned_samples=lambda o, s: 1)
