"""What ``ponder serve`` refuses and how: OpenAI-format errors, API keys, the concurrency
limit, the request timeout, and a client that hangs up (the run is cancelled, not finished)."""

from __future__ import annotations

import json
import socket
import threading

import httpx
import openai
import pytest

from ponder.serve import RUN_HEADER, ServeSettings, check_bind
from ponder.errors import ConfigError

from .conftest import KEY, Gate, wait_status

AUTH = {"Authorization": f"Bearer {KEY}"}
QUESTION = [{"role": "user", "content": "What is 6 times 7?"}]


def post(server, body: dict, headers: dict | None = None, **kwargs) -> httpx.Response:
    return httpx.post(f"{server.base_url}/chat/completions", json=body,
                      headers=AUTH if headers is None else headers, **kwargs)


def test_unknown_strategy_is_a_404_listing_the_known_ones(server, store):
    client = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="majority-vote", messages=QUESTION)

    error = caught.value.body
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert "unknown strategy 'majority-vote'; choose one of: direct, cot, self-consistency" \
        in error["message"]
    assert store.count_runs() == 0


@pytest.mark.parametrize(("body", "param", "says"), [
    ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools", "not supported"),
    ({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}]},
     "messages[0].content", "only text is supported"),
    ({"n": 3}, "n", "self-consistency@8"),
    ({"model": "verified@many"}, "model", "STRATEGY[@SAMPLES][:PROVIDER/MODEL]"),
    ({"ponder": {"temperature": 1}}, "ponder.temperature", "allowed keys in extra_body.ponder"),
    ({"messages": [{"role": "assistant", "content": "Hi"}]}, "messages", "end the conversation"),
])
def test_unsupported_requests_are_400s_that_say_what_to_do(server, store, body, param, says):
    response = post(server, {"model": "cot", "messages": QUESTION} | body)

    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert says in error["message"]
    assert store.count_runs() == 0


def test_a_model_the_server_does_not_serve_is_refused(server):
    response = post(server, {"model": "pot:openai/gpt-4.1-mini", "messages": QUESTION})

    assert response.status_code == 403
    assert "--allow-model" in response.json()["error"]["message"]


def test_requests_without_the_api_key_get_401_and_health_stays_open(server):
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        response = post(server, {"model": "cot", "messages": QUESTION}, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.base_url, api_key="nope", max_retries=0).models.list()
    assert httpx.get(server.base_url.removesuffix("/v1") + "/health").json()["status"] == "ok"


def test_no_api_key_means_loopback_only():
    with pytest.raises(ConfigError, match="--api-key"):
        check_bind("0.0.0.0", ServeSettings())
    check_bind("0.0.0.0", ServeSettings(api_keys=("k",)))
    check_bind("127.0.0.1", ServeSettings())
    check_bind("::1", ServeSettings())


def test_a_full_server_answers_429_with_retry_after(serve_at, store):
    gate = Gate("serve-gate-429")
    server = serve_at(gate.model, max_concurrent=1)
    first: dict = {}
    thread = threading.Thread(target=lambda: first.update(
        response=post(server, {"model": "cot", "messages": QUESTION}, timeout=30)))
    thread.start()
    gate.wait_begun()

    refused = post(server, {"model": "cot", "messages": QUESTION})
    gate.release.set()
    thread.join(30)

    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"]["type"] == "rate_limit_error"
    assert first["response"].status_code == 200
    assert first["response"].json()["choices"][0]["message"]["content"].endswith("#### 7")
    assert store.count_runs() == 1  # the refused request never became a run


def test_a_request_past_the_timeout_is_a_504_and_a_failed_run(serve_at, store):
    gate = Gate("serve-gate-timeout")
    server = serve_at(gate.model, timeout_s=0.5)
    response = post(server, {"model": "cot", "messages": QUESTION}, timeout=30)
    gate.release.set()

    assert response.status_code == 504
    assert "request timeout (0.5s)" in response.json()["error"]["message"]
    run = store.require_run(response.headers[RUN_HEADER])
    assert run.status == "failed" and run.meta["error"] == "timed out after 0.5s"


def hang_up_mid_request(server, gate: Gate) -> str:
    """Send a non-streaming request on a raw socket, wait for the model call, close."""
    body = json.dumps({"model": "cot", "messages": QUESTION}).encode()
    with socket.create_connection((server.host, server.port)) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/json\r\nAuthorization: Bearer " + KEY.encode()
                     + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        gate.wait_begun()
    return ""


def hang_up_mid_stream(server, gate: Gate) -> str:
    body = {"model": "cot", "messages": QUESTION, "stream": True}
    with httpx.Client(headers=AUTH, timeout=30) as http:
        with http.stream("POST", f"{server.base_url}/chat/completions", json=body) as response:
            gate.wait_begun()
            assert next(response.iter_lines()).startswith("data: ")
            return response.headers[RUN_HEADER]


@pytest.mark.parametrize("hang_up", [hang_up_mid_request, hang_up_mid_stream])
def test_a_client_that_hangs_up_cancels_the_run(serve_at, store, hang_up):
    gate = Gate(f"serve-gate-{hang_up.__name__}")
    server = serve_at(gate.model)
    run_id = hang_up(server, gate) or store.list_runs(kind="serve")[0].id

    wait_status(store, run_id, "cancelled")
    assert gate.ended == 0  # cancelled while the model call was still in flight
    gate.release.set()

    run = store.require_run(run_id)
    assert run.meta["error"] == "client disconnected"
    assert list(store.results(run_id)) == []
    # The cut step is in the trace, marked as cancelled, with no answer.
    cut = [e for e in store.events(run_id) if e.node == "reason"]
    assert cut and all(e.outputs["error"].startswith("CancelledError") for e in cut)
    assert all("answer" not in e.outputs for e in cut)
    assert gate.begun == 1  # nothing was sampled after the cancel
    assert server.runner.in_flight == 0
