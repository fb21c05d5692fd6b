"""Solve one question with the embedded models: no key, no network.

    python examples/quickstart.py "Tom reads 12 pages a day for 5 days. How many pages?"
"""

from __future__ import annotations

import sys

import ponder


def main(argv: list[str]) -> None:
    question = argv[0] if argv else "Tom reads 12 pages a day for 5 days. How many pages did he read?"
    config = ponder.load_config()
    result = ponder.solve(question, strategy="verified", samples=4, config=config)
    print(f"answer: {result.answer} (confidence {result.confidence:.2f})")
    for answer, vote in result.votes.items():
        print(f"  {answer!r}: {vote.count} votes, weight {vote.weight:.2f}, {vote.verified} verified")
    for branch in result.branches:
        status = branch.execution.status if branch.execution else "-"
        print(f"  branch {branch.index}: {branch.answer!r} [{branch.verdict}] code run: {status}")
    u = result.usage
    print(f"{u.prompt_tokens}+{u.completion_tokens} tokens, {u.calls} calls, run {result.run_id}")


if __name__ == "__main__":
    main(sys.argv[1:])
