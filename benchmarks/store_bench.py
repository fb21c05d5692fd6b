"""The two stores side by side: batch throughput (items/s) and ``ponder serve`` latency.

The same scripted model (a local function that answers at once, so the store's share is what
is measured) runs a ``ponder batch`` of N problems (direct strategy, 8 at a time) and a
``ponder serve`` (in this process, 127.0.0.1) answering M requests one after another, once on
a SQLite file and once on a PostgreSQL database started for the run (``initdb`` + ``pg_ctl``
in a temporary folder, as the tests do; skipped with the reason where it cannot start).

    python benchmarks/store_bench.py            # 400 items, 200 requests
    python benchmarks/store_bench.py --smoke    # 40 items, 20 requests
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.pg_server

KEY = "sk-bench"


def answer(messages: list[dict[str, str]], index: int) -> str:
    return "6 times 7.\nAnswer: 42"


def write_inputs(folder: Path, n: int) -> tuple[Path, Path]:
    data, config = folder / "data.jsonl", folder / "ponder.toml"
    data.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + 2?",
                                        "answer": f"#### {i + 2}"}) + "\n" for i in range(n)))
    config.write_text('[roles.reasoner]\nmodel = "scripted/bench-store"\nmax_tokens = 64\n'
                      '[roles.standard]\nmodel = "scripted/bench-store"\nmax_tokens = 64\n')
    return data, config


def batch_rate(store: str, data: Path, config: Path, n: int) -> float:
    from typer.testing import CliRunner

    from ponder.cli import app

    start = time.perf_counter()
    result = CliRunner().invoke(app, ["batch", str(data), "-s", "direct", "-c", "8", "--json",
                                      "--run", "bench", "--store", store, "--config", str(config)])
    wall = time.perf_counter() - start
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["solved"] == n, result.stdout
    return n / wall


def serve_p50_ms(store: str, config: Path, m: int) -> float:
    import httpx

    from ponder.config import load_config
    from ponder.serve import BackgroundServer, ServeSettings

    cfg = load_config(config, store=store)
    body = {"model": "direct", "messages": [{"role": "user", "content": "What is 6 times 7?"}]}
    times = []
    with BackgroundServer(cfg, ServeSettings(api_keys=(KEY,))) as server, httpx.Client() as http:
        for i in range(m + 3):
            start = time.perf_counter()
            reply = http.post(f"{server.base_url}/chat/completions", json=body, timeout=60,
                              headers={"Authorization": f"Bearer {KEY}"})
            assert reply.status_code == 200, reply.text
            if i >= 3:  # warm-up
                times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="40 items, 20 requests")
    args = parser.parse_args()
    n, m = (40, 20) if args.smoke else (400, 200)
    from ponder.scripted import register_script
    from tests.pg_server import missing, new_database, postgres_server

    register_script("bench-store", answer)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        warm, config = write_inputs(folder, 8)
        batch_rate(str(folder / "warm.db"), warm, config, 8)  # imports and first calls, unmeasured
        data, config = write_inputs(folder, n)
        rows.append(("SQLite", batch_rate(str(folder / "a.db"), data, config, n),
                     serve_p50_ms(str(folder / "b.db"), config, m)))
        if reason := missing():
            print(f"PostgreSQL skipped: {reason}")
        else:
            with postgres_server() as server:
                rows.append(("PostgreSQL", batch_rate(new_database(server), data, config, n),
                             serve_p50_ms(new_database(server), config, m)))
    print(f"{n} batch items (direct, 8 at a time), {m} serve requests one at a time\n")
    print("| store | batch items/s | serve p50 (ms) |\n|---|---:|---:|")
    for name, rate, p50 in rows:
        print(f"| {name} | {rate:.1f} | {p50:.1f} |")


if __name__ == "__main__":
    main()
