"""A strategy of your own in one file: best-of-N by the executed check alone.

Sample N branches that reason and cross-check with a program, then keep the single best
branch — verified before unverified, then the model's own token confidence — instead of a
majority vote (the built-in ``best-of-n`` asks a judge model instead). Register it with one
line in ``ponder.toml``::

    plugins = ["examples/best_of_n.py"]

and ``ponder solve --strategy best-verified``, ``ponder batch --strategy best-verified``, the
UI's Solve page and ``ponder serve`` (model ``best-verified``) all offer it. From Python::

    python examples/best_of_n.py
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import StateGraph
from pydantic import BaseModel, ConfigDict

import ponder
from ponder.agents import voter
from ponder.agents.deps import Deps
from ponder.config import SolveOptions
from ponder.graphs.registry import register_strategy
from ponder.graphs.sampling import Sampling, build_sampling
from ponder.graphs.strategy import Shape, Strategy
from ponder.types import Branch


class BestOfNSettings(BaseModel):
    """``require_verified``: answer only when some branch's program confirmed its reasoning."""

    model_config = ConfigDict(extra="forbid")

    require_verified: bool = False


def rank(branch: Branch) -> tuple[bool, float, int]:
    """Verified first, then token confidence, then the earlier branch."""
    return branch.verdict == "verified", branch.confidence or 0.0, -branch.index


def pick_best(state: dict[str, Any], *, deps: Deps[BestOfNSettings]) -> dict[str, Any]:
    """Replace the vote: the best branch's answer wins, whatever the others say.

    ``Deps[BestOfNSettings]``: the strategy's own settings reach the node typed.
    """
    problem, branches = state["problem"], state.get("branches", [])
    answered = [b for b in branches if b.answer is not None and b.verdict != "no_answer"]
    if deps.settings.require_verified:
        answered = [b for b in answered if b.verdict == "verified"]
    best = max(answered, key=rank, default=None)
    votes = voter.tally(branches, problem.kind)
    answer = best.answer if best else None
    share = votes[answer].weight / sum(v.weight for v in votes.values()) if answer in votes else 0.0
    parts = voter.assess(branches, answer, share, problem.kind)
    deps.trace(outputs={"best": best.index if best else None, "answer": answer,
                        "ranked": [[b.index, b.verdict, b.confidence] for b in
                                   sorted(answered, key=rank, reverse=True)]})
    return {"votes": votes, "answer": answer, "confidence": parts["confidence"],
            "confidence_parts": parts, "decided": True}


def all_n(options: SolveOptions, settings: BestOfNSettings) -> SolveOptions:
    """Best-of-N draws all N samples: there is no vote to settle early."""
    return options.model_copy(update={"early_stop": False})


def build_best_of_n(shape: Shape) -> StateGraph:
    nodes = {"vote": pick_best, **shape.nodes}  # the user's replacements still win
    return build_sampling(Sampling(("reason", "code", "execute")),
                          Shape(plan=shape.plan, nodes=nodes))


STRATEGY = register_strategy(Strategy(
    name="best-verified", summary="Best of N verified branches (verified first, then confidence).",
    build=build_best_of_n, runs_code=True, settings=BestOfNSettings, prepare=all_n))


def main() -> None:
    result = ponder.solve("A box holds 6 eggs. How many eggs are in 7 boxes?",
                          strategy="best-verified", samples=4)
    print(f"answer: {result.answer} from {result.samples_used} samples")
    print("verdicts:", [b.verdict for b in result.branches])


if __name__ == "__main__":
    main()
