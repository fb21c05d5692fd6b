"""Step-level beam search over program-of-thought lines.

Each round every live beam proposes ``beam_expand`` next lines; candidates are scored, a
finished program (one that printed or passed its ``answer``) is executed in the sandbox and
dropped if it fails, and the best ``beam_width`` survive. The score (``beam_scorer``):

* ``logprob`` — the proposer's own mean token log-probability (needs a model that returns them);
* ``judge`` — the judge's process score of each candidate's latest line, as a log-probability
  (:mod:`ponder.agents.judge`), so beam runs on providers without log-probabilities;
* ``sum`` — both added: mean token log-probability plus the judge's log-score;
* ``auto`` (the default) — ``logprob`` where the proposer returns log-probabilities and answers
  at once, else ``judge``.

Reasoning models propose one step at a time too: no stop sequences are sent (their thinking
would hit them), their reasoning is bounded (``reasoning_effort="low"`` where the provider has
that control, and ``beam_step_tokens`` of output in all) and the first program line of each
reply is the step. A candidate the judge gave no score ranks after every scored one.

Nodes return state updates; a :class:`Beam` is never changed in place.
"""

from __future__ import annotations

import asyncio
import math
import operator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ponder.agents import demos, prompts
from ponder.agents.deps import Deps
from ponder.agents.judge import JUDGE_ROLE, judge
from ponder.agents.router import budget_reached
from ponder.agents.state import SolveState
from ponder.agents.verifier import program_result
from ponder.errors import SandboxUnavailable
from ponder.models import ModelClient
from ponder.types import Branch, Completion, ExecResult, TraceEvent, Usage

Scorer = Literal["auto", "logprob", "judge", "sum"]
PLAIN_STEP_TOKENS = 60
REASONING_STEP_TOKENS = 4096
"""Output tokens of one proposal by a reasoning model (its thinking included)."""
CANDIDATES = "candidates"
"""The trace output of each expansion: every proposed partial program, ``{code, score}``."""
KEPT = "kept"
"""The trace output of each pruning: the survivors, ``{code, score, answer[, judge, no_score]}``."""
NO_STEP_SCORE = ("the judge gave no score for some steps (see the judge steps in the trace); "
                 "they ranked after the scored ones")


class BeamSettings(BaseModel):
    """The beam's shape: ``beam_width`` survivors, ``beam_expand`` proposals each, up to
    ``beam_depth`` lines; what scores a step (``beam_scorer``) and how many tokens one
    proposal may use (``beam_step_tokens``; default 60, or 4096 for reasoning models).

    >>> BeamSettings(beam_width=4, beam_scorer="judge")
    """

    model_config = ConfigDict(extra="forbid")

    beam_width: int = Field(3, ge=1, le=32)
    beam_expand: int = Field(2, ge=1, le=16)
    beam_depth: int = Field(8, ge=1, le=64)
    beam_scorer: Scorer = "auto"
    beam_step_tokens: int | None = Field(None, ge=1, le=65536)


class Beam(BaseModel):
    """One candidate program: its lines, the proposer's log-probability over them, the
    judge's score of its latest line, and — once finished and run — its execution."""

    model_config = ConfigDict(frozen=True)

    code: str = ""
    logprob: float = 0.0
    tokens: int = 0
    done: bool = False
    step: str = ""  # the latest line
    judge: float | None = None
    judged: bool = False
    no_score: str | None = None
    execution: ExecResult | None = None
    answer: str | None = None


class BeamState(SolveState, total=False):
    """A search's state: the live and finished candidates, the depth reached, proposals made."""

    beams: list[Beam]
    depth: int
    proposals: Annotated[int, operator.add]


def _proposer_has_logprobs(models: ModelClient, role: str) -> bool:
    profile = models.profile(role)
    return profile.logprobs and not profile.reasoning and models.style(role) != "reasoning"


def resolve_scorer(models: ModelClient, role: str, settings: BeamSettings) -> Scorer:
    """The scorer a run uses: ``auto`` becomes ``logprob`` or ``judge`` for this proposer."""
    if settings.beam_scorer != "auto":
        return settings.beam_scorer
    return "logprob" if _proposer_has_logprobs(models, role) else "judge"


def scorer_refusal(models: ModelClient, role: str, settings: BeamSettings) -> str | None:
    """Why this proposer cannot be scored as asked, or ``None`` when it can."""
    scorer = resolve_scorer(models, role, settings)
    if scorer in ("logprob", "sum") and not _proposer_has_logprobs(models, role):
        spec, profile = models.role(role), models.profile(role)
        why = ("thinks before answering, so its log-probabilities cover the thinking"
               if profile.logprobs else f"returns no log-probabilities ({profile.provider})")
        return (f"beam search cannot score {spec.model} (role {role}) with beam_scorer={scorer}: "
                f"it {why}. Use --set beam_scorer=judge (the judge role scores each step), or "
                f"point roles.{role} at a model that returns log-probabilities.")
    return None


def mean_logprob(beam: Beam) -> float:
    """A candidate's proposer score: its mean token log-probability over its lines."""
    return beam.logprob / max(1, beam.tokens)


def score(beam: Beam, scorer: Scorer) -> float | None:
    """A candidate's score under ``scorer`` (higher is better; ``None``: the judge gave none)."""
    if scorer == "logprob":
        return mean_logprob(beam)
    if beam.judge is None:
        return None
    judged = math.log(max(beam.judge, 1e-9))
    return judged if scorer == "judge" else mean_logprob(beam) + judged


def ranked(beams: list[Beam], scorer: Scorer) -> list[Beam]:
    """Best first; unscored candidates after the scored ones, in their proposal order."""
    def key(beam: Beam) -> tuple[bool, float]:
        s = score(beam, scorer)
        return s is not None, s if s is not None else 0.0
    return sorted(beams, key=key, reverse=True)


def _messages(problem: Any, partial: str, style: str, shots: Any) -> list[dict[str, str]]:
    if style == "completion":
        return prompts.step(problem, partial, demos=shots)
    ask = prompts.code(problem, style, demos=shots)[-1]["content"]
    return [{"role": "user", "content": (
        f"{ask}\n\nProgram so far:\n```python\n{partial}```\n"
        "Reply with only the next line of the program.")}]


def _first_line(text: str) -> str:
    """The first program line of a chat or reasoning reply (fences and blank lines skipped)."""
    for line in text.splitlines():
        if not line.strip() or line.strip().startswith("```"):
            continue
        line = line.rstrip()
        return line.replace("python", "", 1).strip() if line.startswith("python") else line
    return ""


def _line(c: Completion, style: str) -> str:
    if style == "completion":
        return c.text.strip("`").rstrip()
    return _first_line(c.text.strip("`") if "\n" not in c.text else c.text)


def _request(deps: Deps[BeamSettings], role: str, scorer: Scorer) -> dict[str, Any]:
    """How one proposal is asked for: one line, its reasoning (if any) bounded."""
    profile, spec = deps.models.profile(role), deps.models.role(role)
    reasoning = profile.reasoning or deps.models.style(role) == "reasoning"
    steps = deps.settings.beam_step_tokens
    request: dict[str, Any] = {
        "stop": None if reasoning else ["\n", "```"], "logprobs": scorer in ("logprob", "sum"),
        "max_tokens": steps or (REASONING_STEP_TOKENS if reasoning else PLAIN_STEP_TOKENS)}
    if reasoning and profile.thinking == "reasoning_effort" and spec.reasoning_effort is None:
        request["reasoning_effort"] = "low"
    return request


async def _propose(beam: Beam, state: BeamState, deps: Deps[BeamSettings], salt: int,
                   scorer: Scorer) -> tuple[list[Beam], Usage]:
    """Next-line candidates for one beam, and what every proposal cost (kept or not)."""
    role, problem = deps.options.role, state["problem"]
    style = deps.models.style(role)
    completions = await deps.models.acomplete(
        role, _messages(problem, beam.code, style, demos.for_deps(deps, role)),
        n=deps.settings.beam_expand, first_index=salt, seed=deps.options.seed,
        **_request(deps, role, scorer))
    out = []
    for c in completions:
        line = _line(c, style)
        if not line.strip():
            continue
        lp = c.logprobs or []
        out.append(Beam(code=beam.code + line + "\n", logprob=beam.logprob + sum(lp),
                        tokens=beam.tokens + max(1, len(lp)), step=line,
                        done=line.lstrip().startswith(("print(", "answer("))))
    return out, Usage.total([c.usage for c in completions])


async def expand(state: BeamState, *, deps: Deps[BeamSettings]) -> dict[str, Any]:
    """Propose next lines for every live beam, concurrently."""
    depth, settings = state.get("depth", 0), deps.settings
    scorer = resolve_scorer(deps.models, deps.options.role, settings)
    beams = state.get("beams") or [Beam()]
    live = [b for b in beams if not b.done]
    width = settings.beam_expand
    proposals = await asyncio.gather(*[
        _propose(b, state, deps, (depth * len(live) + i) * width, scorer)
        for i, b in enumerate(live)])
    candidates = [b for b in beams if b.done] + [c for group, _ in proposals for c in group]
    spent = Usage.total([cost for _, cost in proposals])  # empty proposals were billed too
    deps.trace(inputs={"depth": depth, "live": len(live), "scorer": scorer},
               outputs={CANDIDATES: [{"code": c.code, "score": score(c, scorer)}
                                      for c in candidates]})
    return {"beams": candidates, "depth": depth + 1, "usage": [spent],
            "proposals": len(live) * width, "roles": [deps.options.role] if depth == 0 else []}


async def judge_steps(state: BeamState, *, deps: Deps[BeamSettings]) -> dict[str, Any]:
    """The judge's process score for each new candidate's latest line."""
    beams = state["beams"]
    fresh = [i for i, b in enumerate(beams) if not b.judged]
    if budget_reached(state, deps.options):
        deps.trace(outputs={"skipped": "a per-problem budget is used up: steps not judged"})
        return {}
    results = await judge(deps, state["problem"], [beams[i].code[: -len(beams[i].step) - 1]
                                                   for i in fresh],
                          mode="process", steps=[beams[i].step for i in fresh])
    updated = list(beams)
    for i, j in zip(fresh, results):
        updated[i] = beams[i].model_copy(update={"judge": j.score, "judged": True,
                                                 "no_score": j.why or None})
    unscored = sum(j.score is None for j in results)
    deps.trace(inputs={"candidates": len(fresh)},
               outputs={"judged": [{"code": beams[i].code, "step": beams[i].step, **j.shown()}
                                   for i, j in zip(fresh, results)], "no_score": unscored})
    return {"beams": updated, "usage": [Usage.total([j.usage for j in results])],
            "roles": [JUDGE_ROLE] if state.get("depth", 0) <= 1 else [],
            "notes": [NO_STEP_SCORE] if unscored else []}


async def prune(state: BeamState, *, deps: Deps[BeamSettings]) -> dict[str, Any]:
    """Execute newly finished programs, drop failures, keep the best ``beam_width``."""
    problem, settings = state["problem"], deps.settings
    scorer = resolve_scorer(deps.models, deps.options.role, settings)
    beams = state["beams"]
    fresh = [i for i, b in enumerate(beams) if b.done and b.execution is None]
    if fresh and deps.sandbox is None:
        raise SandboxUnavailable("beam search runs the programs it finishes but no sandbox was "
                                 "given; build the graph with a sandbox (config.sandbox)")
    sandbox = deps.sandbox
    results = await asyncio.gather(*[sandbox.arun(beams[i].code) for i in fresh]) if sandbox else []
    ran = {i: beams[i].model_copy(update={"execution": r, "answer": program_result(r, problem)[0]})
           for i, r in zip(fresh, results)}
    current = [ran.get(i, b) for i, b in enumerate(beams)]
    kept = ranked([b for b in current if not b.done or b.answer is not None], scorer)
    kept = kept[: settings.beam_width]
    deps.trace(outputs={"scorer": scorer, KEPT: [
        {"code": b.code, "score": score(b, scorer), "answer": b.answer,
         **({"judge": b.judge} if scorer != "logprob" else {}),
         **({"no_score": b.no_score} if b.no_score else {})} for b in kept]})
    return {"beams": kept}


def collect(state: BeamState, *, deps: Deps[BeamSettings]) -> dict[str, Any]:
    """Finished beams become branches for the vote, weighted by their score.

    Their tokens were already counted when they were expanded (beams share prefixes).
    """
    settings = deps.settings
    scorer = resolve_scorer(deps.models, deps.options.role, settings)
    branches = []
    for i, beam in enumerate(b for b in state.get("beams", []) if b.answer is not None):
        s = score(beam, scorer)
        branches.append(Branch(
            index=i, model=deps.models.role(deps.options.role).model, code=beam.code,
            execution=beam.execution, code_answer=beam.answer, answer=beam.answer,
            verdict="unverified", confidence=None if s is None else min(1.0, math.exp(s)),
            rewards={"format": 1.0, **({"judge": beam.judge} if beam.judge is not None else {})},
        ))
    update: dict[str, Any] = {"branches": branches, "stage_samples": len(branches), "decided": True}
    if not branches:
        update["stopped"] = "no_answer"
        update["notes"] = [f"beam search finished no program that printed an answer within "
                           f"{settings.beam_depth} steps"]
    return update


Round = tuple[list[dict[str, Any]], list[dict[str, Any]]]


SCORE_MEANINGS: dict[str, str] = {
    "logprob": "the model's mean token log-probability (0 is certain)",
    "judge": "the judge's log-score of the latest line (0 is a sure yes)",
    "sum": "the model's mean token log-probability plus the judge's log-score",
}
"""What a candidate's ``score`` means under each ``beam_scorer``, as the UI says it."""


def search_scorer(events: list[TraceEvent]) -> str:
    """The scorer a search's trace says it ranked by (``logprob`` for traces written before
    the trace said so)."""
    for event in events:
        for said in (event.outputs.get("scorer"), event.inputs.get("scorer")):
            if isinstance(said, str) and said in SCORE_MEANINGS:
                return said
    return "logprob"


def search_rounds(events: list[TraceEvent]) -> list[Round]:
    """``(candidates, kept)`` per round of a search, in time order, read back from its trace
    events by their outputs alone (whatever the nodes were called); empty for other traces."""
    rounds: list[Round] = []
    for event in sorted(events, key=lambda e: e.started_at):
        out = event.outputs
        if isinstance(out.get(CANDIDATES), list):
            rounds.append(([c for c in out[CANDIDATES] if isinstance(c, dict)], []))
        elif isinstance(out.get(KEPT), list) and rounds:
            rounds[-1] = (rounds[-1][0], [k for k in out[KEPT] if isinstance(k, dict)])
    return rounds


def after_expand(state: BeamState, deps: Deps[BeamSettings]) -> Literal["judge", "prune"]:
    """Candidates go to the judge first when it scores them."""
    scorer = resolve_scorer(deps.models, deps.options.role, deps.settings)
    return "judge" if scorer in ("judge", "sum") else "prune"


def beam_next(state: BeamState, deps: Deps[BeamSettings]) -> Literal["expand", "collect"]:
    """Keep expanding while a live beam remains, the depth allows and no budget is used up."""
    live = any(not b.done for b in state.get("beams", []))
    deep = state.get("depth", 0) < deps.settings.beam_depth
    return "expand" if live and deep and not budget_reached(state, deps.options) else "collect"
