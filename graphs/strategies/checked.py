"""``checked``: programs first; a reasoning cross-check only where the programs leave doubt.

``verified`` reasons *and* writes a program in every branch, at about 2.5× ``pot``'s tokens,
although most problems are settled by the programs alone. Here ``pot``'s branches (write a
program, run it) vote first. Where they settle the problem, that is the result, at ``pot``'s
tokens. Where they leave doubt — no program gave an answer, fewer than ``min_agree`` programs
agree on the winner, the vote is split, or the winner's confidence (its share of the vote and
how stable that is, see :mod:`ponder.agents.voter`) is below ``check_below`` — a second stage
samples ``check_samples`` cross-check branches that reason in prose (below: whether they also
write a program); reasoning that agrees with the programs' result verifies it. A crashed
program says nothing about the answer, so crashes alone lead to a cross-check only where no
program answered.

What a cross-check branch does is ``cross_check``. ``"reasoning"`` (the default) reasons only,
without a program of its own: its prose answer adds ``prose_weight`` to the programs' answer it
agrees with — what a verified pair's prose adds to its program, since a ``verified`` branch's
program is written without seeing its reasoning — and the answer it agrees with is reported
verified (:func:`ponder.agents.voter.assess`), at about 0.4× a verified branch's tokens. Where
no program gave an answer there is nothing for reasoning to check, so the cross-check writes a
program too; code problems always do (a program is their answer). ``"verified"``
(``--set cross_check=verified``) always reasons and writes a program. On 200 fresh problems ×
3 seeds the two were level in accuracy and the reasoning check cost 1.30× ``pot``'s tokens
against 1.51× (``benchmarks/README.md``).

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

``check_with="judge"`` (``--set check_with=judge``) lets the judge (:mod:`ponder.agents.judge`,
the ``judge`` role) check the cross-check branches no program can: where a branch's program
could not be written, crashed or printed no answer, the judge scores the branch's reasoning
instead, and the vote reads its score as a check of kind ``judged`` (an accepted answer
``min(1, 2 * prose_weight)``, a rejected one half of unchecked prose; a reply the judge did
not format is no score, and the prose stays unchecked). The result, its trace and its
verdict badge say which kind of check stood behind the answer: ``executed``, ``judged`` or
``none``.

Its defaults are measured in ``benchmarks/scaling.py --only checked`` (see
``benchmarks/README.md``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ponder.agents import coder, judge
from ponder.agents.deps import Deps
from ponder.agents.router import stage_branches
from ponder.agents.state import BranchState, SolveState
from ponder.agents.voter import VoteSettings
from ponder.config import SolveOptions
from ponder.graphs.sampling import Sampling, Stage, build_sampling
from ponder.graphs.strategy import Shape, Strategy, default_roles


class CheckedSettings(VoteSettings):
    """When to cross-check, with how many reasoning branches, whether they write a program too
    (``cross_check``: ``reasoning``, the default, only reasons where programs answered;
    ``verified`` reasons and writes one), and what
    checks the reasoning no program could check (``check_with``: ``program`` leaves it
    unchecked, ``judge`` asks the judge role); ``prose_weight`` is the vote's weight of
    unchecked prose."""

    check_below: float = Field(0.7, ge=0.0, le=1.0)
    check_samples: int | None = Field(None, ge=1)
    min_agree: int = Field(3, ge=1)
    check_with: Literal["program", "judge"] = "program"
    cross_check: Literal["reasoning", "verified"] = "reasoning"

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
    program = writes_program(state, settings)
    deps.trace(inputs={"answer": state.get("answer"), "confidence": state.get("confidence"),
                       "summary": (state.get("confidence_parts") or {}).get("summary")},
               outputs={"why": doubt(state, settings.check_below, settings.min_agree),
                        "samples": samples, "cross_check": settings.cross_check,
                        "program": program, "check_with": settings.check_with})
    # The plan becomes what was sampled plus the cross-check: programs the vote stopped
    # short of are not drawn later.
    update: dict[str, Any] = {"stage_samples": used + samples, "planned": used + samples,
                              "decided": False, "stage_args": {"program": program}}
    if settings.check_with == "judge":
        update["roles"] = [judge.JUDGE_ROLE]
    return update


def writes_program(state: SolveState, settings: CheckedSettings) -> bool:
    """Whether the cross-check writes a program: ``verified`` always; ``reasoning`` only where
    no program gave an answer for the reasoning to check, or for a code problem (a program is
    its answer)."""
    return (settings.cross_check == "verified" or state.get("answer") is None
            or state["problem"].kind == "code")


def reasoning_only(state: BranchState) -> bool:
    """Whether the cross-check node told this branch to only reason (a branch no stage told
    otherwise writes its program)."""
    return not (state.get("stage_args") or {}).get("program", True)


async def code_if_asked(state: BranchState, *, deps: Deps[CheckedSettings]) -> dict[str, Any]:
    """Branch step: the cross-check's program, unless the cross-check node said it only reasons
    (the graph is the same either way: it compiles once)."""
    if reasoning_only(state):
        deps.trace(outputs={"skipped": "cross_check=reasoning"})
        return {}
    return await coder.write_code(state, deps=deps)


async def judge_if_asked(state: BranchState, *, deps: Deps[CheckedSettings]) -> dict[str, Any]:
    """Branch step: the judge scores a cross-check branch no program answered, where
    ``check_with="judge"`` asks for it (the graph is the same either way: it compiles once)."""
    if deps.settings.check_with != "judge":
        deps.trace(outputs={"skipped": "check_with=program"})
        return {}
    return await judge.judge_branch(state, deps=deps)


def build_checked(shape: Shape):
    """Program branches; reason-and-program branches (judged where asked and no program
    answered) as a second stage where they leave doubt."""
    stage = Stage(name="cross_check", node=cross_check, needed=needs_check,
                  steps=("reason", "code", "execute", "judge"),
                  step_nodes={"code": code_if_asked, "judge": judge_if_asked})
    return build_sampling(Sampling(("code", "execute"), stage=stage), shape)


def checked_roles(options: SolveOptions, settings: CheckedSettings) -> list[str]:
    """The reasoning role (and the planner's), and the judge role where it checks."""
    judged = [judge.JUDGE_ROLE] if settings.check_with == "judge" else []
    return [*default_roles(options, settings), *judged]


STRATEGY = Strategy(
    name="checked", summary="Programs first; reasoning cross-checks them only where they "
    "disagree, fail or are unsure (check_with=judge: the judge checks reasoning no program "
    "could).", build=build_checked, runs_code=True, settings=CheckedSettings, roles=checked_roles)
