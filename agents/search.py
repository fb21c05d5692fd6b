"""Step-level beam search over program-of-thought lines.

Each round every live beam proposes ``beam_expand`` next lines; candidates are scored by the
model's own mean token log-probability, a finished program (one that printed) is executed in
the sandbox and dropped if it fails, and the best ``beam_width`` survive.
"""

from __future__ import annotations

import asyncio
import math
import operator
from typing import Annotated, Any, Literal

from ponder.agents import demos, prompts
from ponder.agents.deps import Deps
from ponder.agents.state import SolveState
from ponder.answers import extract_answer, program_answer
from ponder.types import Branch, Usage

Beam = dict[str, Any]


class BeamState(SolveState, total=False):
    """A search's state: the live and finished candidates, the depth reached, proposals made."""

    beams: list[Beam]
    depth: int
    proposals: Annotated[int, operator.add]


def _messages(problem: Any, partial: str, style: str, shots: Any) -> list[dict[str, str]]:
    if style == "completion":
        return prompts.step(problem, partial, demos=shots)
    ask = prompts.code(problem, style, demos=shots)[-1]["content"]
    return [{"role": "user", "content": (
        f"{ask}\n\nProgram so far:\n```python\n{partial}```\n"
        "Reply with only the next line of the program.")}]


def mean_logprob(beam: Beam) -> float:
    """A candidate's score: the model's mean token log-probability over its lines."""
    return beam["logprob"] / max(1, beam["tokens"])


async def _propose(beam: Beam, state: BeamState, deps: Deps,
                   salt: int) -> tuple[list[Beam], Usage]:
    """Next-line candidates for one beam, and what every proposal cost (kept or not)."""
    role, problem, settings = deps.options.role, state["problem"], deps.settings
    style = deps.models.style(role)
    completions = await deps.models.acomplete(
        role, _messages(problem, beam["code"], style, demos.for_deps(deps, role)), n=settings.beam_expand,
        first_index=salt, seed=deps.options.seed, stop=["\n", "```"], logprobs=True,
        max_tokens=60)
    out = []
    for c in completions:
        line = c.text.strip("`").rstrip()
        if style != "completion":
            line = line.replace("python", "", 1).strip() if line.startswith("python") else line
        if not line.strip():
            continue
        lp = c.logprobs or []
        out.append({"code": beam["code"] + line + "\n", "logprob": beam["logprob"] + sum(lp),
                    "tokens": beam["tokens"] + max(1, len(lp)), "usage": [*beam["usage"], c.usage],
                    "done": line.lstrip().startswith("print(")})
    return out, Usage.total([c.usage for c in completions])


async def expand(state: BeamState, *, deps: Deps) -> dict[str, Any]:
    """Propose next lines for every live beam, concurrently."""
    depth = state.get("depth", 0)
    beams = state.get("beams") or [{"code": "", "logprob": 0.0, "tokens": 0, "usage": [],
                                    "done": False}]
    live = [b for b in beams if not b["done"]]
    width = deps.settings.beam_expand
    proposals = await asyncio.gather(*[
        _propose(b, state, deps, salt=(depth * len(live) + i) * width) for i, b in enumerate(live)])
    candidates = [b for b in beams if b["done"]] + [c for group, _ in proposals for c in group]
    spent = Usage.total([cost for _, cost in proposals])  # empty proposals were billed too
    deps.trace(inputs={"depth": depth, "live": len(live)},
               outputs={"candidates": [{"code": c["code"], "score": mean_logprob(c)}
                                       for c in candidates]})
    return {"beams": candidates, "depth": depth + 1, "usage": [spent],
            "proposals": len(live) * width, "roles": [deps.options.role] if depth == 0 else []}


async def prune(state: BeamState, *, deps: Deps) -> dict[str, Any]:
    """Execute newly finished programs, drop failures, keep the best ``beam_width``."""
    problem = state["problem"]
    fresh = [b for b in state["beams"] if b["done"] and "execution" not in b]
    results = await asyncio.gather(*[deps.sandbox.arun(b["code"]) for b in fresh])
    for beam, result in zip(fresh, results):
        beam["execution"] = result
        printed = program_answer(result.stdout) if result.status == "ok" else None
        beam["answer"] = extract_answer(printed, problem.kind, problem.choices) if printed else None
    kept = [b for b in state["beams"] if not b["done"] or b.get("answer") is not None]
    kept.sort(key=mean_logprob, reverse=True)
    kept = kept[: deps.settings.beam_width]
    deps.trace(outputs={"kept": [{"code": b["code"], "score": mean_logprob(b),
                                  "answer": b.get("answer")} for b in kept]})
    return {"beams": kept}


def collect(state: BeamState, *, deps: Deps) -> dict[str, Any]:
    """Finished beams become branches for the vote, weighted by their score.

    Their tokens were already counted when they were expanded (beams share prefixes).
    """
    branches = []
    for i, beam in enumerate(b for b in state.get("beams", []) if b.get("answer") is not None):
        branches.append(Branch(
            index=i, model=deps.models.role(deps.options.role).model, code=beam["code"], execution=beam["execution"],
            code_answer=beam["answer"], answer=beam["answer"], verdict="unverified",
            confidence=min(1.0, math.exp(mean_logprob(beam))),
            rewards={"format": 1.0},
        ))
    update: dict[str, Any] = {"branches": branches, "stage_samples": len(branches), "decided": True}
    if not branches:
        update["stopped"] = "no_answer"
        update["notes"] = [f"beam search finished no program that printed an answer within "
                           f"{deps.settings.beam_depth} steps"]
    return update


def beam_next(state: BeamState, *, depth: int) -> Literal["expand", "collect"]:
    """Keep expanding while a live beam remains and the depth allows."""
    live = any(not b["done"] for b in state.get("beams", []))
    return "expand" if live and state.get("depth", 0) < depth else "collect"
