"""How much one sandboxed run costs: ``local`` (bubblewrap) and ``subprocess`` against a bare
``python3 -c pass``, measured side by side (round-robin, so noise hits all three alike).

    python benchmarks/sandbox_bench.py            # n=20
    python benchmarks/sandbox_bench.py --n 100
    python benchmarks/sandbox_bench.py --smoke    # n=3, just proves it runs
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import warnings
from collections.abc import Awaitable, Callable

from ponder.config import SandboxConfig
from ponder.sandbox import Sandbox, make_sandbox

PROGRAM = "pass"
BARE = "bare python3 -c pass"


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``samples``, by the nearest-rank method."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def bare(*flags: str) -> Callable[[], Awaitable[None]]:
    """A bare start of this interpreter: the floor every backend pays."""

    async def once() -> None:
        proc = await asyncio.create_subprocess_exec(sys.executable, *flags, "-c", PROGRAM)
        await proc.wait()

    return once


def through(box: Sandbox) -> Callable[[], Awaitable[None]]:
    async def once() -> None:
        result = await box.arun(PROGRAM)
        if result.status != "ok":
            raise SystemExit(f"{box.name} failed: {result.status} {result.message}")

    return once


async def measure(runners: dict[str, Callable[[], Awaitable[None]]], n: int) -> dict[str, list[float]]:
    """``n`` rounds; each round times every runner once, in turn."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    for name, run in runners.items():  # warm up: caches, first-use probes
        await run()
    for _ in range(n):
        for name, run in runners.items():
            start = time.perf_counter()
            await run()
            times[name].append((time.perf_counter() - start) * 1000)
    return times


def table(times: dict[str, list[float]]) -> str:
    """A fixed-width table of p50/p95 and the p50 overhead over the bare start."""
    floor = statistics.median(times[BARE])
    rows = [f"{'runner':<28}{'p50 ms':>9}{'p95 ms':>9}{'+p50 vs bare':>14}"]
    for name, samples in times.items():
        p50, p95 = statistics.median(samples), percentile(samples, 0.95)
        rows.append(f"{name:<28}{p50:>9.1f}{p95:>9.1f}{p50 - floor:>+14.1f}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="rounds to time (default 20)")
    parser.add_argument("--smoke", action="store_true", help="3 rounds, to check the script runs")
    args = parser.parse_args(argv)
    n = 3 if args.smoke else args.n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # subprocess: "not isolated", known
        runners = {
            BARE: bare(),
            "bare python3 -I -S -c pass": bare("-I", "-S"),
            "local (bubblewrap)": through(make_sandbox(SandboxConfig(backend="local"))),
            "subprocess": through(make_sandbox(SandboxConfig(backend="subprocess"))),
        }
    times = asyncio.run(measure(runners, n))
    print(f"one run of {PROGRAM!r}, n={n}, python {sys.version.split()[0]}")
    print(table(times))


if __name__ == "__main__":
    main()
