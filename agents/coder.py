"""Coder node: writes a program that computes the answer (program-of-thought), or, for code
problems, the solution itself."""

from __future__ import annotations

from typing import Any

from ponder.agents import demos, prompts
from ponder.agents.deps import Deps
from ponder.agents.voter import confidence_from_logprobs
from ponder.answers import extract_code
from ponder.types import Branch
from ponder.agents.state import BranchState


def program_from(text: str, style: str, problem_kind: str, prompt_tail: str) -> str | None:
    """The program in a completion: completion-style output continues an open fence."""
    if style == "completion":
        body = text.split("```", 1)[0]
        return (prompt_tail + body) if problem_kind == "code" else (body.strip() or None)
    return extract_code(text)


async def write_code(state: BranchState, *, deps: Deps[Any]) -> dict[str, Any]:
    """Sample a program for branch ``state['index']``."""
    problem, role = state["problem"], state["role"]
    branch: Branch = state.get("branch") or Branch(id=state["branch_id"], index=state["index"])
    style = deps.models.style(role)
    messages = prompts.code(problem, style, state.get("plan"), demos=demos.for_deps(deps, role))
    stop = prompts.CODE_STOP if style == "completion" else None
    if problem.kind == "code" and style == "completion":
        stop = ["```", "\ndef ", "\nclass ", "\nif __name__", "\nprint("]
    [completion] = await deps.models.acomplete(
        role, messages, first_index=state["index"], seed=deps.options.seed, stop=stop,
        logprobs=deps.options.use_logprobs,
    )
    program = program_from(completion.text, style, problem.kind, problem.question)
    updated = branch.model_copy(update={
        "model": branch.model or completion.model,
        "code": program,
        "usage": branch.usage + completion.usage,
        "confidence": branch.confidence if branch.confidence is not None
        else confidence_from_logprobs(completion.logprobs or []),
    })
    deps.trace(inputs={"messages": messages, "role": role},
               outputs={"text": completion.text, "code": program, "reasoning": completion.reasoning})
    return {"branch": updated}
