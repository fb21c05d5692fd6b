"""The server's lifecycle: graceful shutdown lets in-flight requests finish or marks them,
the CLI refuses an open bind without a key, and the embedded default model answers (slow)."""

from __future__ import annotations

import threading
import time

import httpx
import openai
import pytest
from typer.testing import CliRunner

from ponder.cli import app
from ponder.serve import RUN_HEADER, BackgroundServer, ServeSettings
from ponder.verdict import verdict_of

from .conftest import KEY, Gate, wait_status

QUESTION = [{"role": "user", "content": "What is 6 times 7?"}]


def ask_in_thread(server) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def ask() -> None:
        try:
            out["response"] = httpx.post(
                f"{server.base_url}/chat/completions", json={"model": "cot", "messages": QUESTION},
                headers={"Authorization": f"Bearer {KEY}"}, timeout=30)
        except httpx.HTTPError as exc:
            out["error"] = exc

    thread = threading.Thread(target=ask)
    thread.start()
    return thread, out


def test_shutdown_lets_an_in_flight_request_finish_within_the_grace(serve_at, store):
    gate = Gate("serve-gate-grace")
    server = serve_at(gate.model, shutdown_grace_s=10)
    thread, out = ask_in_thread(server)
    gate.wait_begun()
    stopper = threading.Thread(target=server.stop)
    stopper.start()
    time.sleep(0.5)
    gate.release.set()
    thread.join(30)
    stopper.join(30)

    assert out["response"].status_code == 200
    assert out["response"].json()["choices"][0]["message"]["content"].endswith("#### 7")
    assert store.require_run(out["response"].headers[RUN_HEADER]).status == "done"
    with pytest.raises(httpx.ConnectError):  # and it no longer listens
        httpx.get(server.base_url.removesuffix("/v1") + "/health", timeout=2)


def test_shutdown_past_the_grace_marks_the_run_cancelled(serve_at, store):
    gate = Gate("serve-gate-nograce")
    server = serve_at(gate.model, shutdown_grace_s=1)
    thread, _ = ask_in_thread(server)
    gate.wait_begun()
    server.stop()
    thread.join(30)

    [run] = store.list_runs(kind="serve")
    wait_status(store, run.id, "cancelled")
    assert store.require_run(run.id).meta["error"] == "server shut down"
    gate.release.set()


def test_cli_refuses_to_listen_beyond_loopback_without_a_key(monkeypatch):
    monkeypatch.delenv("PONDER_SERVE_API_KEY", raising=False)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])

    assert result.exit_code != 0
    assert "refusing to listen on 0.0.0.0 without an API key" in str(result.exception)


@pytest.mark.parametrize("args", [["--timeout", "0"], ["--grace", "-1"],
                                  ["--max-concurrent", "0"], ["--max-concurrent", "5000"],
                                  ["--max-samples", "0"], ["--content", "html"],
                                  ["--max-budget-usd", "0"], ["--max-body-mb", "0"]])
def test_bad_serve_options_are_usage_errors(args):
    result = CliRunner().invoke(app, ["serve", *args])

    assert result.exit_code == 2, result.output
    assert "Invalid value for" in result.output


@pytest.mark.slow
def test_embedded_default_model_answers_with_its_program_through_the_endpoint(embedded_config):
    settings = ServeSettings(api_keys=(KEY,), timeout_s=300)
    with BackgroundServer(embedded_config, settings) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0, timeout=300)
        raw = client.chat.completions.with_raw_response.create(
            model="pot@2:local/gemma-3-270m", messages=[
                {"role": "user", "content": "Sam has 3 apples and buys 4 more. How many now?"}],
            extra_body={"ponder": {"early_stop": False}})
        completion = raw.parse()
        store = server.runner.store
        run = store.require_run(raw.headers[RUN_HEADER])
        [result] = list(store.results(run.id))

    assert run.kind == "serve" and run.status == "done"
    assert result.models["reasoner"] == "local/gemma-3-270m"
    content = completion.choices[0].message.content
    verdict = verdict_of(result)
    counted = [b for b in result.branches if b.answer == result.answer and b.code]
    if result.answer is not None:
        assert content.endswith(f"The answer is {result.answer}.\n#### {result.answer}")
        # The content shows a program whose output gave the answer, and what it printed.
        assert "Program:\n```python\n" in content and "\nOutput:\n" in content
        assert any(b.code.strip() in content for b in counted)
    if verdict.label != "verified":
        assert verdict.sentence() in content
    assert completion.model == "pot"
    assert completion.usage.completion_tokens == result.usage.completion_tokens > 0
    assert completion.usage.prompt_tokens == result.usage.prompt_tokens > 0
