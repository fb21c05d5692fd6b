"""OpenAI o-series (``o4-mini``) against a local stand-in of the chat completions API."""

from __future__ import annotations

import pytest

from ponder.config import RoleConfig
from ponder.errors import ConfigError
from tests.providers.standins import openai_o_series

MODEL = "openai/o4-mini"


def role(api, **kw) -> RoleConfig:
    return RoleConfig(model=MODEL, api_base=api.base + "/v1", **kw)


def test_samples_travel_as_one_n_request_with_only_accepted_parameters(serve, solve_with):
    api = serve(openai_o_series())
    result, _ = solve_with(role(api, max_tokens=4000, temperature=0.7, top_p=0.9), samples=6)
    assert len(api.requests) == 1  # the prompt is billed once, not six times
    [sent] = api.requests
    assert sent["n"] == 6 and sent["max_completion_tokens"] == 4000
    assert not {"stop", "logprobs", "top_p", "max_tokens"} & set(sent)
    assert sent.get("temperature") in (None, 1)
    assert result.answer == "42" and result.samples_used == 6
    assert result.usage.reasoning_tokens == 6 * 200 and result.usage.calls == 1
    assert result.usage.prompt_tokens == 20  # counted once, not per branch
    assert any("fixed temperature" in n for n in result.notes)
    assert any("confidence weighting off for role reasoner" in n for n in result.notes)


def test_beam_by_log_probabilities_is_refused_up_front_naming_the_model(serve, solve_with):
    # Beam itself runs on o4-mini with the judge scoring steps (tests/providers/test_beam_judge.py).
    api = serve(openai_o_series())
    with pytest.raises(ConfigError, match=r"beam search cannot score openai/o4-mini .*returns no "
                                          r"log-probabilities \(openai\)"):
        solve_with(role(api), strategy="beam", settings={"beam_scorer": "logprob"})
    assert api.requests == []


def test_hidden_reasoning_that_eats_the_budget_is_truncated_and_billed(serve, solve_with):
    api = serve(openai_o_series())
    result, _ = solve_with(role(api, max_tokens=120), samples=1)
    assert result.answer is None and result.stopped == "truncated"
    assert result.usage.completion_tokens == 120 and result.usage.cost_usd > 0
    assert any("raise roles.reasoner.max_tokens" in n for n in result.notes)
