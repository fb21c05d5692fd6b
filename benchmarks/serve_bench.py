"""What ``ponder serve`` adds over calling ``ponder.asolve`` directly, under load.

The same scripted model (a local function with a fixed delay per call) answers both ways.
Direct: ``asolve`` calls, ``--concurrency`` at a time, in this process. Served: the same
requests as OpenAI chat completions over HTTP on 127.0.0.1 to a ``ponder serve`` child
process (uvicorn, its own store). Reported: p50/p95 latency of each and the difference (the
endpoint's overhead: HTTP, JSON, admission, the run record), throughput, and the checks that
matter under load: every request is exactly one run (no lost or duplicated runs), every run
is ``done``, and every response's usage equals its stored run's.

    python benchmarks/serve_bench.py            # 200 requests, 50 at a time
    python benchmarks/serve_bench.py --smoke    # 8 requests, 4 at a time
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

QUESTION = "What is 6 times 7?"
MODEL_NAME = "self-consistency@4"
KEY = "sk-bench"


def percentile(samples: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``samples``, by the nearest-rank method."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def scripted_config(store: Path, delay_s: float) -> Any:
    """Roles on a scripted model that sleeps ``delay_s`` per call and votes 3:1 for 42."""
    from ponder.config import RoleConfig, load_config
    from ponder.scripted import register_script

    def script(messages: list[dict[str, str]], index: int) -> str:
        time.sleep(delay_s)
        return f"Let me think. The answer is {41 if index % 4 == 3 else 42}."

    model = register_script("serve-bench", script)
    role = RoleConfig(model=model, max_tokens=64)
    return load_config(None, store=store, roles={"reasoner": role, "standard": role})


def worker(port: int, store: Path, delay_s: float, concurrency: int) -> None:
    """The child process: ``ponder serve`` over the scripted model until terminated."""
    from ponder.serve import ServeSettings, serve

    serve(scripted_config(store, delay_s),
          ServeSettings(api_keys=(KEY,), max_concurrent=max(concurrency, 1), timeout_s=300),
          host="127.0.0.1", port=port, log_level="warning")


async def bounded(n: int, concurrency: int, call: Any) -> tuple[list[Any], float]:
    """Run ``call(i)`` for i < n, ``concurrency`` at a time; results and wall seconds."""
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> Any:
        async with gate:
            return await call(i)

    began = time.perf_counter()
    out = await asyncio.gather(*(one(i) for i in range(n)))
    return list(out), time.perf_counter() - began


async def direct(n: int, concurrency: int, store: Path, delay_s: float) -> tuple[list[float], float]:
    import ponder

    config = scripted_config(store, delay_s)
    await ponder.asolve(QUESTION, "self-consistency", 4, config)  # warm: imports, first graph

    async def call(i: int) -> float:
        began = time.perf_counter()
        await ponder.asolve(QUESTION, "self-consistency", 4, config)
        return time.perf_counter() - began

    return await bounded(n, concurrency, call)


async def served(n: int, concurrency: int, base: str) -> tuple[list[dict[str, Any]], float]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=300,
                                 headers={"Authorization": f"Bearer {KEY}"}) as http:
        body = {"model": MODEL_NAME, "messages": [{"role": "user", "content": QUESTION}]}
        await http.post("/chat/completions", json=body)  # warm, like the direct path

        async def call(i: int) -> dict[str, Any]:
            began = time.perf_counter()
            response = await http.post("/chat/completions", json=body)
            took = time.perf_counter() - began
            return {"status": response.status_code, "took": took, "body": response.json(),
                    "run_id": response.headers.get("x-ponder-run-id")}

        return await bounded(n, concurrency, call)


def start_server(store: Path, delay_s: float, concurrency: int) -> tuple[subprocess.Popen, str]:
    import httpx

    from ponder.serve.server import free_port

    port = free_port()
    child = subprocess.Popen([sys.executable, __file__, "--worker", str(port), "--store", str(store),
                              "--delay", str(delay_s), "--concurrency", str(concurrency)])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return child, f"http://127.0.0.1:{port}/v1"
        except httpx.HTTPError:
            time.sleep(0.2)
        if child.poll() is not None:
            break
    child.kill()
    raise SystemExit("ponder serve did not come up within 120s")


def audit(replies: list[dict[str, Any]], store_path: Path, warmups: int) -> dict[str, int]:
    """Count lost and duplicated runs and usage mismatches against the server's store."""
    from ponder.store import Store

    store = Store(store_path)
    ids = [r["run_id"] for r in replies if r["status"] == 200]
    runs = store.list_runs(limit=100_000, kind="serve")
    done = {r.id for r in runs if r.status == "done"}
    mismatched = 0
    for reply in replies:
        if reply["status"] != 200:
            continue
        [result] = list(store.results(reply["run_id"]))
        usage = reply["body"]["usage"]
        mismatched += (usage["prompt_tokens"], usage["completion_tokens"],
                       usage["completion_tokens_details"]["reasoning_tokens"]) != (
            result.usage.prompt_tokens, result.usage.completion_tokens,
            result.usage.reasoning_tokens)
    return {"failed requests": sum(r["status"] != 200 for r in replies),
            "lost runs": len(set(ids) - done),
            # The store also holds the warm-up requests' runs.
            "duplicated runs": len(ids) - len(set(ids)) + max(0, len(runs) - warmups - len(replies)),
            "usage mismatches": mismatched,
            "wrong answers": sum(r["body"]["ponder"]["answer"] != "42"
                                 for r in replies if r["status"] == 200)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="8 requests, 4 at a time")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.02, help="seconds per model call")
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.store, args.delay, args.concurrency)
        return
    n, concurrency = (8, 4) if args.smoke else (args.n, args.concurrency)
    with tempfile.TemporaryDirectory() as tmp:
        served_store = Path(tmp) / "served.db"
        child, base = start_server(served_store, args.delay, concurrency)
        alone = 3 if args.smoke else 20
        try:
            solo, _ = asyncio.run(served(alone, 1, base))
            replies, served_wall = asyncio.run(served(n, concurrency, base))
        finally:
            child.terminate()
            child.wait(60)
        direct_db = Path(tmp) / "direct.db"
        solo_direct, _ = asyncio.run(direct(alone, 1, direct_db, args.delay))
        direct_s, direct_wall = asyncio.run(direct(n, concurrency, direct_db, args.delay))
        checks = audit(solo + replies, served_store, warmups=2)
    print(f"one at a time, {alone} requests each:")
    report(solo_direct, None, [r["took"] for r in solo], None)
    print(f"{n} requests ({MODEL_NAME}, scripted model, {args.delay * 1000:.0f} ms per call), "
          f"{concurrency} at a time, 127.0.0.1:")
    report(direct_s, direct_wall, [r["took"] for r in replies], served_wall)
    for name, count in checks.items():
        print(f"{name}: {count}")
    if any(checks.values()):
        sys.exit(1)


def report(direct_s: list[float], direct_wall: float | None, served_s: list[float],
           served_wall: float | None) -> None:
    """One table: latency of each path, throughput under load, and the difference."""
    print("\n| path | p50 ms | p95 ms | req/s |\n|---|---:|---:|---:|")
    for name, took, wall in (("ponder.asolve (direct)", direct_s, direct_wall),
                             ("ponder serve (HTTP)", served_s, served_wall)):
        rate = f"{len(took) / wall:.1f}" if wall else ""
        print(f"| {name} | {percentile(took, .5) * 1000:.1f} | {percentile(took, .95) * 1000:.1f} "
              f"| {rate} |")
    print(f"| overhead | {(percentile(served_s, .5) - percentile(direct_s, .5)) * 1000:+.1f} "
          f"| {(percentile(served_s, .95) - percentile(direct_s, .95)) * 1000:+.1f} | |\n")


if __name__ == "__main__":
    main()
