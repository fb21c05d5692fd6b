"""A plugin strategy with typed settings of its own: the answer of branch ``pick``.

Its node declares ``deps: Deps[PickSettings]`` and reads ``deps.settings.pick`` with no cast;
``tests/graphs/test_typed_settings.py`` type-checks this file and runs it.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import StateGraph
from pydantic import BaseModel, ConfigDict, Field

from ponder.agents import voter
from ponder.agents.deps import Deps
from ponder.config import SolveOptions
from ponder.graphs.sampling import Sampling, build_sampling
from ponder.graphs.strategy import Shape, Strategy


class PickSettings(BaseModel):
    """``pick``: the index of the branch whose answer wins."""

    model_config = ConfigDict(extra="forbid")

    pick: int = Field(0, ge=0)


def pick_nth(state: dict[str, Any], *, deps: Deps[PickSettings]) -> dict[str, Any]:
    """The vote, replaced: branch ``deps.settings.pick`` decides."""
    settings: PickSettings = deps.settings  # typed: no cast, no ignore
    branches = sorted(state.get("branches", []), key=lambda b: b.index)
    chosen = branches[settings.pick] if settings.pick < len(branches) else None
    votes = voter.tally(branches, state["problem"].kind)
    deps.trace(outputs={"settings": type(settings).__name__, "pick": settings.pick,
                        "answer": chosen.answer if chosen else None})
    return {"votes": votes, "answer": chosen.answer if chosen else None, "confidence": 1.0,
            "confidence_parts": {}, "decided": True}


def every_sample(options: SolveOptions, settings: PickSettings) -> SolveOptions:
    """Draw ``pick + 1`` samples at least, all of them (no vote to settle early)."""
    return options.model_copy(update={"samples": max(options.samples, settings.pick + 1),
                                      "early_stop": False})


def build_pick_nth(shape: Shape) -> StateGraph:
    return build_sampling(Sampling(("reason",)), Shape(plan=shape.plan,
                                                       nodes={"vote": pick_nth, **shape.nodes}))


STRATEGY = Strategy(name="pick-nth", summary="The answer of the branch the settings pick.",
                    build=build_pick_nth, settings=PickSettings, prepare=every_sample)
