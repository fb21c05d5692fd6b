"""Planner node: the standard model writes a short plan that the branches follow."""

from __future__ import annotations

import time
from typing import Any

from ponder.agents import prompts
from ponder.agents.deps import Deps


async def plan(state: dict[str, Any], *, deps: Deps) -> dict[str, Any]:
    """Write a short plan for ``state['problem']`` with the standard role."""
    problem, started = state["problem"], time.time()
    style = deps.models.style("standard")
    messages = prompts.plan(problem, style)
    stop = ["\n\n", "\nQuestion:"] if style == "completion" else None
    [completion] = await deps.models.acomplete(
        "standard", messages, temperature=0.0, max_tokens=120, stop=stop)
    text = ("1." + completion.text) if style == "completion" else completion.text
    event = deps.record(problem, "plan", started, parent=state.get("parent_event"),
                        inputs={"messages": messages},
                        outputs={"plan": text, "reasoning": completion.reasoning},
                        usage=completion.usage)
    return {"plan": text.strip(), "parent_event": event, "usage": [completion.usage],
            "roles": ["standard"]}
