"""Batch throughput: the asyncio executor vs Ray with 1 and 2 local workers.

    python benchmarks/ray_bench.py            # 400 items per executor
    python benchmarks/ray_bench.py --smoke    # 40 items

The model is scripted with a fixed latency per call (``--latency-ms``, default 50): an
embedded-model stand-in, served 4 calls at a time per process like the embedded models.
One local Ray cluster (``num_cpus=2``) serves both Ray rows; worker start-up (imports,
graphs) is timed apart from the steady rate. Then the driver's cost per stored item (result
plus trace events) is measured alone, and a paper estimate says how many workers the single
writer can feed. Needs ``pip install 'ponder[ray]'``; without Ray it says so and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
LATENCY_S = 0.05


def fixed_latency(messages: list[dict[str, str]], index: int) -> str:
    time.sleep(LATENCY_S)
    number = int(messages[-1]["content"].split("What is ", 1)[1].split(" ", 1)[0])
    return f"Answer: {number + 4}"


def make_dataset(path: Path, n: int) -> None:
    path.write_text("".join(json.dumps({"question": f"What is {i} + 4?", "answer": f"#### {i + 4}"})
                            + "\n" for i in range(n)))


async def measure(name: str, executor, data: Path, folder: Path, model: str) -> dict:
    """One batch of ``direct`` items; total rate and the rate after the first result."""
    from ponder.config import RoleConfig, load_config
    from ponder.graphs.batch import BatchSettings, run_batch
    from ponder.eval.datasets import DatasetSpec

    cfg = load_config(None, store=folder / f"{name}.db",
                      roles={"reasoner": RoleConfig(model=model), "standard": RoleConfig(model=model)})
    marks: list[float] = []

    def seen(progress) -> None:
        if progress.done and not marks:
            marks.append(time.perf_counter())

    started = time.perf_counter()
    outcome = await run_batch(DatasetSpec(source=str(data)), cfg,
                              BatchSettings(strategies=["direct"], concurrency=16, run=name),
                              executor=executor, on_progress=seen)
    total = time.perf_counter() - started
    assert outcome.solved == outcome.total and not outcome.failed, outcome
    steady = total - (marks[0] - started) if marks else total
    return {"executor": name, "items": outcome.solved, "total_s": round(total, 2),
            "items_per_s": round(outcome.solved / total, 1),
            "steady_items_per_s": round((outcome.solved - 1) / steady, 1) if steady > 0 else None,
            "first_result_s": round(marks[0] - started, 2) if marks else None}


def write_cost(folder: Path, source: Path, runs: int) -> tuple[float, int]:
    """Seconds the driver spends storing one item (its result and its trace events)."""
    from ponder.store import Store

    old = Store(source)
    run = old.list_runs(limit=1)[0]
    result = next(iter(old.iter_results(run.id)))
    events = old.events(run.id, result.problem_id, result.strategy)
    problem = old.problem(run.id, result.problem_id)
    fresh = Store(folder / "writes.db")
    fresh.create_run(run_id="w", kind="batch")
    started = time.perf_counter()
    for i in range(runs):
        pid = f"p{i}"
        for event in events:
            fresh.add_event(event.model_copy(update={"id": f"{event.id}-{i}", "run_id": "w",
                                                     "problem_id": pid}))
        fresh.add_problem("w", problem.model_copy(update={"id": pid}))
        fresh.save_result(result.model_copy(update={"run_id": "w", "problem_id": pid}))
    return (time.perf_counter() - started) / runs, len(events)


async def main_async(args: argparse.Namespace) -> None:
    global LATENCY_S
    LATENCY_S = args.latency_ms / 1000
    try:
        import ray
    except ImportError:
        print("ray is not installed (pip install 'ponder[ray]'); skipped")
        return
    from ponder.backends.scripted import ScriptedBackend
    from ponder.graphs.executors import AsyncioExecutor
    from ponder.graphs.ray_executor import RayExecutor
    from ponder.scripted import register_script

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    model = register_script("ray-bench", fixed_latency)
    n = 40 if args.smoke else args.items
    with tempfile.TemporaryDirectory(prefix="raybench-", dir="/tmp") as tmp:
        folder = Path(tmp)
        data = folder / "data.jsonl"
        make_dataset(data, n)
        ray.init(num_cpus=2, include_dashboard=False, _temp_dir=str(folder / "ray"),
                 _node_ip_address="127.0.0.1", log_to_driver=False)
        try:
            rows = [await measure("asyncio", AsyncioExecutor(), data, folder, model)]
            for workers in (1, 2):
                # the scripted model travels to the workers as a backend passed in
                executor = RayExecutor(workers=workers, backends={
                    "scripted": ScriptedBackend({"ray-bench": fixed_latency})})
                rows.append(await measure(f"ray-{workers}", executor, data, folder, model))
        finally:
            ray.shutdown()
        per_item, events = write_cost(folder, folder / "asyncio.db", 200 if args.smoke else 2000)
    print(f"{n} items per executor, `direct`, scripted model with {args.latency_ms} ms per call, "
          f"concurrency 16, {os.cpu_count()} CPUs\n")
    print("| executor | items/s (total) | items/s (after first result) | first result s |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['executor']} | {r['items_per_s']} | {r['steady_items_per_s']} | "
              f"{r['first_result_s']} |")
    per_worker = rows[1]["steady_items_per_s"] or rows[1]["items_per_s"]
    ceiling = 1 / per_item
    print(f"\nDriver (single writer): {per_item * 1000:.2f} ms to store one item "
          f"(result + {events} trace events) -> at most ~{ceiling:,.0f} items/s.")
    print(f"Paper scale-out: one worker here does ~{per_worker} items/s, so the store saturates "
          f"near ~{ceiling / per_worker:,.0f} such workers (fewer for strategies with more "
          "trace events per item; more when model calls are slower, as real ones are). "
          "Past that: batch the driver's writes into one transaction per N items, or write "
          "traces to per-worker files and keep only results in SQLite.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="40 items, for CI")
    parser.add_argument("--items", type=int, default=400)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
