"""Page-load times of the web UI over a big store, in headless Chromium.

Builds a store with ``--runs`` solve runs (one problem, one result and a short trace each)
and one batch run of ``--results`` results (two strategies over half as many problems),
serves it with ``ponder ui``, and loads each page in Debian's Chromium through Playwright:
the Runs list (first and a deep page), the big run's Run page (summary, matrix, problems),
a trace in the middle of the big run, and a comparison of the big run with a copy of part
of it. A page counts as loaded when its title is drawn, Streamlit's skeleton is gone, the
network is idle and the element that page exists for is on screen. Each page is loaded
``--rounds`` times after one warm-up load; the table gives the median and the worst.

    python benchmarks/ui_bench.py                  # 1,000 runs, a run of 10,000 results
    python benchmarks/ui_bench.py --smoke          # 100 runs, a run of 1,000 results
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

CHROMIUM = os.environ.get("PONDER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
SKELETON = '[data-testid="stSkeleton"]'
STRATEGIES = ["pot", "verified"]


def result_for(run_id: str, problem_id: str, strategy: str, i: int) -> Any:
    from ponder.types import Branch, Result, Usage, Vote

    answer = str(i % 7)
    branch = Branch(index=0, model="local/gemma-3-270m", text=f"The answer is {answer}.",
                    answer=answer, reasoned_answer=answer, verdict="unverified",
                    usage=Usage(prompt_tokens=120, completion_tokens=30, latency_s=0.4, calls=1))
    return Result(run_id=run_id, problem_id=problem_id, strategy=strategy, answer=answer,
                  reference=str(i % 5), correct=answer == str(i % 5), confidence=0.5,
                  votes={answer: Vote(count=1, weight=1.0)}, branches=[branch],
                  usage=branch.usage, samples_used=1, max_samples=4, stopped="decided",
                  models={"reasoner": "local/gemma-3-270m"}, wall_s=0.5)


def trace_of(run_id: str, problem_id: str, strategy: str, t0: float) -> list[Any]:
    """problem → reason → vote → result, as a solve records it."""
    from ponder.types import TraceEvent, Usage

    parent, out = None, []
    for k, node in enumerate(("problem", "reason", "vote", "result")):
        event = TraceEvent(run_id=run_id, problem_id=problem_id, strategy=strategy, node=node,
                           branch_id="b-0" if node == "reason" else None, parent_id=parent,
                           started_at=t0 + k, ended_at=t0 + k + 0.5,
                           outputs={"answer": "3"} if node != "problem" else {},
                           usage=Usage(prompt_tokens=120, calls=1) if node == "reason"
                           else Usage())
        parent = event.id
        out.append(event)
    return out


def build_store(path: Path, runs: int, results: int) -> dict[str, str]:
    """The store the pages are timed over; returns the ids the pages are opened on."""
    from ponder.store import Store
    from ponder.types import Problem

    store = Store(path)
    # A throwaway file: no fsync per write while filling it (the store commits each write).
    store._db.execute("PRAGMA synchronous=OFF")
    try:
        for i in range(runs):
            run = store.create_run(kind="solve", strategies=["pot"], name=f"solve-{i:05d}",
                                   config={"roles": {"reasoner": "local/gemma-3-270m"}})
            problem = Problem(id=f"q-{i}", question=f"What is {i} + {i}?", reference=str(i % 5))
            store.add_problem(run.id, problem)
            store.save_result(result_for(run.id, problem.id, "pot", i))
            for event in trace_of(run.id, problem.id, "pot", 1000.0 + i):
                store.add_event(event)
            store.update_run(run.id, status="done")
        big = store.create_run(kind="batch", name="big-batch", strategies=STRATEGIES,
                               dataset="bench.jsonl")
        again = store.create_run(kind="batch", name="big-batch-again", strategies=STRATEGIES,
                                 dataset="bench.jsonl")
        problems = results // len(STRATEGIES)
        for i in range(problems):
            problem = Problem(id=f"p-{i:06d}", question=f"Problem {i}: what is {i} mod 5?",
                              reference=str(i % 5))
            store.add_problem(big.id, problem, position=i)
            for strategy in STRATEGIES:
                store.save_result(result_for(big.id, problem.id, strategy, i))
            if i < min(problems, 500):  # the comparison: a few hundred shared problems
                store.add_problem(again.id, problem, position=i)
                store.save_result(result_for(again.id, problem.id, "pot", i + 1))
        middle = f"p-{problems // 2:06d}"
        for event in trace_of(big.id, middle, "pot", 5000.0):
            store.add_event(event)
        for run_id in (big.id, again.id):
            store.update_run(run_id, status="done")
    finally:
        store.close()
    return {"big": big.id, "again": again.id, "middle": middle}


def serve(store: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k != "PONDER_STORE"}
    server = subprocess.Popen(
        [sys.executable, "-c", "from ponder.cli import main; main()", "ui", "--store", str(store),
         "--port", str(port), "--headless"], stdout=log.open("wb"), stderr=subprocess.STDOUT,
        env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return server, url
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.3)
    server.terminate()
    raise SystemExit(f"`ponder ui` did not start; see {log}")


def pages(ids: dict[str, str], runs: int) -> list[tuple[str, str, str, str]]:
    """(what, path, title, text that proves the page's content is drawn)."""
    deep = max(1, runs // 25 // 2)
    trace = urlencode({"run": ids["big"], "problem": ids["middle"], "strategy": "pot"})
    return [
        ("Runs, first page", "/runs", "Runs", "run(s). Select a row"),
        (f"Runs, page {deep} (deep offset)", f"/runs?page={deep}", "Runs", "run(s). Select a row"),
        ("Run page of the big batch", f"/run?run={ids['big']}", "Run", "result(s). Select a row"),
        ("Trace in the middle of the big batch", f"/trace?{trace}", "Trace", "Timeline"),
        ("Compare the big batch with another", f"/compare?a={ids['again']}&b={ids['big']}",
         "Compare runs", "Problems that flipped"),
    ]


def load(page: Any, url: str, title: str, marker: str) -> float:
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(f'[data-testid="stMain"] h1:has-text("{title}")', timeout=120_000)
    page.wait_for_function(f"() => !document.querySelector('{SKELETON}')", timeout=120_000)
    page.get_by_text(marker).first.wait_for(timeout=120_000)
    page.wait_for_load_state("networkidle", timeout=120_000)
    elapsed = time.perf_counter() - started
    if page.locator('[data-testid="stException"]').count():
        raise SystemExit(f"{url}: the page raised: "
                         f"{page.locator('[data-testid=stException]').first.inner_text()}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--results", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="100 runs, 1,000 results, 1 round")
    args = parser.parse_args(argv)
    if args.smoke:
        args.runs, args.results, args.rounds = 100, 1000, 1
    if not Path(CHROMIUM).is_file():
        raise SystemExit(f"Chromium is not installed at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="ponder-ui-bench-") as tmp:
        store = Path(tmp) / "big.db"
        started = time.perf_counter()
        ids = build_store(store, args.runs, args.results)
        built = time.perf_counter() - started
        print(f"store: {args.runs:,} solve runs + a batch of {args.results:,} results, built in "
              f"{built:.1f}s ({store.stat().st_size / 1e6:.1f} MB)", flush=True)
        server, url = serve(store, Path(tmp) / "ui.log")
        rows = []
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1600})
                for what, path, title, marker in pages(ids, args.runs):
                    load(page, url + path, title, marker)  # warm-up: imports, first queries
                    times = [load(page, url + path, title, marker) for _ in range(args.rounds)]
                    rows.append((what, statistics.median(times), max(times)))
                    print(f"  {what}: {statistics.median(times):.2f}s", flush=True)
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=15)
    print(f"\n| page ({args.runs:,} runs; a run of {args.results:,} results) "
          f"| median load (s) | worst (s) |\n|---|---|---|")
    for what, median, worst in rows:
        print(f"| {what} | {median:.2f} | {worst:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
