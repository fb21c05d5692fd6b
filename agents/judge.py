"""The judge: a verifier model that scores solutions (outcome) or steps (process).

Inference-time scaling has two kinds of verifier: checks that can be executed (the sandbox)
and a model that scores candidates — an outcome reward model for whole solutions, a process
reward model for the latest step of a partial one ("search against a verifier"). The judge is
the second kind, served by the ``judge`` role (the standard role unless configured). A score
is the probability, in [0, 1], that the candidate (or step) is correct, read one of two ways:

* ``logprob`` — where the judge model returns token log-probabilities (and is not a
  reasoning model): a one-word ``Yes``/``No`` verdict at temperature 0, and P(yes) from the
  verdict token's probability ``p``: ``(1 + p) / 2`` after Yes, ``(1 - p) / 2`` after No.
  Providers return only the sampled token's log-probability, so the mass the judge put on
  other tokens is taken to say nothing either way (half of it to each side): a sure verdict
  scores near 1 or 0, a hesitant one near 0.5, and a No never scores above 0.5. A verdict that
  came back without log-probabilities (a server ignoring the parameter, or thinking before
  it) counts as 1 or 0 (``how="verdict"``).
* ``score`` — otherwise: the judge may think, then must end with the line ``Score: <number in
  [0, 1]>`` (:func:`parse_score`; nothing else is read).

Anything else is **no score** (``Judgement.score is None``, with the reason in ``why``), shown
in the trace; it is never turned into 0.5. Callers rank unscored candidates after scored ones.

Judge calls are ordinary :class:`~ponder.models.ModelClient` calls made from the node that
needs them: metered in that node's trace event, cached like any other request, and returned
as ``usage`` so the run's total and its budget count them.

>>> [j] = await judge(deps, problem, ["6 * 7 = 42.\\nFinal answer: 42"], mode="outcome")
>>> j.score, j.how
(0.93, 'logprob')
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from ponder.agents.deps import Deps
from ponder.agents.judge_prompts import Mode, Way, judge_messages, shown
from ponder.agents.router import budget_reached, stage_branches
from ponder.agents.state import BranchState, SolveState
from ponder.models import ModelClient
from ponder.types import Branch, Completion, Problem, Usage

__all__ = ["ACCEPT", "JUDGE_ROLE", "REJECT", "JudgedState", "Judgement", "judge", "judge_branch",
           "judge_branches", "judged_outcome", "outcome_text", "parse_score", "read_verdict",
           "vote_scale", "way_for"]

JUDGE_ROLE = "judge"
ACCEPT = 0.7
"""A judge score at or above this accepts a candidate."""
REJECT = 0.3
"""A judge score at or below this rejects a candidate."""
Scoring = Literal["auto", "logprob", "score"]

_SCORE_LINE = re.compile(r"^Score:\s*(0(?:\.\d+)?|1(?:\.0+)?|\.\d+)$")
_VERDICT = re.compile(r"^\W*(yes|no)\b", re.IGNORECASE)
# A parsed-score reply may think first; a logprob verdict is one word.
VERDICT_TOKENS = 2


@dataclass(frozen=True)
class Judgement:
    """One judge call's outcome: the score (``None``: no score, ``why`` says why), how it was
    read (``logprob``, ``verdict``, ``score``), the reply and what the call cost."""

    score: float | None
    how: str | None
    reply: str
    why: str = ""
    usage: Usage = field(default_factory=Usage)

    def shown(self) -> dict[str, Any]:
        """The judgement as trace outputs."""
        out: dict[str, Any] = {"score": None if self.score is None else round(self.score, 4),
                               "how": self.how, "reply": shown(self.reply, 300)}
        if self.score is None:
            out["no_score"] = self.why
        return out


def _merge(old: dict[str, Any] | None, new: dict[str, Any] | None) -> dict[str, Any]:
    return {**(old or {}), **(new or {})}


class JudgedState(SolveState, total=False):
    """A problem's state with the judge's outcome scores by branch id (``None``: no score)."""

    judged: Annotated[dict[str, float | None], _merge]


def way_for(models: ModelClient, role: str = JUDGE_ROLE, scoring: Scoring = "auto", *,
            use_logprobs: bool = True) -> Way:
    """How to read this judge's scores: from log-probabilities where its model returns them
    and answers at once (not a reasoning model, nor a role prompted in the ``reasoning``
    style) and the run uses log-probabilities; else from a parsed score line."""
    if scoring != "auto":
        return scoring
    profile = models.profile(role)
    direct = profile.logprobs and not profile.reasoning and models.style(role) != "reasoning"
    return "logprob" if direct and use_logprobs else "score"


def parse_score(text: str) -> float | None:
    """The score of a reply whose last non-empty line is exactly ``Score: x``, x in [0, 1].

    >>> parse_score("Checked the sum.\\nScore: 0.8"), parse_score("Score: 80%"), parse_score("0.8")
    (0.8, None, None)
    """
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    match = _SCORE_LINE.match(lines[-1]) if lines else None
    return float(match.group(1)) if match else None


def read_verdict(completion: Completion) -> tuple[float | None, str | None, str]:
    """P(yes) from a Yes/No verdict, how it was read, and why there is none."""
    match = _VERDICT.match(completion.text.strip())
    if match is None:
        return None, None, f"not a Yes/No verdict: {shown(completion.text, 80)!r}"
    yes = match.group(1).lower() == "yes"
    lps = completion.logprobs or []
    if not lps or completion.reasoning:
        return (1.0 if yes else 0.0), "verdict", ""
    p = min(1.0, math.exp(lps[0]))
    return ((1.0 + p) / 2 if yes else (1.0 - p) / 2), "logprob", ""


def _judgement(completion: Completion, way: Way, style: str) -> Judgement:
    if way == "logprob":
        score, how, why = read_verdict(completion)
        return Judgement(score, how, completion.text, why, completion.usage)
    text = completion.text
    if style == "completion":  # the prompt ends in "Score:"; the model writes the number
        text = "Score:" + (text.strip().splitlines() or [""])[0]
    score = parse_score(text)
    why = "" if score is not None else (
        "ran out of tokens before a score" if completion.finish_reason == "length"
        else f"no 'Score: <0..1>' last line in {shown(completion.text, 80)!r}")
    return Judgement(score, "score" if score is not None else None, completion.text, why,
                     completion.usage)


async def judge(deps: Deps[Any], problem: Problem, candidates: list[str], *, mode: Mode,
                steps: list[str] | None = None, role: str = JUDGE_ROLE,
                scoring: Scoring = "auto") -> list[Judgement]:
    """Score ``candidates`` concurrently (identical ones once): whole solutions
    (``mode="outcome"``), or programs so far whose next lines are ``steps`` (``"process"``)."""
    way = way_for(deps.models, role, scoring, use_logprobs=deps.options.use_logprobs)
    style = deps.models.style(role)
    shown_steps: list[str | None] = list(steps) if steps else [None] * len(candidates)
    keys = list(zip(candidates, shown_steps))
    unique = list(dict.fromkeys(keys))

    async def one(candidate: str, step: str | None) -> Judgement:
        messages = judge_messages(problem, candidate, mode=mode, way=way, style=style, step=step)
        verdict = way == "logprob"
        [completion] = await deps.models.acomplete(
            role, messages, seed=deps.options.seed, temperature=0.0, logprobs=verdict,
            max_tokens=VERDICT_TOKENS if verdict else None,
            stop=["\n"] if style == "completion" else None)
        return _judgement(completion, way, style)

    done = dict(zip(unique, await asyncio.gather(*[one(c, s) for c, s in unique])))
    # A repeated candidate was judged (and billed) once: its copies cost nothing.
    seen: set[tuple[str, str | None]] = set()
    out = []
    for key in keys:
        j = done[key]
        out.append(j if key not in seen else Judgement(j.score, j.how, j.reply, j.why))
        seen.add(key)
    return out


def outcome_text(branch: Branch) -> str:
    """A branch as the judge sees it: its reply, its program and what the program printed,
    and its final answer (hidden reasoning is not shown)."""
    parts = [branch.text.strip()] if branch.text.strip() else []
    if branch.code:
        parts.append(f"Program:\n```python\n{branch.code.strip()}\n```")
    run = branch.execution
    if run is not None:
        output = run.stdout.strip() or (repr(run.value) if run.value is not None else "")
        parts.append(f"Program {run.status}: {shown(output or run.stderr.strip(), 500)}")
    if branch.answer is not None:
        parts.append(f"Final answer: {branch.answer}")
    return "\n".join(parts)


def judged_outcome(score: float | None) -> Literal["accepted", "rejected"] | None:
    """What a judge score says of a candidate: accepted, rejected, or nothing (no score, or a
    score between :data:`REJECT` and :data:`ACCEPT`)."""
    if score is None:
        return None
    return "accepted" if score >= ACCEPT else "rejected" if score <= REJECT else None


async def judge_branches(state: JudgedState, *, deps: Deps[Any]) -> dict[str, Any]:
    """Graph node: the judge's outcome score for each answered branch of the stage not yet
    judged (skipped once a per-problem budget is used up)."""
    problem = state["problem"]
    judged = state.get("judged") or {}
    todo = [b for b in stage_branches(state) if b.answer is not None and b.id not in judged]
    stopped = budget_reached(state, deps.options)
    if stopped or not todo:
        why = f"{stopped}: not judged" if stopped else "no answered branch to judge"
        deps.trace(outputs={"skipped": why})
        return {"notes": [f"the judge scored no branch ({why})"] if stopped else []}
    results = await judge(deps, problem, [outcome_text(b) for b in todo], mode="outcome")
    scores = {b.id: j.score for b, j in zip(todo, results)}
    unscored = sum(j.score is None for j in results)
    deps.trace(inputs={"branches": len(todo), "way": results[0].how or "no score"},
               outputs={"judged": [{"branch": b.index, "answer": b.answer, **j.shown()}
                                   for b, j in zip(todo, results)], "no_score": unscored})
    notes = ([f"the judge gave no score for {unscored} of {len(todo)} branches "
              f"({next(j.why for j in results if j.score is None)})"] if unscored else [])
    return {"judged": scores, "usage": [Usage.total([j.usage for j in results])],
            "roles": [JUDGE_ROLE], "notes": notes}


def vote_scale(state: dict[str, Any]) -> Callable[[Branch], float] | None:
    """Weighted best-of-N: each branch's vote scaled by its judge score, or ``None`` where no
    judge scored this problem's branches (a plain vote).

    A branch the judge gave no score counts with the mean score of those it did score —
    neither helped nor hurt against the others — never with a made-up 0.5.
    """
    judged = state.get("judged") or {}
    scored = [s for s in judged.values() if s is not None]
    if not scored:
        return None
    typical = sum(scored) / len(scored)

    def scale(branch: Branch) -> float:
        score = judged.get(branch.id)
        return typical if score is None else score
    return scale


async def judge_branch(state: BranchState, *, deps: Deps[Any]) -> dict[str, Any]:
    """Branch step (before ``verify``): where no program gave this branch an answer — none
    could be written, or it failed — the judge scores the branch as a whole.

    The score is kept as the branch's ``rewards["judge"]`` (no score: none kept) and the
    verdict is left alone: ``verified``/``refuted`` stay what an executed program (or the
    tests) found, so a judge's Yes never reads as a program's check. The vote reads the score
    as a judged check (:func:`ponder.agents.voter.evidence_of`). A program's executed answer
    is left to ``verify``; so are code problems, whose tests decide.
    """
    problem, branch = state["problem"], state["branch"]
    skip = ("no answer to judge" if branch.answer is None
            else "a code problem: its tests decide" if problem.kind == "code"
            else "a program answered: its executed check stands" if branch.code_answer is not None
            else None)
    if skip:
        deps.trace(outputs={"skipped": skip})
        return {}
    [j] = await judge(deps, problem, [outcome_text(branch)], mode="outcome")
    outcome = judged_outcome(j.score)
    deps.trace(inputs={"answer": branch.answer},
               outputs={**j.shown(), "check": "judged" if j.score is not None else "none",
                        "outcome": outcome or ("no score" if j.score is None else "undecided")})
    rewards = branch.rewards if j.score is None else {**branch.rewards, "judge": j.score}
    return {"branch": branch.model_copy(update={"rewards": rewards,
                                                "usage": branch.usage + j.usage})}
