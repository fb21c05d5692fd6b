"""Retry-After is honoured on every LiteLLM route, wherever LiteLLM puts the headers."""

from __future__ import annotations

import pytest

from ponder.config import RoleConfig
from tests.providers.standins import (anthropic_thinking, deepseek_reasoner, openai_error,
                                      openai_o_series, vllm_thinking)

ROUTES = [
    ("deepseek/deepseek-reasoner", deepseek_reasoner, ""),
    ("openai/o4-mini", openai_o_series, "/v1"),
    ("hosted_vllm/Qwen/Qwen3-8B", vllm_thinking, "/v1"),
    ("anthropic/claude-sonnet-4-20250514", anthropic_thinking, ""),
]


@pytest.mark.parametrize("model,standin,suffix", ROUTES, ids=[r[0].split("/")[0] for r in ROUTES])
def test_429_waits_what_retry_after_says_then_succeeds(serve, solve_with, model, standin, suffix):
    api = serve(standin())
    api.queue.extend([openai_error(429, "Rate limit reached", kind="rate_limit_error",
                                   headers={"retry-after": "3"})] * 2)
    result, sleeps = solve_with(RoleConfig(model=model, api_base=api.base + suffix,
                                           max_tokens=4000), samples=1)
    assert sleeps == [3.0, 3.0] and len(api.requests) == 3 and result.answer == "42"


def test_400_is_not_retried(serve, solve_with):
    from ponder.errors import BackendError

    api = serve(vllm_thinking())
    api.queue.append(openai_error(400, "bad field", "foo"))
    with pytest.raises(BackendError, match="HTTP 400"):
        solve_with(RoleConfig(model="hosted_vllm/m", api_base=api.base + "/v1"), samples=1)
    assert len(api.requests) == 1
