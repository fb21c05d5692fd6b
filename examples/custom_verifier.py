"""Replace one node: a verifier that also checks the answer is a whole number.

Nodes share one contract, ``(state, *, deps) -> update``, so swapping one is a dict entry.

    python examples/custom_verifier.py
"""

from __future__ import annotations

from typing import Any

import ponder
from ponder.agents.verifier import verify_branch


async def whole_number_verifier(state: dict[str, Any], *, deps: Any) -> dict[str, Any]:
    """The stock verdict, then refute any answer that is not a whole number."""
    branch = verify_branch(state["problem"], state["branch"])
    if branch.answer is not None and not branch.answer.lstrip("-").isdigit():
        branch = branch.model_copy(update={"verdict": "refuted"})
    return {"branches": [branch]}


def main() -> None:
    config = ponder.load_config()
    result = ponder.solve("A box holds 6 eggs. How many eggs are in 7 boxes?", strategy="verified",
                          samples=3, config=config, nodes={"verify": whole_number_verifier})
    print(f"answer: {result.answer}")
    print("verdicts:", [b.verdict for b in result.branches])


if __name__ == "__main__":
    main()
