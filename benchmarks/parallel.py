"""Wall time of k concurrent branches against one, on a provider with a fixed latency.

A stand-in for a remote OpenAI-compatible provider runs on 127.0.0.1 (a separate process,
so its work never shares the client's event loop): every ``/v1/chat/completions`` answers
after ``--latency`` seconds with a valid chat completion and usage, and the server exits by
itself after ``--lifetime`` seconds or ``--idle`` seconds without a request. A role points at
it through LiteLLM (``openai/fake`` + ``api_base``), and ``self-consistency`` with
``early_stop=False`` samples k ∈ {1, 2, 4, 8, 16} branches. If branches run concurrently,
wall(k)/wall(1) stays near ceil(k / concurrency), not k. ``Config.concurrency`` bounds the
calls in flight per provider (default 4), so each k is run with the default and with
concurrency = k. A bare ``asyncio.gather`` of k ``litellm.acompletion`` calls is the floor.
Setups take turns (round-robin) so machine noise lands on all of them alike.

    python benchmarks/parallel.py                 # 5 rounds, 200 ms per request
    python benchmarks/parallel.py --latency 0.5 --rounds 9
    python benchmarks/parallel.py --smoke         # k in {1, 4}, 1 round
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

KEY_ENV = "FAKE_PROVIDER_API_KEY"
MODEL = "openai/fake"
QUESTION = "What is 2 + 2?"


# --- the fake provider --------------------------------------------------------------

def completion_body(request: dict[str, Any]) -> dict[str, Any]:
    """A valid OpenAI chat completion with ``n`` choices and usage."""
    n = int(request.get("n") or 1)
    prompt = sum(len(str(m.get("content", "")).split()) for m in request.get("messages", []))
    text = "2 plus 2 is 4.\nAnswer: 4"
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}", "object": "chat.completion",
        "created": int(time.time()), "model": request.get("model", "fake"),
        "choices": [{"index": i, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": text}} for i in range(n)],
        "usage": {"prompt_tokens": prompt, "completion_tokens": 8 * n,
                  "total_tokens": prompt + 8 * n},
    }


def serve(port: int, latency: float, lifetime: float, idle: float) -> None:
    """Answer chat completions after ``latency`` s; exit after ``lifetime`` s or ``idle`` s idle."""
    last = [time.monotonic()]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            last[0] = time.monotonic()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if not self.path.rstrip("/").endswith("/chat/completions"):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            time.sleep(latency)
            self._send(200, completion_body(json.loads(body or b"{}")))
            last[0] = time.monotonic()

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print("ready", flush=True)
    started = time.monotonic()
    while time.monotonic() - started < lifetime and time.monotonic() - last[0] < idle:
        time.sleep(0.2)
    server.shutdown()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(latency: float, lifetime: float) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--latency", str(latency),
         "--lifetime", str(lifetime)], stdout=subprocess.PIPE, text=True)
    if proc.stdout is None or proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise SystemExit("the fake provider did not start")
    return proc, f"http://127.0.0.1:{port}/v1"


# --- the measurement -----------------------------------------------------------------

def config_for(api_base: str, concurrency: int, store: Path) -> Any:
    from ponder.config import RoleConfig, load_config

    role = RoleConfig(model=MODEL, api_base=api_base, api_key_env=KEY_ENV, max_tokens=32,
                      retries=0, timeout=30)
    return load_config(None, store=store, concurrency=concurrency,
                       roles={"reasoner": role, "standard": role})


def graph_runner(api_base: str, k: int, concurrency: int, store: Path) -> Any:
    """One solve of self-consistency with k branches; returns the number of calls made."""
    from ponder.config import SolveOptions
    from ponder.graphs.api import build_graph
    from ponder.types import Problem

    graph = build_graph("self-consistency", config_for(api_base, concurrency, store),
                        options=SolveOptions(samples=k, early_stop=False, use_logprobs=False),
                        run_id="bench-parallel")

    async def once() -> int:
        result = (await graph.ainvoke({"problem": Problem(question=QUESTION, reference="4")}))["result"]
        if result.answer != "4" or result.samples_used != k:
            raise SystemExit(f"unexpected result: {result.answer} from {result.samples_used} samples")
        return result.usage.calls

    return once


def bare_runner(api_base: str, k: int) -> Any:
    """k ``litellm.acompletion`` calls gathered: what the provider and LiteLLM allow at best."""
    import litellm

    async def one() -> None:
        await litellm.acompletion(model=MODEL, api_base=api_base, api_key=os.environ[KEY_ENV],
                                  messages=[{"role": "user", "content": QUESTION}], max_tokens=32)

    async def once() -> int:
        await asyncio.gather(*[one() for _ in range(k)])
        return k

    return once


async def measure(setups: dict[tuple, Any], rounds: int) -> dict[tuple, list[float]]:
    times: dict[tuple, list[float]] = {key: [] for key in setups}
    for run in setups.values():  # warm up: imports, HTTP clients, first-call caches
        await run()
    for _ in range(rounds):
        for key, run in setups.items():
            started = time.perf_counter()
            calls = await run()
            times[key].append(time.perf_counter() - started)
            # ponder joins the k single-sample requests of a fan-out into one n-request where
            # the provider takes n (topped up where it ignores it): 1..k calls, never more.
            if not 1 <= calls <= key[1]:
                raise SystemExit(f"{key}: {calls} provider calls for {key[1]} branches")
    return times


def table(times: dict[tuple, list[float]], latency: float) -> str:
    lines = ["| runner | k | concurrency | median wall (s) | wall(k)/wall(1) | ideal ratio "
             "| serial ratio |",
             "|---|---|---|---|---|---|---|"]
    base = {}
    for (kind, k, conc), samples in times.items():
        if k == 1 and kind not in base:
            base[kind] = statistics.median(samples)
    for (kind, k, conc), samples in times.items():
        wall = statistics.median(samples)
        ideal = math.ceil(k / conc) if conc else 1
        lines.append(f"| {kind} | {k} | {conc or '—'} | {wall:.3f} | {wall / base[kind]:.2f} "
                     f"| {ideal} | {k} |")
    lines.append(f"\nper-request latency {latency * 1000:.0f} ms; median of the rounds; ideal ratio "
                 "= ceil(k / concurrency), serial ratio = k")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> str:
    os.environ.setdefault(KEY_ENV, "sk-fake")
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    proc, api_base = start_server(args.latency, lifetime=args.lifetime)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = Path(tmp) / "ponder.db"
            setups: dict[tuple, Any] = {}
            for k in args.ks:
                setups[("litellm gather", k, 0)] = bare_runner(api_base, k)
            for k in args.ks:
                setups[("ponder self-consistency", k, 4)] = graph_runner(api_base, k, 4, store)
            for k in args.ks:
                if k not in (1, 4):  # k=1 is the same single call; k=4 is the default
                    setups[("ponder self-consistency", k, k)] = graph_runner(api_base, k, k, store)
            times = await asyncio.wait_for(measure(setups, args.rounds), timeout=args.lifetime)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    ordered = dict(sorted(times.items(), key=lambda kv: (kv[0][0], kv[0][2] not in (0, 4), kv[0][1])))
    return table(ordered, args.latency)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per request")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per setup")
    parser.add_argument("--ks", default="1,2,4,8,16", help="branch counts")
    parser.add_argument("--lifetime", type=float, default=300.0,
                        help="the server (and the measurement) stop after this many seconds")
    parser.add_argument("--smoke", action="store_true", help="k in {1, 4}, one round")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.latency, args.lifetime, idle=30.0)
        return 0
    args.ks = [int(k) for k in args.ks.split(",")]
    if args.smoke:
        args.ks, args.rounds = [1, 4], 1
    if 1 not in args.ks:
        parser.error("--ks must include 1 (the baseline)")
    started = time.perf_counter()
    text = asyncio.run(run(args))
    print(f"# parallel branches — {time.strftime('%Y-%m-%d')}, {time.perf_counter() - started:.0f} s\n")
    print("command: `" + " ".join(["python", "benchmarks/parallel.py", *sys.argv[1:]]) + "`\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
