"""What ponder adds over a bare LiteLLM call, per solve and per graph node, and its cold start.

Every runner answers from LiteLLM's ``mock_response`` (no network, no model), so what is
left is framework time: bare ``litellm.acompletion``; ponder's adapter
(``ModelClient.acomplete``: request building, retries, typed completions, cost); a prebuilt
``cot`` graph (``graph.ainvoke``); ``ponder.asolve`` (builds the graph each call); and a
prebuilt ``self-consistency`` graph with 8 branches. The role reaches ``mock_response`` the
public way, through ``RoleConfig.params``. Runners take turns (round-robin) so machine
noise lands on all of them alike. Cold start: ``ponder --help``, ``import ponder`` and
friends, each a fresh interpreter, median of 5.

    python benchmarks/overhead.py             # 200 rounds
    python benchmarks/overhead.py --n 1000
    python benchmarks/overhead.py --smoke     # 5 rounds, 1 cold start each
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

MODEL = "openai/gpt-4o-mini"
MOCK = "Answer: 4"
QUESTION = "What is 2 + 2?"
KEY_ENV = "FAKE_OPENAI_KEY"
Runner = Callable[[], Awaitable[Any]]
BARE, ADAPTER = "bare litellm.acompletion", "adapter ModelClient.acomplete"
SC8 = "graph self-consistency N=8 (prebuilt)"


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``samples``, by the nearest-rank method."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


async def prepare(store: Path) -> tuple[dict[str, Runner], dict[str, int]]:
    """The runners, and how many graph nodes each graph runner executes per call."""
    import litellm

    from ponder.config import RoleConfig, SolveOptions, load_config
    from ponder.graphs.api import asolve, build_graph
    from ponder.models import ModelClient
    from ponder.types import Problem

    os.environ.setdefault(KEY_ENV, "x")
    role = RoleConfig(model=MODEL, api_key_env=KEY_ENV, params={"mock_response": MOCK})
    config = load_config(None, store=store, roles={"reasoner": role, "standard": role})
    client = ModelClient(config)
    problem = Problem(question=QUESTION, reference="4")
    cot = build_graph("cot", config, models=client, run_id="bench-cot")
    sc8 = build_graph("self-consistency", config, models=client, run_id="bench-sc8",
                      options=SolveOptions(samples=8, early_stop=False))

    async def bare() -> Any:
        return await litellm.acompletion(model=MODEL, mock_response=MOCK, api_key="x",
                                         messages=[{"role": "user", "content": QUESTION}])

    async def adapter() -> Any:
        return await client.acomplete("reasoner", QUESTION)

    async def graph_cot() -> Any:
        return await checked(cot.ainvoke({"problem": problem}))

    async def solve_cot() -> Any:
        return await asolve(problem, strategy="cot", store=False, config=config, models=client)

    async def graph_sc8() -> Any:
        return await checked(sc8.ainvoke({"problem": problem}))

    setups = {BARE: bare, ADAPTER: adapter, "graph cot (prebuilt)": graph_cot,
              "asolve cot (builds graph)": solve_cot, SC8: graph_sc8}
    nodes = {"graph cot (prebuilt)": await count_nodes(cot, problem), SC8: await count_nodes(sc8, problem)}
    nodes["asolve cot (builds graph)"] = nodes["graph cot (prebuilt)"]
    return setups, nodes


async def checked(pending: Awaitable[dict[str, Any]]) -> Any:
    result = (await pending)["result"]
    if result.answer != "4":
        raise SystemExit(f"mock answer not extracted: {result.answer!r}")
    return result


async def count_nodes(graph: Any, problem: Any) -> int:
    """Node executions in one run of a graph (subgraph nodes included)."""
    count = 0
    async for _ in graph.astream({"problem": problem}, stream_mode="updates", subgraphs=True):
        count += 1
    return count


async def measure(setups: dict[str, Runner], n: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in setups}
    for run in setups.values():  # warm up: imports, first-use caches
        for _ in range(3):
            await run()
    for _ in range(n):
        for name, run in setups.items():
            started = time.perf_counter()
            await run()
            times[name].append(time.perf_counter() - started)
    return times


def solve_table(times: dict[str, list[float]], nodes: dict[str, int]) -> str:
    bare, adapter = statistics.median(times[BARE]), statistics.median(times[ADAPTER])
    lines = ["| runner | median (ms) | p90 (ms) | × bare litellm | model calls | graph nodes run "
             "| added per node (ms) |", "|---|---|---|---|---|---|---|"]
    calls = {SC8: 8}
    for name, samples in times.items():
        med = statistics.median(samples)
        count = nodes.get(name)
        per_node = ""
        if count:
            per_node = f"{(med - calls.get(name, 1) * adapter) / count * 1000:.2f}"
        lines.append(f"| {name} | {med * 1000:.2f} | {percentile(samples, 0.9) * 1000:.2f} "
                     f"| {med / bare:.1f} | {calls.get(name, 1)} | {count or ''} | {per_node} |")
    lines.append("\nadded per node = (graph median − model calls × adapter median) / nodes run")
    return "\n".join(lines)


def cold_start(repeats: int) -> str:
    """Wall time of fresh interpreters, median of ``repeats``, taking turns."""
    bindir = Path(sys.executable).parent
    ponder = bindir / "ponder"
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import ponder'": [sys.executable, "-c", "import ponder"],
        "ponder --help": [str(ponder), "--help"] if ponder.exists()
        else [sys.executable, "-m", "ponder.cli", "--help"],
        "python -c 'import ponder.graphs.api'": [sys.executable, "-c", "import ponder.graphs.api"],
        "python -c 'import litellm'": [sys.executable, "-c", "import litellm"],
    }
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name, argv in commands.items():
            started = time.perf_counter()
            done = subprocess.run(argv, env=env, capture_output=True, timeout=120)
            times[name].append(time.perf_counter() - started)
            if done.returncode != 0:
                raise SystemExit(f"{name} failed: {done.stderr.decode()[-500:]}")
    lines = ["| command | median wall (ms) | min (ms) |", "|---|---|---|"]
    for name, samples in times.items():
        lines.append(f"| `{name}` | {statistics.median(samples) * 1000:.0f} "
                     f"| {min(samples) * 1000:.0f} |")
    return "\n".join(lines)


async def solve_overhead(n: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        setups, nodes = await prepare(Path(tmp) / "ponder.db")
        times = await measure(setups, n)
    return solve_table(times, nodes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200, help="timed rounds per runner")
    parser.add_argument("--cold", type=int, default=5, help="fresh interpreters per command")
    parser.add_argument("--smoke", action="store_true", help="5 rounds, 1 cold start each")
    args = parser.parse_args(argv)
    if args.smoke:
        args.n, args.cold = 5, 1
    started = time.perf_counter()
    solve = asyncio.run(solve_overhead(args.n))
    cold = cold_start(args.cold)
    print(f"# overhead — {time.strftime('%Y-%m-%d')}, {time.perf_counter() - started:.0f} s\n")
    print("command: `" + " ".join(["python", "benchmarks/overhead.py", *sys.argv[1:]]) + "`\n")
    print(f"## per solve (n={args.n}, mock_response, no network)\n\n{solve}\n")
    print(f"## cold start (median of {args.cold})\n\n{cold}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
