"""A bounded load test on 127.0.0.1 with faults mixed in: 300 requests, 50 at once, one in
ten faulty. Every good request is answered, every faulty one gets a clear OpenAI error, no run
is left ``running`` and every slot comes back."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from ponder.scripted import register_script
from ponder.serve import BackgroundServer, ServeSettings

from .conftest import KEY, votes_42

TOTAL, CONCURRENCY = 300, 50
GOOD = {"model": "cot", "messages": [{"role": "user", "content": "What is 6 times 7?"}]}
# Each faulty request and the status and error code it must get.
FAULTS: list[tuple[bytes, int, str | None]] = [
    (b'{"model": "cot", "messages": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, "json_too_deep"),
    (json.dumps(GOOD | {"messages": [{"role": "user", "content": "x" * 300_000}]}).encode(),
     413, "request_too_large"),
    (json.dumps(GOOD | {"model": "pot"}).encode(), 503, "sandbox_unavailable"),
    (b'{"model": "cot", "messages": [', 400, None),
    (json.dumps(GOOD | {"model": "no-such-strategy"}).encode(), 404, "model_not_found"),
    (json.dumps(GOOD | {"messages": [{"role": "user", "content": "\ud800?"}]},
                ensure_ascii=True).encode(), 200, None),  # cleaned, so answered
]


@pytest.mark.slow  # about a minute on two busy cores
def test_300_requests_50_at_once_with_faults_mixed_in(scripted_config, monkeypatch):
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    config = scripted_config(register_script("serve-load", votes_42), sandbox={"backend": "e2b"})
    settings = ServeSettings(api_keys=(KEY,), max_concurrent=CONCURRENCY,
                             max_body_bytes=256 * 1024)
    with BackgroundServer(config, settings) as server:
        outcomes = asyncio.run(load(server.base_url))
        store = server.runner.store
        deadline = time.monotonic() + 30
        while any(r.status == "running" for r in store.list_runs(limit=TOTAL)):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        health = server.runner.health()
        runs = store.list_runs(limit=TOTAL + 10)

    good = [o for o in outcomes if o[0] is None]
    assert len(good) == TOTAL - TOTAL // 10
    assert all(status == 200 and content.endswith("#### 42") for _, status, content in good)
    for fault, status, body in (o for o in outcomes if o[0] is not None):
        expected_status, code = FAULTS[fault][1:]
        assert status == expected_status, body
        if status != 200:
            assert json.loads(body)["error"]["message"]
            assert code is None or json.loads(body)["error"]["code"] == code
    assert not [r for r in runs if r.status == "running"]
    assert {r.status for r in runs} <= {"done", "failed"}
    assert health["in_flight"] == 0 and health["status"] == "ok"


async def load(base_url: str) -> list[tuple[int | None, int, str]]:
    """(fault index or None, status, content or error body) for every request, in order."""
    gate = asyncio.Semaphore(CONCURRENCY)
    limits = httpx.Limits(max_connections=CONCURRENCY)
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=120,
                                 limits=limits) as http:

        async def one(i: int) -> tuple[int | None, int, str]:
            fault = (i // 10) % len(FAULTS) if i % 10 == 9 else None
            body = FAULTS[fault][0] if fault is not None else json.dumps(GOOD).encode()
            async with gate:
                response = await http.post("/chat/completions", content=body)
            if response.status_code == 200:
                return fault, 200, response.json()["choices"][0]["message"]["content"]
            return fault, response.status_code, response.text

        return await asyncio.gather(*(one(i) for i in range(TOTAL)))
