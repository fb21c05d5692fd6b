"""The Ray executor on a local Ray cluster (started here on 127.0.0.1, torn down after):
same results as the asyncio executor, a killed worker, a killed driver, budgets, limits.

Run them alone with ``pytest -m ray``; they need ``pip install 'ponder[ray]'``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="pip install 'ponder[ray]'")

from ponder.backends.scripted import ScriptedBackend  # noqa: E402
from ponder.errors import ConfigError  # noqa: E402
from ponder.graphs.batch import BatchSettings, run_batch  # noqa: E402
from ponder.eval.datasets import DatasetSpec  # noqa: E402
from ponder.graphs.executors import AsyncioExecutor, make_executor  # noqa: E402
from ponder.graphs.ray_executor import ProviderLimiter, RayExecutor  # noqa: E402
from ponder.scripted import register_script  # noqa: E402
from ponder.store import Store  # noqa: E402

pytestmark = pytest.mark.ray

HELPER = '''
import functools, os, re, sys, time
from ponder.backends.scripted import ScriptedBackend
from ponder.graphs.executors import EXECUTORS
from ponder.graphs.ray_executor import RayExecutor
from ponder.scripted import register_script

def slow_add(messages, index):
    time.sleep(float(os.environ.get("SCRIPT_DELAY", "0")))
    a, b = map(int, re.findall(r"(\\d+) \\+ (\\d+)", messages[-1]["content"])[-1])
    return f"{a} + {b} = {a + b}.\\nAnswer: {a + b}"

register_script("ray-cli-slow", slow_add)
# The scripted model reaches the workers only as a backend passed to the executor.
EXECUTORS["ray"] = functools.partial(
    RayExecutor, backends={"scripted": ScriptedBackend({"ray-cli-slow": slow_add})})
from ponder.cli import main
main()
'''


def scripted(**scripts) -> dict:
    """The scripted backend the workers get, named as the roles name them (``ray-<name>``)."""
    return {"scripted": ScriptedBackend({f"ray-{k}": v for k, v in scripts.items()})}


def add(messages: list[dict[str, str]], index: int) -> str:
    """Adds the last 'A + B'; writes code when asked for Python (the sandbox runs it)."""
    text = messages[-1]["content"]
    a, b = map(int, re.findall(r"(\d+) \+ (\d+)", text)[-1])
    if "python" in text.lower():
        return f"```python\nprint({a} + {b})\n```"
    return f"{a} + {b} = {a + b}.\nAnswer: {a + b}"


def slow_add(messages: list[dict[str, str]], index: int) -> str:
    time.sleep(0.3)
    return add(messages, index)


@pytest.fixture(scope="module")
def cluster():
    """A one-node Ray cluster for this module; its GCS address lets child drivers join."""
    # Scripts defined here travel to the workers by value (workers cannot import tests/).
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must stay short
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=temp,
             _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def dataset(tmp_path: Path, n: int) -> DatasetSpec:
    path = tmp_path / "add.jsonl"
    path.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + 2?",
                                        "answer": f"#### {i + 2}"}) + "\n" for i in range(n)))
    return DatasetSpec(source=str(path))


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db, timeout=10) as con:
        return con.execute(sql).fetchall()


def stored(db: Path) -> int:
    try:
        return rows(db, "SELECT COUNT(*) FROM results")[0][0]
    except sqlite3.OperationalError:
        return 0


def assert_each_item_once(db: Path, items: int) -> None:
    """``items`` results, one per (problem, strategy), each with one whole trace."""
    assert rows(db, "SELECT COUNT(*), COUNT(DISTINCT problem_id || '/' || strategy)"
                    " FROM results") == [(items, items)]
    per_pair = rows(db, "SELECT SUM(node = 'problem'), SUM(node = 'result') FROM events"
                        " GROUP BY problem_id, strategy")
    assert len(per_pair) == items and set(per_pair) == {(1, 1)}


def item_table(store: Store, run_id: str) -> dict[tuple[str, str], tuple]:
    """What a result says, without timings: the fields both executors must agree on."""
    return {(r.problem_id, r.strategy): (r.answer, r.correct, r.confidence, r.samples_used,
                                         r.stopped, sorted(r.votes.items()), r.usage.total_tokens,
                                         [(b.answer, b.verdict, b.code_answer,
                                           b.execution.status if b.execution else None)
                                          for b in r.branches])
            for r in store.iter_results(run_id)}


async def test_ray_results_equal_asyncio_item_for_item(tmp_path: Path, cluster, scripted_config) -> None:
    cfg = scripted_config(register_script("ray-add", add))
    spec = dataset(tmp_path, 6)
    settings = BatchSettings(strategies=["cot", "verified"], samples=2, seed=7, run="same")
    tables, nodes = [], []
    for name, executor in [("local", AsyncioExecutor()), ("ray", RayExecutor(workers=2, backends=scripted(add=add)))]:
        store = Store(tmp_path / f"{name}.db")
        outcome = await run_batch(spec, cfg, settings, store=store, executor=executor)
        assert (outcome.solved, outcome.failed, outcome.stopped) == (12, 0, None)
        assert outcome.run.status == "done"
        tables.append(item_table(store, outcome.run.id))
        nodes.append(sorted((e.problem_id, e.strategy, e.node)  # branch ids are random
                            for e in store.events(outcome.run.id)))
        assert_each_item_once(tmp_path / f"{name}.db", 12)
    assert len(tables[0]) == 12 and tables[0] == tables[1]
    assert {row[1] for row in tables[1].values()} == {True}
    # verified ran the generated code in the real sandbox on the workers, and it agreed
    ran = [b for (_, strategy), row in tables[1].items() if strategy == "verified" for b in row[7]]
    assert ran and {(b[3], b[0] == b[2]) for b in ran} == {("ok", True)}
    assert nodes[0] == nodes[1]


async def test_killed_worker_retries_the_item_and_stores_it_once(tmp_path: Path, cluster,
                                                                  scripted_config) -> None:
    cfg = scripted_config(register_script("ray-slow", slow_add))
    executor = RayExecutor(workers=1, backends=scripted(slow=slow_add))
    seen = []
    batch = asyncio.create_task(run_batch(
        dataset(tmp_path, 10), cfg, BatchSettings(strategies=["cot"], concurrency=4, run="kill"),
        store=Store(tmp_path / "kill.db"), executor=executor, on_progress=seen.append))
    deadline = time.time() + 120
    while stored(tmp_path / "kill.db") < 2 and time.time() < deadline and not batch.done():
        await asyncio.sleep(0.05)
    assert stored(tmp_path / "kill.db") >= 2, "the worker never stored a result"
    (pid,) = await executor.worker_pids()
    in_flight = seen[-1].in_flight
    os.kill(pid, signal.SIGKILL)
    outcome = await asyncio.wait_for(batch, 180)
    assert in_flight >= 1  # items were mid-solve on the killed worker
    assert (outcome.solved, outcome.failed, outcome.stopped) == (10, 0, None)
    assert_each_item_once(tmp_path / "kill.db", 10)


async def test_budget_stops_dispatch_across_workers(tmp_path: Path, cluster, scripted_config) -> None:
    cfg = scripted_config(register_script("ray-add", add))
    settings = BatchSettings(strategies=["cot"], concurrency=2, run_budget_tokens=1, run="budget")
    outcome = await run_batch(dataset(tmp_path, 10), cfg, settings,
                              store=Store(tmp_path / "budget.db"),
                              executor=RayExecutor(workers=2, backends=scripted(add=add)))
    # the first result spends the budget: nothing new is sent, the one in flight is kept
    assert outcome.stopped == "run_budget_tokens" and outcome.run.status == "stopped"
    assert outcome.solved == stored(tmp_path / "budget.db") == 2


def child(tmp_path: Path, data: Path, address: str | None, delay: float,
          **env_extra: str) -> subprocess.Popen:
    helper = tmp_path / "helper.py"
    helper.write_text(HELPER)
    config = tmp_path / "ponder.toml"
    config.write_text('[roles.reasoner]\nmodel = "scripted/ray-cli-slow"\nmax_tokens = 64\n')
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PONDER_") and k != "RAY_ADDRESS"}
    env.update(SCRIPT_DELAY=str(delay), RAY_USAGE_STATS_ENABLED="0", **env_extra)
    cmd = [sys.executable, str(helper), "batch", str(data), "-s", "cot,direct", "--run", "k",
           "-c", "3", "--executor", "ray", *(["--ray-address", address] if address else []),
           "--config", str(config), "--store", str(tmp_path / "k.db")]
    return subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_killed_driver_resumes_without_loss_or_duplicates(tmp_path: Path, cluster) -> None:
    data, db = tmp_path / "add.jsonl", tmp_path / "k.db"
    dataset(tmp_path, 12)
    proc = child(tmp_path, data, cluster, 0.2)
    deadline = time.time() + 120
    while stored(db) < 4 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert 4 <= stored(db) < 24
    finish = child(tmp_path, data, cluster, 0.0)
    out, err = finish.communicate(timeout=180)
    assert finish.returncode == 0, err[-2000:]
    assert "from before" in out and "24 of 24 items stored" in out
    assert_each_item_once(db, 24)
    assert rows(db, "SELECT status, json_extract(meta, '$.resumes') FROM runs") == [("done", 1)]


def test_limiter_holds_a_provider_limit_for_the_whole_cluster(cluster) -> None:
    limiter = ray.remote(ProviderLimiter).options(max_concurrency=100).remote({"slow": 3})
    ray.get(limiter.stats.remote(), timeout=60)  # started
    waiting = [limiter.acquire.remote("p", 2, 60.0) for _ in range(4)]
    ready, pending = ray.wait(waiting, num_returns=4, timeout=1.5)
    assert len(ready) == 2 and len(pending) == 2  # two permits, two callers wait
    ray.get(limiter.release.remote("p", ray.get(ready[0])))
    assert len(ray.wait(pending, num_returns=1, timeout=5)[0]) == 1
    # a dead holder's lease expires instead of shrinking the limit for good
    ray.get(limiter.acquire.remote("q", 1, 0.3))
    started = time.monotonic()
    ray.get(limiter.acquire.remote("q", 1, 60.0), timeout=10)
    assert 0.1 < time.monotonic() - started < 5
    # requests per minute: the fourth start in a minute waits
    for _ in range(3):
        ray.get(limiter.acquire.remote("slow", 10, 60.0))
    _, late = ray.wait([limiter.acquire.remote("slow", 10, 60.0)], timeout=1.0)
    assert late and ray.get(limiter.stats.remote())["peak"] == {"p": 2, "q": 1, "slow": 3}
    ray.kill(limiter)


async def test_a_scripted_model_not_passed_to_the_executor_is_refused_before_workers_start(
        tmp_path: Path, scripted_config) -> None:
    cfg = scripted_config(register_script("ray-add", add))
    executor = RayExecutor(workers=1)
    with pytest.raises(ConfigError, match="Ray workers cannot see.*backends="):
        await run_batch(dataset(tmp_path, 2), cfg, BatchSettings(strategies=["cot"], run="r"),
                        store=Store(tmp_path / "r.db"), executor=executor)
    assert executor.actors == []


def test_unknown_executor_and_a_stray_address_say_what_to_do() -> None:
    with pytest.raises(ConfigError, match="choose one of: asyncio, ray"):
        make_executor("dask")
    with pytest.raises(ConfigError, match="--ray-address needs --executor ray"):
        make_executor("asyncio", address="auto")


def listening_sockets(root: int) -> set[tuple[str, str, int]]:
    """(process name, address, port) of every TCP socket listening (and UDP socket bound) in
    the process tree under ``root``, read from /proc: what ``ss -ltnup`` shows."""
    tables: dict[str, tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]] = {}
    for table in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if table.startswith("tcp") and fields[3] != "0A":  # 0A: LISTEN
                continue
            address, port = fields[1].split(":")
            raw = bytes.fromhex(address)  # 32-bit words in host (little-endian) order
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            tables[fields[9]] = (ipaddress.ip_address(raw), int(port, 16))
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            ppid = int(Path(entry, "stat").read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        with contextlib.suppress(OSError):
            name = Path(f"/proc/{pid}/comm").read_text().strip()
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    link = os.readlink(fd)
                    if link.startswith("socket:[") and link[8:-1] in tables:
                        address, port = tables[link[8:-1]]
                        found.add((name, str(address), port))
    return found


def is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1, an IPv4 socket on a v6 one
    return (mapped or ip).is_loopback


def test_a_cluster_ponder_starts_listens_on_loopback_only(tmp_path: Path) -> None:
    """Without --ray-address, the cluster is ponder's own: the GCS, the raylet, the workers,
    the driver and the agents listen on 127.0.0.1 only, and the token file is private."""
    data, db, home = tmp_path / "add.jsonl", tmp_path / "k.db", tmp_path / "home"
    dataset(tmp_path, 6)
    home.mkdir()
    proc = child(tmp_path, data, None, 0.5, HOME=str(home))
    seen: set[tuple[str, str, int]] = set()
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None and stored(db) < 6:
        seen |= listening_sockets(proc.pid)
        time.sleep(0.5)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-2000:]
    assert_each_item_once(db, 12)
    names = {name for name, _, _ in seen}
    assert {"gcs_server", "raylet"} <= names and any(n.startswith("ray::SolverWork") for n in names), seen
    assert {s for s in seen if not is_loopback(s[1])} == set(), seen
    token = home / ".ray" / "auth_token"
    assert token.is_file() and token.stat().st_mode & 0o777 == 0o600
