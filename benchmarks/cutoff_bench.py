"""Tokens saved by DeepConf's online cut-off on a streaming OpenAI-compatible server.

A stand-in server on 127.0.0.1 streams chat completions with per-token log-probabilities,
as vLLM, SGLang or llama.cpp's server do, and counts the tokens it actually generated before
each client hung up. Its branches are of two kinds, drawn per sample from a fixed seed: a
*confident* one (short, high log-probabilities, the right answer) and a *rambling* one (long,
log-probabilities that collapse after a few tokens, a wrong answer at the end). The same
``self-consistency`` solve runs with and without the cut-off rule (``collapse_floor``), side
by side, problem by problem: accuracy, tokens the server generated, tokens ponder recorded.

This measures the mechanism — how many generated tokens a cut-off saves when traces do
collapse — not how often a real model's traces collapse.

    python benchmarks/cutoff_bench.py                  # 12 problems, 8 samples
    python benchmarks/cutoff_bench.py --smoke          # 2 problems, 4 samples
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
MODEL = "hosted_vllm/stand-in"


def branch_tokens(answer: int, rambling: bool) -> list[tuple[str, float]]:
    if rambling:
        return [(" so", -0.05), (" maybe", -0.1)] + [(" hmm", -3.0)] * 300 + [
            ("\nAnswer:", -0.5), (f" {answer + 1}", -2.0)]
    return [(" add", -0.02), (" them", -0.03), (".", -0.01), ("\nAnswer:", -0.01),
            (f" {answer}", -0.02)] + [("", -0.01)] * 20


class Server:
    """The streaming stand-in; ``generated`` counts tokens written before each hang-up."""

    def __init__(self, ramble_rate: float, delay: float):
        self.generated = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                question = body["messages"][-1]["content"]
                answer = int(question.split("What is ")[1].split(" ")[0]) + 2
                draw = random.Random(f"{question}|{body.get('seed')}")
                tokens = branch_tokens(answer, draw.random() < ramble_rate)
                server.respond(self, body, tokens, delay)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.http.server_address[1]}/v1"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def respond(self, handler: BaseHTTPRequestHandler, body: dict, tokens: list, delay: float) -> None:
        def event(delta: dict, logprob: float | None, finish: str | None = None) -> bytes:
            lp = None if logprob is None else {"content": [
                {"token": delta.get("content", ""), "logprob": logprob, "bytes": None,
                 "top_logprobs": []}]}
            data = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "s",
                    "choices": [{"index": 0, "delta": delta, "logprobs": lp, "finish_reason": finish}]}
            return f"data: {json.dumps(data)}\n\n".encode()

        if not body.get("stream"):
            text = "".join(t for t, _ in tokens)
            with self.lock:
                self.generated += len(tokens)
            payload = json.dumps({"id": "c", "object": "chat.completion", "created": 1, "model": "s",
                                  "choices": [{"index": 0, "finish_reason": "stop", "message": {
                                      "role": "assistant", "content": text}}],
                                  "usage": {"prompt_tokens": 30, "completion_tokens": len(tokens),
                                            "total_tokens": 30 + len(tokens)}}).encode()
            handler.send_response(200)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return
        handler.send_response(200)
        handler.send_header("content-type", "text/event-stream")
        handler.send_header("connection", "close")
        handler.end_headers()
        try:
            for token, logprob in tokens:
                handler.wfile.write(event({"content": token}, logprob))
                handler.wfile.flush()
                with self.lock:
                    self.generated += 1
                time.sleep(delay)
            handler.wfile.write(event({}, None, "stop"))
            usage = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "s",
                     "choices": [], "usage": {"prompt_tokens": 30, "completion_tokens": len(tokens),
                                              "total_tokens": 30 + len(tokens)}}
            handler.wfile.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
        except (BrokenPipeError, ConnectionResetError):
            pass
        handler.close_connection = True


def run(problems: int, samples: int, floor: float | None, server: Server, store: Path) -> dict:
    import ponder
    from ponder.config import RoleConfig, SolveOptions, load_config

    os.environ.setdefault("HOSTED_VLLM_API_KEY", "stand-in")
    role = RoleConfig(model=MODEL, api_base=server.base, max_tokens=400, retries=0)
    config = load_config(None, store=store, roles={"reasoner": role, "standard": role})
    before, correct, recorded = server.generated, 0, 0
    started = time.perf_counter()
    for i in range(problems):
        result = ponder.solve(f"What is {i} + 2?", "self-consistency", config=config, store=False,
                              options=SolveOptions(samples=samples, early_stop=False, seed=i,
                                                   collapse_floor=floor))
        correct += result.answer == str(i + 2)
        recorded += result.usage.completion_tokens
    return {"accuracy": correct / problems, "generated": server.generated - before,
            "recorded": recorded, "wall": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=12)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--ramble", type=float, default=0.4, help="share of rambling branches")
    parser.add_argument("--floor", type=float, default=0.2, help="collapse_floor of the cut-off")
    parser.add_argument("--delay", type=float, default=0.001, help="seconds per streamed token")
    parser.add_argument("--smoke", action="store_true", help="2 problems, 4 samples")
    args = parser.parse_args(argv)
    problems, samples = (2, 4) if args.smoke else (args.problems, args.samples)
    server = Server(args.ramble, args.delay)
    with tempfile.TemporaryDirectory() as tmp:
        rows = {name: run(problems, samples, floor, server, Path(tmp) / "b.db")
                for name, floor in (("full traces", None), (f"cut-off (floor {args.floor})", args.floor))}
    base = rows["full traces"]["generated"] or 1
    print(f"online cut-off on a streaming stand-in: {problems} problems × {samples} samples, "
          f"{args.ramble:.0%} rambling branches\n")
    print("| run | accuracy | tokens generated by the server | tokens ponder recorded | "
          "generated vs full | wall s |")
    print("|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['accuracy']:.0%} | {r['generated']} | {r['recorded']} | "
              f"{r['generated'] / base:.2f}× | {r['wall']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
