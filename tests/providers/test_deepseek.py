"""DeepSeek ``deepseek-reasoner`` (the README's own example) against a local stand-in."""

from __future__ import annotations

import litellm
import pytest

from ponder.config import RoleConfig
from ponder.errors import BackendError, ConfigError
from tests.providers.standins import deepseek_reasoner

MODEL = "deepseek/deepseek-reasoner"


def test_readme_config_never_sends_logprobs_and_says_confidence_is_off(serve, solve_with):
    api = serve(deepseek_reasoner())
    result, _ = solve_with(RoleConfig(model=MODEL, max_tokens=8000, api_base=api.base))
    assert result.answer == "42" and result.samples_used == 4
    assert all("logprobs" not in r and "top_logprobs" not in r for r in api.requests)
    assert all("temperature" not in r for r in api.requests)  # ignored by the reasoner: not sent
    assert all(r["max_tokens"] == 8000 for r in api.requests)
    assert [b.reasoning for b in result.branches] == ["6 times 7 is 42"] * 4
    assert result.usage.reasoning_tokens == 4 * 300 and result.usage.completion_tokens == 4 * 400
    prompt_cost, completion_cost = litellm.cost_per_token(model=MODEL, prompt_tokens=20,
                                                          completion_tokens=400)
    assert result.usage.cost_usd == pytest.approx(4 * (prompt_cost + completion_cost), abs=0.005)
    assert any(n.startswith("confidence weighting off for role reasoner: deepseek/deepseek-reasoner")
               for n in result.notes)


def test_n_is_asked_once_then_topped_up_when_ignored(serve, solve_with):
    api = serve(deepseek_reasoner())
    result, _ = solve_with(RoleConfig(model=MODEL, api_base=api.base), samples=3)
    assert [r.get("n") for r in api.requests] == [3, None, None]  # one choice back: two top-ups
    assert len({r["seed"] for r in api.requests[1:]}) == 2 and result.samples_used == 3


def test_role_without_max_tokens_gets_room_to_think(serve, solve_with):
    api = serve(deepseek_reasoner())
    result, _ = solve_with(RoleConfig(model=MODEL, api_base=api.base), samples=1)
    assert api.requests[0]["max_tokens"] == 32768  # its output limit (65k) capped at 32k
    assert result.answer == "42" and result.stopped != "truncated"


def test_thinking_cut_off_is_a_truncated_outcome_with_a_hint(serve, solve_with):
    api = serve(deepseek_reasoner())
    result, _ = solve_with(RoleConfig(model=MODEL, api_base=api.base, max_tokens=256), samples=2)
    assert result.answer is None and result.stopped == "truncated"
    assert all(b.truncated for b in result.branches)
    assert any("raise roles.reasoner.max_tokens" in n and "(256)" in n for n in result.notes)
    assert result.usage.completion_tokens == 2 * 256  # the thinking was billed and is counted


def test_missing_key_is_a_config_error_before_any_call(serve, solve_with, monkeypatch):
    api = serve(deepseek_reasoner())
    monkeypatch.delenv("DEEPSEEK_API_KEY")
    with pytest.raises(ConfigError, match="set DEEPSEEK_API_KEY"):
        solve_with(RoleConfig(model=MODEL, api_base=api.base))
    assert api.requests == []


def test_empty_choices_are_a_clear_backend_error(serve, solve_with):
    api = serve(deepseek_reasoner())
    empty = (200, {"content-type": "application/json"},
             b'{"id":"x","object":"chat.completion","created":1,"model":"deepseek-reasoner",'
             b'"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":0,"total_tokens":5}}')
    api.queue.extend([empty] * 4)
    with pytest.raises(BackendError, match="empty `choices`") as info:
        solve_with(RoleConfig(model=MODEL, api_base=api.base, retries=3), samples=1)
    assert len(api.requests) == 4 and "HTTP" not in str(info.value)


@pytest.mark.parametrize("body", [b"<html><body>502 gateway</body></html>", b"{not json"])
def test_malformed_200_body_is_named_not_http_500(serve, solve_with, body):
    api = serve(deepseek_reasoner())
    api.queue.append((200, {"content-type": "text/html"}, body))
    with pytest.raises(BackendError, match="not valid JSON") as info:
        solve_with(RoleConfig(model=MODEL, api_base=api.base), samples=1)
    assert info.value.status is None and "HTTP 500" not in str(info.value)
    assert len(api.requests) == 1  # a wrong URL does not get better by retrying


def test_connection_refused_says_cannot_reach_the_api_base(solve_with):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with pytest.raises(BackendError, match=f"cannot reach {base}") as info:
        solve_with(RoleConfig(model=MODEL, api_base=base, retries=1), samples=1)
    assert "HTTP 500" not in str(info.value)
