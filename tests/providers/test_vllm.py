"""OpenAI-compatible servers with thinking models: vLLM (Qwen3, R1-distill), llama.cpp."""

from __future__ import annotations

import pytest

from ponder.config import RoleConfig
from ponder.errors import ConfigError
from tests.providers.standins import StandIn, chat_reply, vllm_thinking

QWEN3 = "hosted_vllm/Qwen/Qwen3-8B"


def test_inline_think_is_separated_and_n_is_one_request(serve, solve_with):
    api = serve(vllm_thinking())
    result, _ = solve_with(RoleConfig(model=QWEN3, api_base=api.base + "/v1"), samples=4)
    assert [r.get("n") for r in api.requests] == [4] and api.requests[0]["logprobs"] is True
    assert result.answer == "42" and [b.reasoning for b in result.branches] == ["6 times 7"] * 4
    assert all(b.confidence is not None for b in result.branches)  # logprobs came back
    assert 0 < result.usage.reasoning_tokens < result.usage.completion_tokens
    assert result.notes == []


def test_r1_distill_without_opening_tag(serve, solve_with):
    api = serve(vllm_thinking("count to 42 by sixes</think>\nAnswer: 42"))
    result, _ = solve_with(RoleConfig(model="hosted_vllm/deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
                                      api_base=api.base + "/v1"), samples=1)
    assert result.answer == "42" and result.branches[0].reasoning == "count to 42 by sixes"


@pytest.mark.parametrize("model", [QWEN3, "hosted_vllm/deepseek-ai/DeepSeek-R1-Distill-Qwen-7B"])
def test_beam_by_log_probabilities_refuses_thinking_models_up_front(serve, solve_with, model):
    # Their log-probabilities cover the thinking; by default the judge scores their steps.
    api = serve(vllm_thinking())
    with pytest.raises(ConfigError, match=f"beam search cannot score {model} .*thinks before"):
        solve_with(RoleConfig(model=model, api_base=api.base + "/v1"), strategy="beam",
                   settings={"beam_scorer": "logprob"})
    assert api.requests == []


def test_server_ignoring_n_and_logprobs_is_topped_up_and_said(serve, solve_with):
    # llama.cpp's server: one choice whatever n says, and no logprobs although asked.
    api = serve(StandIn(lambda path, body, s: chat_reply("qwen", [("Answer: 42", None)])))
    result, _ = solve_with(RoleConfig(model="hosted_vllm/llama-3.2-3b", api_base=api.base + "/v1"),
                           samples=3)
    assert [r.get("n") for r in api.requests] == [3, None, None]
    assert result.samples_used == 3 and result.answer == "42"
    assert any("sent no log-probabilities although they were asked for" in n for n in result.notes)


def test_remote_fan_out_runs_in_parallel(serve, solve_with):
    import time

    arrived: list[float] = []

    def slow(path, body, s):
        arrived.append(time.perf_counter())
        time.sleep(0.5)
        return chat_reply("qwen", [("Answer: 42", None)])  # ignores n: 1 + 15 top-ups

    api = serve(StandIn(slow))
    result, _ = solve_with(RoleConfig(model="hosted_vllm/llama-3.2-3b", api_base=api.base + "/v1"),
                           samples=16)
    assert len(api.requests) == 16 and result.samples_used == 16
    top_ups = sorted(arrived[1:])
    # All 15 top-ups are in flight together (4 at a time would spread them over 1.5 s).
    assert top_ups[-1] - top_ups[0] < 0.4, [round(t - top_ups[0], 2) for t in top_ups]
