"""Point the roles at real providers: DeepSeek-R1 reasons, a cheap OpenAI model does the rest.

    export DEEPSEEK_API_KEY=... OPENAI_API_KEY=...
    python examples/remote_providers.py "How many primes are there below 50?"

Without the keys it says which variables to set and stops, spending nothing.
"""

from __future__ import annotations

import sys

import ponder
from ponder.config import RoleConfig
from ponder.models import check_model


def main(argv: list[str]) -> int:
    config = ponder.load_config(roles={
        "reasoner": RoleConfig(model="deepseek/deepseek-reasoner", max_tokens=8000, temperature=0.6),
        "standard": RoleConfig(model="openai/gpt-4.1-mini", max_tokens=1024),
    })
    statuses = [check_model(name, role) for name, role in config.roles.items()]
    for status in statuses:
        print(f"{status.role:9} {status.model:28} {'ready' if status.usable else status.detail}")
        print(f"{'':9} uses: {', '.join(status.capabilities)}")
    if not all(s.usable for s in statuses):
        print("set the keys above to run this example")
        return 0
    question = argv[0] if argv else "How many primes are there below 50?"
    result = ponder.solve(question, strategy="escalate", samples=4, config=config)
    moved = ", ".join(f"{s.name} ({s.role})" for s in result.stages) or "none"
    print(f"answer: {result.answer} stages: {moved} "
          f"cost: ${result.usage.cost_usd:.4f} reasoning tokens: {result.usage.reasoning_tokens}")
    for note in result.notes:  # what the providers could not do (e.g. no logprobs), and why
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
