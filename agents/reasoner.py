"""Reasoner node: samples one branch of reasoning with the role's model.

Reasoning models think natively (no redundant "think step by step"); standard chat models
are prompted for chain-of-thought; base models get few-shot completion prompts.
"""

from __future__ import annotations

from typing import Any

from ponder.agents import demos, prompts
from ponder.agents.deps import Deps
from ponder.agents.voter import confidence_from_logprobs, is_collapsing
from ponder.answers import extract_answer
from ponder.types import Branch
from ponder.agents.state import BranchState


def _stop_when(deps: Deps):
    floor = deps.options.collapse_floor
    if floor is None:
        return None
    return lambda logprobs: is_collapsing(logprobs, floor=floor)


async def reason(state: BranchState, *, deps: Deps) -> dict[str, Any]:
    """Sample branch ``state['index']`` and extract its answer."""
    problem, role = state["problem"], state["role"]
    style = deps.models.style(role)
    shots = demos.for_deps(deps, role)
    messages = (prompts.direct(problem, style, demos=shots) if state.get("mode") == "direct"
                else prompts.reason(problem, style, state.get("plan"), demos=shots))
    stop = prompts.COT_STOP if style == "completion" else None
    [completion] = await deps.models.acomplete(
        role, messages, first_index=state["index"], seed=deps.options.seed, stop=stop,
        logprobs=deps.options.use_logprobs, stop_when=_stop_when(deps),
    )
    answer = extract_answer(completion.text, problem.kind, problem.choices)
    # Out of tokens before any answer (typically while thinking): say so, never a blank.
    truncated = answer is None and completion.finish_reason == "length"
    branch = Branch(
        id=state["branch_id"], index=state["index"], model=completion.model,
        text=completion.text, reasoning=completion.reasoning, answer=answer,
        confidence=confidence_from_logprobs(completion.logprobs or []),
        usage=completion.usage,
        verdict="unverified" if answer is not None else "no_answer", truncated=truncated,
    )
    deps.trace(inputs={"messages": messages, "role": role},
               outputs={"text": completion.text, "reasoning": completion.reasoning,
                        "answer": answer, "finish_reason": completion.finish_reason,
                        "confidence": branch.confidence, "truncated": truncated})
    return {"branch": branch}
