"""``checked``: programs first; a reasoning cross-check only where the programs leave doubt.

``verified`` reasons *and* writes a program in every branch, at about 2.5× ``pot``'s tokens,
although most problems are settled by the programs alone. Here ``pot``'s branches (write a
program, run it) vote first. Where they settle the problem, that is the result, at ``pot``'s
tokens. Where they leave doubt — no program gave an answer, fewer than ``min_agree`` programs
agree on the winner, the vote is split, or the winner's confidence (its share of the vote and
how stable that is, see :mod:`ponder.agents.voter`) is below ``check_below`` — a second stage
samples ``check_samples`` ``verified``-style branches (reason, write a program, run it; the
reasoning agreeing with the program verifies the branch). A crashed program says nothing about
the answer, so crashes alone lead to a cross-check only where no program answered.

``min_agree`` (3) makes the decision independent of how early the programs' vote stopped: the
adaptive stop rule may stop a small budget on a 2:0 start (its Beta criterion says the leader
very probably holds), but two agreeing programs of a weak model are often both wrong, so a
vote of fewer than three agreeing programs is always cross-checked.

The vote then counts both stages together with :mod:`ponder.agents.voter`'s evidence table
(the same as ``verified``'s and ``escalate``'s): a program-only branch 1, a verified branch
``1 + prose_weight``, a refuted one ``max(prose_weight, 1 - prose_weight)`` for its program's
result, prose whose program crashed ``prose_weight``, each times its token confidence. So one
verified branch outweighs a lone program, and a 2:2 split between programs goes to the answer
the reasoning confirms.

Its defaults are measured in ``benchmarks/scaling.py --only checked`` (see
``benchmarks/README.md``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ponder.agents.deps import Deps
from ponder.agents.router import stage_branches
from ponder.agents.state import SolveState
from ponder.agents.voter import VoteSettings
from ponder.config import SolveOptions
from ponder.graphs.sampling import Sampling, Stage, build_sampling
from ponder.graphs.strategy import Shape, Strategy


class CheckedSettings(VoteSettings):
    """When to cross-check, and with how many reasoning branches (and ``prose_weight``, the
    vote's weight of unchecked prose)."""

    check_below: float = Field(0.7, ge=0.0, le=1.0)
    check_samples: int | None = Field(None, ge=1)
    min_agree: int = Field(3, ge=1)

    def samples_after(self, options: SolveOptions) -> int:
        """Cross-check branches when one is needed (a quarter of ``samples`` by default)."""
        return self.check_samples or max(1, options.samples // 4)


def doubt(state: SolveState, below: float, min_agree: int = 1) -> str | None:
    """Why the programs' vote needs a cross-check, or ``None`` when it stands."""
    if state.get("answer") is None:
        return "no program gave an answer"
    parts = state.get("confidence_parts") or {}
    if parts.get("agree", 0) < min_agree:
        return (f"only {parts.get('agree', 0)} program(s) agree on the winner, fewer than "
                f"{min_agree}: {parts.get('summary', '')}")
    if parts.get("split"):
        return "the programs' vote is split"
    if state.get("confidence", 0.0) < below:
        return f"confidence {state.get('confidence', 0.0):.2f} < {below}: {parts.get('summary', '')}"
    return None


def needs_check(state: SolveState, deps: Deps[CheckedSettings]) -> bool:
    return doubt(state, deps.settings.check_below, deps.settings.min_agree) is not None


def cross_check(state: SolveState, *, deps: Deps[CheckedSettings]) -> dict[str, Any]:
    """Plan the cross-check branches; the programs' branches keep their votes."""
    settings = deps.settings
    samples = settings.samples_after(deps.options)
    used = len(stage_branches(state))
    deps.trace(inputs={"answer": state.get("answer"), "confidence": state.get("confidence"),
                       "summary": (state.get("confidence_parts") or {}).get("summary")},
               outputs={"why": doubt(state, settings.check_below, settings.min_agree),
                        "samples": samples})
    # The plan becomes what was sampled plus the cross-check: programs the vote stopped
    # short of are not drawn later.
    return {"stage_samples": used + samples, "planned": used + samples, "decided": False}


def build_checked(shape: Shape):
    """Program branches; reason-and-program branches as a second stage where they leave doubt."""
    stage = Stage(name="cross_check", node=cross_check, needed=needs_check,
                  steps=("reason", "code", "execute"))
    return build_sampling(Sampling(("code", "execute"), stage=stage), shape)


STRATEGY = Strategy(
    name="checked", summary="Programs first; reasoning cross-checks them only where they "
    "disagree, fail or are unsure.", build=build_checked, runs_code=True, settings=CheckedSettings)
