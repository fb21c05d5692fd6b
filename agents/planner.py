"""Planner node: the standard model writes a short plan that the branches follow."""

from __future__ import annotations

from typing import Any

from ponder.agents import prompts
from ponder.agents.deps import Deps
from ponder.agents.state import SolveState


async def plan(state: SolveState, *, deps: Deps) -> dict[str, Any]:
    """Write a short plan for ``state['problem']`` with the standard role."""
    problem = state["problem"]
    style = deps.models.style("standard")
    messages = prompts.plan(problem, style)
    stop = ["\n\n", "\nQuestion:"] if style == "completion" else None
    [completion] = await deps.models.acomplete(
        "standard", messages, temperature=0.0, max_tokens=120, stop=stop)
    text = ("1." + completion.text) if style == "completion" else completion.text
    deps.trace(inputs={"messages": messages},
               outputs={"plan": text, "reasoning": completion.reasoning})
    return {"plan": text.strip(), "usage": [completion.usage],
            "roles": ["standard"]}
