"""Batch throughput, peak memory and resume time, with a scripted (instant) model.

    python benchmarks/batch_bench.py            # 10,000 problems
    python benchmarks/batch_bench.py --smoke    # 200 problems

Each measurement runs in a fresh, warmed-up child process (imports and the first model
call happen before the clock and the RSS baseline start, so they are not counted):
a full batch at N/10 and at N problems with the ``direct`` strategy (memory should stay
flat as N grows), then a batch of N killed with SIGKILL halfway and resumed (the resume's
time to skip the stored half, and its total).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def instant_answer(messages: list[dict[str, str]], index: int) -> str:
    """Right at once: grading a wrong answer asks math_verify (~12 ms), not the runner."""
    number = int(messages[-1]["content"].split("What is ", 1)[1].split(" ", 1)[0])
    return f"Answer: {number + 4}"


def make_dataset(path: Path, n: int) -> None:
    with path.open("w") as fh:
        for i in range(n):
            fh.write(json.dumps({"question": f"What is {i} + 4?", "answer": f"#### {i + 4}"}) + "\n")


def child(data: Path, store: Path, concurrency: int) -> None:
    """Run one batch and print its figures as JSON (the measured process)."""
    from ponder.config import RoleConfig, load_config
    from ponder.graphs.batch import BatchSettings, run_batch
    from ponder.eval.datasets import DatasetSpec
    from ponder.scripted import register_script

    model = register_script("bench", instant_answer)
    cfg = load_config(None, store=store, roles={"reasoner": RoleConfig(model=model),
                                                "standard": RoleConfig(model=model)})
    from ponder.graphs.api import solve

    solve("What is 1 + 1?", strategy="direct", config=cfg, store=False)  # imports, warm-up
    first_new: list[float] = []

    def seen(progress) -> None:
        if progress.done > progress.resumed and not first_new:
            first_new.append(time.perf_counter())

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    outcome = asyncio.run(run_batch(DatasetSpec(source=str(data)), cfg,
                                    BatchSettings(strategies=["direct"], run="bench",
                                                  concurrency=concurrency),
                                    on_progress=seen))
    elapsed = time.perf_counter() - began
    print(json.dumps({
        "solved": outcome.solved, "resumed": outcome.resumed, "seconds": elapsed,
        "to_first_new": (first_new[0] - began) if first_new else elapsed,
        "rss_before_mb": rss_before / 1024,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def spawn(data: Path, store: Path, concurrency: int) -> subprocess.Popen:
    cmd = [sys.executable, __file__, "--child", str(data), "--store", str(store),
           "--concurrency", str(concurrency)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def measure(data: Path, store: Path, concurrency: int) -> dict:
    proc = spawn(data, store, concurrency)
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"benchmark child failed:\n{err}")
    return json.loads(out.splitlines()[-1])


def stored(store: Path) -> int:
    try:
        with sqlite3.connect(store, timeout=10) as con:
            return con.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def kill_halfway(data: Path, store: Path, n: int, concurrency: int) -> int:
    proc = spawn(data, store, concurrency)
    while proc.poll() is None and stored(store) < n // 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return stored(store)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="problems (default 10,000)")
    parser.add_argument("--smoke", action="store_true", help="200 problems")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--store", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.store, args.concurrency)
        return
    n = 200 if args.smoke else args.n
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in (max(1, n // 10), n):
            data = Path(tmp) / f"d{size}.jsonl"
            make_dataset(data, size)
            r = measure(data, Path(tmp) / f"s{size}.db", args.concurrency)
            rows.append((f"full batch, N={size:,}", r["solved"], f"{r['solved'] / r['seconds']:.1f}",
                         f"{r['seconds']:.1f}", f"{r['peak_rss_mb']:.0f}",
                         f"{r['peak_rss_mb'] - r['rss_before_mb']:.0f}"))
        data, store = Path(tmp) / f"d{n}.jsonl", Path(tmp) / "kill.db"
        kept = kill_halfway(data, store, n, args.concurrency)
        r = measure(data, store, args.concurrency)
        assert r["resumed"] == kept and r["resumed"] + r["solved"] == n, r
        rows.append((f"resume after kill -9 ({kept:,} kept)", r["solved"],
                     f"{r['solved'] / r['seconds']:.1f}", f"{r['seconds']:.1f}",
                     f"{r['peak_rss_mb']:.0f}", f"{r['peak_rss_mb'] - r['rss_before_mb']:.0f}"))
        rows.append(("  of which: skip the stored half", kept, "-", f"{r['to_first_new']:.1f}", "-", "-"))
    print_table(rows, n, args.concurrency)


def print_table(rows: list[tuple], n: int, concurrency: int) -> None:
    head = ("measurement", "problems", "problems/s", "seconds", "peak RSS MB", "RSS growth MB")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    print(f"ponder batch benchmark: strategy direct, scripted model, concurrency {concurrency}, "
          f"{os.cpu_count()} CPUs")
    for row in [head, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))


if __name__ == "__main__":
    main()
