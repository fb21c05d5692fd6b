"""Every way a request has wedged the server, as a regression test: after each fault the
client got an OpenAI-format error, the next normal request is answered, no run is left
``running`` and every slot is back."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from pydantic_core import PydanticSerializationError

from ponder.config import SolveOptions
from ponder.graphs.lifecycle import SolveRun
from ponder.scripted import register_script
from ponder.serve import RUN_HEADER, Runner, ServeSettings
from ponder.store import Store
from ponder.types import Problem

from .conftest import KEY, votes_42, wait_status

AUTH = {"Authorization": f"Bearer {KEY}"}
QUESTION = [{"role": "user", "content": "What is 6 times 7?"}]
NORMAL = {"model": "cot", "messages": QUESTION}


def post(server, body: dict | bytes, **kwargs) -> httpx.Response:
    url = f"{server.base_url}/chat/completions"
    if isinstance(body, bytes):
        headers = AUTH | {"Content-Type": "application/json"}
        return httpx.post(url, content=body, headers=headers, timeout=60, **kwargs)
    return httpx.post(url, json=body, headers=AUTH, timeout=60, **kwargs)


def health(server) -> dict:
    return httpx.get(server.base_url.removesuffix("/v1") + "/health", timeout=5).json()


def assert_recovered(server, store: Store) -> None:
    """A normal request is answered, nothing is left running, every slot is back."""
    response = post(server, NORMAL)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"].endswith("#### 42")
    deadline = time.monotonic() + 10
    while any(run.status == "running" for run in store.list_runs(limit=1000)):
        assert time.monotonic() < deadline, [r.status for r in store.list_runs()]
        time.sleep(0.05)
    state = health(server)
    assert state["status"] == "ok" and state["in_flight"] == 0 and state["leaked_slots"] == 0


def assert_openai_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    return error


@pytest.fixture
def votes(serve_at):
    def start(**settings):
        return serve_at(register_script("serve-faults", votes_42), **settings)

    return start


def test_a_lone_surrogate_is_replaced_at_the_boundary(votes, store):
    server = votes(max_concurrent=1)
    body = b'{"model": "cot", "messages": [{"role": "user", "content": "What is 6 times 7? \\ud800"}]}'
    for _ in range(3):  # more than --max-concurrent: a leaked slot would turn these into 429s
        response = post(server, body)
        assert response.status_code == 200, response.text
        run_id = response.headers[RUN_HEADER]
        [result] = list(store.results(run_id))
        assert store.problem(run_id, result.problem_id).question.endswith("7? \ufffd")
    assert_recovered(server, store)


def test_a_sandbox_that_cannot_start_is_a_503_and_a_failed_run(serve_at, store, monkeypatch,
                                                                scripted_config):
    from ponder.serve import BackgroundServer

    monkeypatch.delenv("E2B_API_KEY", raising=False)
    config = scripted_config(register_script("serve-nosandbox", votes_42),
                             sandbox={"backend": "e2b"})
    with BackgroundServer(config, ServeSettings(api_keys=(KEY,), max_concurrent=1)) as server:
        for stream in (False, True, False):
            response = post(server, {"model": "pot", "messages": QUESTION, "stream": stream})
            error = assert_openai_error(response, 503, "sandbox_unavailable")
            assert "E2B_API_KEY" in error["message"] and error["type"] == "server_error"
            run = store.require_run(response.headers[RUN_HEADER])
            wait_status(store, run.id, "failed")
            assert "sandbox cannot start" in store.require_run(run.id).meta["error"]
        assert_recovered(server, store)


def test_an_oversized_body_is_a_413_read_no_further(votes, store):
    server = votes(max_body_bytes=64 * 1024)
    big = {"model": "cot", "messages": [{"role": "user", "content": "x" * 200_000}]}
    assert_openai_error(post(server, big), 413, "request_too_large")

    def chunks():  # no content-length: the limit holds while reading
        yield b'{"model": "cot", "messages": [{"role": "user", "content": "'
        for _ in range(100):
            yield b"y" * 4096
        yield b'"}]}'

    response = httpx.post(f"{server.base_url}/chat/completions", content=chunks(),
                          headers=AUTH, timeout=30)
    assert_openai_error(response, 413, "request_too_large")
    assert store.count_runs() == 0
    assert_recovered(server, store)


@pytest.mark.parametrize("levels", [40, 100_000])
def test_deep_json_is_a_400(votes, store, levels):
    server = votes()
    body = b'{"model": "cot", "messages": ' + b"[" * levels + b"]" * levels + b"}"
    error = assert_openai_error(post(server, body), 400, "json_too_deep")
    assert "deeper than 32 levels" in error["message"]
    assert_recovered(server, store)


def raw_request(server, head_only: bool) -> socket.socket:
    sock = socket.create_connection((server.host, server.port))
    if head_only:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthor")
    else:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\nAuthorization: Bearer " + KEY.encode() +
                     b"\r\nContent-Length: 500\r\n\r\n{\"model\": ")
    return sock


def test_stalled_connections_are_closed_and_do_not_hold_the_server(votes, store):
    server = votes(head_timeout_s=1, body_timeout_s=1, max_concurrent=1)
    idle = socket.create_connection((server.host, server.port))  # sends nothing at all
    half_head, half_body = raw_request(server, True), raw_request(server, False)
    assert_recovered(server, store)  # answered while all three stall

    for sock in (idle, half_head, half_body):
        sock.settimeout(10)
        reply = b"".join(iter(lambda: sock.recv(65536), b""))  # until the server closes
        sock.close()
        if sock is half_body:
            assert reply.startswith(b"HTTP/1.1 408")
            assert b'"code":"request_timeout"' in reply
        else:
            assert reply == b""  # closed without a word: no request ever arrived
    assert store.count_runs() == 1
    assert_recovered(server, store)


def test_samples_and_budget_above_the_servers_caps_are_400s(votes, store):
    server = votes(max_samples=8, max_budget_usd=0.5)
    error = assert_openai_error(post(server, {"model": "self-consistency@9", "messages": QUESTION}),
                                400, "too_many_samples")
    assert "at most 8 per request (--max-samples)" in error["message"]
    over = NORMAL | {"ponder": {"budget_usd": 0.75}}
    error = assert_openai_error(post(server, over), 400, "budget_too_high")
    assert "at most $0.5 per request (--max-budget-usd)" in error["message"]
    assert store.count_runs() == 0
    response = post(server, NORMAL)
    run = store.require_run(response.headers[RUN_HEADER])
    assert run.config["options"]["budget_usd"] == 0.5  # the cap is the default budget
    assert_recovered(server, store)


def test_a_full_store_is_a_507_and_the_server_recovers_when_space_is_freed(
        serve_at, scripted_config, tmp_path):
    """The store on a 2 MB tmpfs, filled up by another file."""
    from ponder.serve import BackgroundServer

    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        config = scripted_config(register_script("serve-disk", votes_42)).model_copy(
            update={"store": disk / "ponder.db"})
        with BackgroundServer(config, ServeSettings(api_keys=(KEY,), max_concurrent=1)) as server:
            store = server.runner.store
            assert post(server, NORMAL).status_code == 200
            filler = disk / "filler"
            with open(filler, "wb") as out, pytest.raises(OSError):
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            for stream in (False, True):
                body = {"model": "cot", "stream": stream,
                        "messages": [{"role": "user", "content": "What is 6 times 7? " * 4000}]}
                error = assert_openai_error(post(server, body), 507, "store_full")
                assert "is full" in error["message"] and "free disk space" in error["message"]
            filler.unlink()
            assert_recovered(server, store)
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


LOCKER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


@pytest.mark.slow
def test_a_store_locked_by_another_process_is_a_503_and_never_freezes_the_loop(votes, store):
    """SQLite waits 30 s for the lock before giving up: meanwhile /health answers at once."""
    server = votes()
    locker = subprocess.Popen([sys.executable, "-c", LOCKER, str(store.path), "40"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        out: dict = {}
        asking = threading.Thread(target=lambda: out.update(response=post(server, NORMAL)))
        asking.start()
        time.sleep(1)
        for _ in range(5):
            started = time.monotonic()
            assert health(server)["in_flight"] == 1
            assert time.monotonic() - started < 1.0
            time.sleep(0.5)
        asking.join(60)
        error = assert_openai_error(out["response"], 503, "store_unavailable")
        assert "locked by another process" in error["message"]
        assert out["response"].headers["retry-after"] == "30"
    finally:
        locker.kill()
        locker.wait()
    assert_recovered(server, store)


def test_health_reports_a_slot_held_by_finished_work_as_degraded(scripted_config):
    runner = Runner(scripted_config(register_script("serve-health", votes_42)), ServeSettings())

    async def leak() -> int:
        return runner.admit()  # the task ends holding its slot: what must never happen

    async def check() -> tuple[dict, dict]:
        slot = await asyncio.ensure_future(leak())
        degraded = runner.health()
        runner.release(slot, 0.1)
        return degraded, runner.health()

    degraded, healthy = asyncio.run(check())
    assert degraded["status"] == "degraded" and degraded["leaked_slots"] == 1
    assert healthy["status"] == "ok" and healthy["in_flight"] == 0
    runner.close()


def test_a_solve_run_whose_problem_cannot_be_stored_is_failed_not_running(scripted_config):
    config = scripted_config(register_script("serve-open", votes_42))
    store = Store(config.store)
    run = SolveRun(Problem(question="What is 6 times 7? \ud800"), "cot", config,
                   SolveOptions(samples=1), store=store)

    async def drain() -> None:
        async for _ in run.events():
            pass

    with pytest.raises(PydanticSerializationError, match="surrogates not allowed"):
        asyncio.run(drain())
    stored = store.require_run(run.run_id)
    assert stored.status == "failed" and "surrogates not allowed" in stored.meta["error"]


def test_a_body_that_is_not_a_json_object_is_a_400(votes, store):
    server = votes()
    for body, says in ((b"{not json", "not valid JSON"), (b"[]", "must be a JSON object"),
                       (b'{"model": "cot", "messages": "\xff"}', "not valid JSON")):
        response = post(server, body)
        assert response.status_code == 400
        assert says in response.json()["error"]["message"]
    assert store.count_runs() == 0
    assert_recovered(server, store)


def test_connections_past_the_cap_are_refused_until_one_closes(votes, store):
    server = votes(max_connections=2, head_timeout_s=30)
    idle = socket.create_connection((server.host, server.port))
    time.sleep(0.2)
    refused = post(server, NORMAL)
    assert refused.status_code == 503  # uvicorn's own answer, before the app
    idle.close()
    time.sleep(0.2)
    assert_recovered(server, store)
