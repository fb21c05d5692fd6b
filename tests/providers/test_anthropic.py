"""Anthropic messages API with extended thinking, against a local stand-in."""

from __future__ import annotations

import pytest

from ponder.config import RoleConfig
from ponder.errors import ConfigError
from tests.providers.standins import anthropic_thinking

MODEL = "anthropic/claude-sonnet-4-20250514"


def test_thinking_budget_sends_temperature_1_and_separates_thinking(serve, solve_with):
    api = serve(anthropic_thinking())
    result, _ = solve_with(RoleConfig(model=MODEL, api_base=api.base, temperature=0.7, top_p=0.9,
                                      max_tokens=8000, thinking_budget=2048), samples=3)
    assert len(api.requests) == 3 and all("n" not in r for r in api.requests)  # no n here
    for sent in api.requests:
        assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2048}
        assert sent["temperature"] == 1 and "top_p" not in sent and sent["max_tokens"] == 8000
    assert result.answer == "42" and [b.reasoning for b in result.branches] == ["6*7=42"] * 3
    assert result.usage.prompt_tokens == 3 * 30 and result.usage.completion_tokens == 3 * 120
    assert any("fixed temperature" in n and "0.7" in n for n in result.notes)


def test_thinking_in_params_also_fixes_temperature(serve, solve_with):
    api = serve(anthropic_thinking())
    result, _ = solve_with(RoleConfig(model=MODEL, api_base=api.base, max_tokens=4000, params={
        "thinking": {"type": "enabled", "budget_tokens": 1024}}), samples=1)
    assert api.requests[0]["temperature"] == 1 and result.answer == "42"


def test_thinking_budget_above_max_tokens_is_refused_before_any_call(serve, solve_with):
    api = serve(anthropic_thinking())
    with pytest.raises(ConfigError, match=r"roles.reasoner.max_tokens \(1500\) must be larger"):
        solve_with(RoleConfig(model=MODEL, api_base=api.base, max_tokens=1500,
                              thinking_budget=2048), samples=1)
    assert api.requests == []
