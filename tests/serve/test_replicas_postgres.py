"""Two ``ponder serve`` processes on one PostgreSQL store, as replicas behind a load balancer:
300 requests, 50 at once, split between them. None is lost, none is recorded twice, and
``ponder runs`` (any replica's store) lists every run once."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from ponder.cli import app

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

TOTAL, CONCURRENCY, KEY = 300, 50, "sk-test-replicas"
HELPER = '''
from ponder.scripted import register_script

def votes_42(messages, index):
    return "Let me think. The answer is " + ("41" if index % 4 == 3 else "42") + "."

register_script("replica", votes_42)
from ponder.cli import main
main()
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def replica(tmp_path: Path, url: str, port: int, config: Path) -> subprocess.Popen:
    helper = tmp_path / "serve_helper.py"
    helper.write_text(HELPER)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONDER_")}
    return subprocess.Popen(
        [sys.executable, str(helper), "serve", "--port", str(port), "--api-key", KEY,
         "--max-concurrent", str(CONCURRENCY), "--store", url, "--config", str(config)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    end = time.time() + timeout
    while time.time() < end:
        assert proc.poll() is None, proc.stderr.read()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"replica on {port} never became ready")


async def load(ports: list[int]) -> list[tuple[int, dict]]:
    limit = asyncio.Semaphore(CONCURRENCY)
    body = {"model": "self-consistency",
            "messages": [{"role": "user", "content": "What is 6 times 7?"}]}

    async def one(i: int, client: httpx.AsyncClient) -> tuple[int, dict]:
        async with limit:  # round robin, as a load balancer would
            reply = await client.post(f"http://127.0.0.1:{ports[i % 2]}/v1/chat/completions",
                                      json=body, headers={"Authorization": f"Bearer {KEY}"})
            return reply.status_code, reply.json()

    async with httpx.AsyncClient(timeout=120) as client:
        return await asyncio.gather(*(one(i, client) for i in range(TOTAL)))


def test_two_replicas_share_one_store_nothing_lost_or_doubled(tmp_path, postgres_url):
    from tests.pg_server import new_database

    url, config = new_database(postgres_url), tmp_path / "ponder.toml"
    config.write_text('[roles.reasoner]\nmodel = "scripted/replica"\nmax_tokens = 64\n'
                      '[roles.standard]\nmodel = "scripted/replica"\nmax_tokens = 64\n')
    ports = [free_port(), free_port()]
    procs = [replica(tmp_path, url, port, config) for port in ports]
    try:
        for port, proc in zip(ports, procs, strict=True):
            wait_ready(port, proc)
        outcomes = asyncio.run(load(ports))
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
    assert [s for s, _ in outcomes] == [200] * TOTAL
    run_ids = [body["ponder"]["run_id"] for _, body in outcomes]
    assert len(set(run_ids)) == TOTAL  # no id collision, no reply for another's run
    assert all(body["choices"][0]["message"]["content"].endswith("#### 42") for _, body in outcomes)
    listed = CliRunner().invoke(app, ["runs", "--json", "--limit", "1000", "--store", url])
    assert listed.exit_code == 0, listed.output
    runs = json.loads(listed.stdout)
    assert sorted(r["id"] for r in runs) == sorted(run_ids)  # every run once, none lost
    assert {r["status"] for r in runs} == {"done"}
