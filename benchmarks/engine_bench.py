"""What running the embedded models in a worker process costs, against running them in process.

Two engines over the same weights and the same generation code — ``LocalEngine()`` (each
model in its own worker process, so a llama.cpp crash cannot take ponder down) and
``LocalEngine(isolation="none")`` (in process) — take turns, call by call, so machine noise
lands on both alike. Measured per model:

- per-call overhead: a 1-token call (prompt evaluation included), median over the rounds;
  the difference between the engines is what the process boundary adds per call;
- tokens/s: a 64-token sampled generation at a fixed seed (both engines generate the same
  tokens, so the rates compare like for like);
- the same with a mid-generation stop rule watching every token (DeepConf's online cut-off
  asks the parent once per token across the boundary);
- time outside llama.cpp per call: wall time minus the time the engine reports it spent
  generating — for the worker, the whole cost of the process boundary, free of the noise in
  generation time that the rows above carry on a busy machine.

    python benchmarks/engine_bench.py            # 20 rounds
    python benchmarks/engine_bench.py --smoke    # 2 rounds, one model
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

BOUNDARY = "time outside llama.cpp per call, ms"
PROMPT = [{"role": "user", "content": "Write a short story about a lighthouse keeper."}]


def timed(engine: Any, model: str, **kwargs: Any) -> tuple[float, int, float]:
    """Wall seconds, tokens, and the seconds of it spent outside llama.cpp."""
    started = time.perf_counter()
    out = engine.complete(model, PROMPT, **kwargs)
    wall = time.perf_counter() - started
    return wall, out["usage"]["completion_tokens"], wall - out["engine_s"]


def measure(model: str, rounds: int) -> list[tuple[str, str, float, float]]:
    """``(model, measure, worker, in_process)`` rows."""
    from ponder.embedded.engine import LocalEngine

    engines = {"worker": LocalEngine(), "in-process": LocalEngine(isolation="none")}
    never = lambda logprobs: False  # noqa: E731 - a stop rule that watches every token
    cases = {
        "1-token call, ms": dict(max_tokens=1, temperature=0.0, seed=0),
        "64 tokens, tokens/s": dict(max_tokens=64, temperature=1.0, seed=5),
        "64 tokens + stop rule, tokens/s": dict(max_tokens=64, temperature=1.0, seed=5,
                                                stop_when=never),
    }
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        for engine in engines.values():  # load both before timing
            engine.complete(model, PROMPT, max_tokens=1)
        for _ in range(rounds):
            for case, kwargs in cases.items():
                for name, engine in engines.items():
                    seconds, tokens, outside = timed(engine, model, **kwargs)
                    value = seconds * 1000 if case.startswith("1-token") else tokens / seconds
                    samples.setdefault((case, name), []).append(value)
                    samples.setdefault((BOUNDARY, name), []).append(outside * 1000)
    finally:
        for engine in engines.values():
            engine.close()
    return [(model, case, statistics.median(samples[(case, "worker")]),
             statistics.median(samples[(case, "in-process")])) for case in [*cases, BOUNDARY]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--smoke", action="store_true", help="2 rounds, SmolLM2 only")
    args = parser.parse_args(argv)
    models = ["smollm2-135m"] if args.smoke else ["smollm2-135m", "gemma-3-270m"]
    rounds = 2 if args.smoke else args.rounds
    print(f"engine worker vs in process, median of {rounds} alternating rounds\n")
    print("| model | measure | worker | in process | worker / in process |")
    print("|---|---|---|---|---|")
    for model in models:
        for name, case, worker, inline in measure(model, rounds):
            diff = f" ({worker - inline:+.1f} ms)" if "ms" in case else ""
            print(f"| {name} | {case} | {worker:.1f} | {inline:.1f} | {worker / inline:.3f}{diff} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
