"""The LiteLLM adapter: reasoning separation, usage and cost, n, retries, cache."""

from __future__ import annotations

import httpx
import litellm
import pytest

from ponder.cache import ResponseCache
from ponder.config import RoleConfig, load_config
from ponder.errors import BackendError
from ponder.models import ModelClient, split_reasoning
from ponder.scripted import cycle, register_script


@pytest.fixture(autouse=True)
def provider_keys(monkeypatch):
    """Keys for the routes these tests call (mocked: nothing leaves the machine)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-test")


def client_for(model: str, tmp_path, **kw) -> tuple[ModelClient, list[float]]:
    delays: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    cfg = load_config(None, store=tmp_path / "s.db", roles={"reasoner": RoleConfig(model=model, retries=3)})
    return ModelClient(cfg, sleep=fake_sleep, **kw), delays


def test_split_reasoning_from_think_blocks():
    text, reasoning = split_reasoning("<think>2+2 is 4</think>\nAnswer: 4")
    assert (text, reasoning) == ("Answer: 4", "2+2 is 4")


def test_split_reasoning_missing_open_tag_and_unclosed():
    assert split_reasoning("count apples</think>Answer: 7") == ("Answer: 7", "count apples")
    assert split_reasoning("<think>still thinking") == ("", "still thinking")
    assert split_reasoning("plain") == ("plain", None)


def test_split_reasoning_prefers_reasoning_content():
    assert split_reasoning("Answer: 5", "the provider's thoughts") == ("Answer: 5", "the provider's thoughts")


def _response(content: str, reasoning: str | None = None, n: int = 1, reasoning_tokens: int = 0):
    message = {"role": "assistant", "content": content}
    if reasoning:
        message["reasoning_content"] = reasoning
    return litellm.ModelResponse(
        model="deepseek-reasoner",
        choices=[{"index": i, "message": message, "finish_reason": "stop"} for i in range(n)],
        usage={"prompt_tokens": 10, "completion_tokens": 20 * n, "total_tokens": 10 + 20 * n,
               "completion_tokens_details": {"reasoning_tokens": reasoning_tokens}},
    )


async def test_reasoning_content_usage_and_cost(tmp_path, monkeypatch):
    calls = []

    async def fake(**kwargs):
        calls.append(kwargs)
        return _response("Answer: 42", reasoning="6 times 7", reasoning_tokens=12)

    monkeypatch.setattr(litellm, "acompletion", fake)
    client, _ = client_for("deepseek/deepseek-reasoner", tmp_path)
    [c] = await client.acomplete("reasoner", "What is 6*7?")
    assert c.text == "Answer: 42" and c.reasoning == "6 times 7"
    assert (c.usage.prompt_tokens, c.usage.completion_tokens, c.usage.reasoning_tokens) == (10, 20, 12)
    assert c.usage.calls == 1 and c.usage.cost_usd > 0  # priced from LiteLLM's local cost map
    # No max_tokens in the role: a reasoning model gets room to think (its limit, up to 32k).
    assert calls[0]["max_tokens"] == 32768 and calls[0]["num_retries"] == 0
    assert "logprobs" not in calls[0] and "temperature" not in calls[0]


async def test_mock_response_cost_for_openai(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    client, _ = client_for("openai/gpt-4o-mini", tmp_path)
    [c] = await client.acomplete("reasoner", "hi", mock_response="<think>hm</think>Answer: 3")
    assert c.text == "Answer: 3" and c.reasoning == "hm"
    assert c.usage.completion_tokens > 0 and c.usage.cost_usd > 0


async def test_n_uses_native_n_and_tops_up_missing_choices(tmp_path, monkeypatch):
    seen = []

    async def fake(**kwargs):
        seen.append(kwargs.get("n", 1))
        return _response("Answer: 1", n=1)  # a server that ignores n

    monkeypatch.setattr(litellm, "acompletion", fake)
    client, _ = client_for("openai/gpt-4o-mini", tmp_path)
    out = await client.acomplete("reasoner", "q", n=3)
    assert len(out) == 3
    assert seen == [3, 1, 1]


async def test_scripted_samples_are_distinct(tmp_path):
    model = register_script("distinct", lambda messages, i: f"Answer: {i}")
    client, _ = client_for(model, tmp_path)
    out = await client.acomplete("reasoner", "q", n=3)
    assert [c.text for c in out] == ["Answer: 0", "Answer: 1", "Answer: 2"]
    more = await client.acomplete("reasoner", "q", n=2, first_index=3)
    assert [c.text for c in more] == ["Answer: 3", "Answer: 4"]


@pytest.mark.parametrize("status,error", [
    (429, litellm.RateLimitError("slow down", "openai", "gpt-4o-mini")),
    (500, litellm.InternalServerError("boom", "openai", "gpt-4o-mini")),
])
async def test_retryable_errors_retry_then_raise(tmp_path, monkeypatch, status, error):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    client, delays = client_for("openai/gpt-4o-mini", tmp_path)
    with pytest.raises(BackendError) as info:
        await client.acomplete("reasoner", "q", mock_response=error)
    assert info.value.status == status and info.value.model == "openai/gpt-4o-mini"
    assert len(delays) == 3  # retries=3


async def test_bad_request_is_not_retried(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    client, delays = client_for("openai/gpt-4o-mini", tmp_path)
    error = litellm.BadRequestError("bad field", "gpt-4o-mini", "openai")
    with pytest.raises(BackendError) as info:
        await client.acomplete("reasoner", "q", mock_response=error)
    assert info.value.status == 400 and delays == []


async def test_context_window_and_auth_are_not_retried(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    client, delays = client_for("openai/gpt-4o-mini", tmp_path)
    with pytest.raises(BackendError, match="context window"):
        await client.acomplete("reasoner", "q", mock_response=litellm.ContextWindowExceededError(
            "too long", "gpt-4o-mini", "openai"))
    with pytest.raises(BackendError, match="API key") as info:
        await client.acomplete("reasoner", "q", mock_response=litellm.AuthenticationError(
            "bad key", "openai", "gpt-4o-mini"))
    assert info.value.status == 401 and delays == []


async def test_retry_after_is_honoured_then_success(tmp_path, monkeypatch):
    attempts = []

    async def fake(**kwargs):
        attempts.append(1)
        if len(attempts) < 3:
            response = httpx.Response(429, headers={"retry-after": "7"},
                                      request=httpx.Request("POST", "http://x"))
            raise litellm.RateLimitError("slow", "openai", "gpt-4o-mini", response=response)
        return _response("Answer: ok")

    monkeypatch.setattr(litellm, "acompletion", fake)
    client, delays = client_for("openai/gpt-4o-mini", tmp_path)
    [c] = await client.acomplete("reasoner", "q")
    assert c.text == "Answer: ok" and delays == [7.0, 7.0]


async def test_cache_hits_are_free_and_samples_stay_distinct(tmp_path):
    calls = []

    def script(messages, i):
        calls.append(i)
        return f"Answer: {i}"

    model = register_script("cached", script)
    cache = ResponseCache(tmp_path / "cache.db")
    client, _ = client_for(model, tmp_path, cache=cache)
    first = await client.acomplete("reasoner", "q", n=2)
    again = await client.acomplete("reasoner", "q", n=3)
    assert [c.text for c in again] == ["Answer: 0", "Answer: 1", "Answer: 2"]
    assert [c.cached for c in again] == [True, True, False]
    assert again[0].usage.calls == 0 and first[0].usage.calls == 1
    assert calls == [0, 1, 2]
    other = await client.acomplete("reasoner", "another question", n=1)
    assert not other[0].cached


async def test_the_cache_replays_a_seed_and_never_hands_its_samples_to_another(tmp_path):
    """A re-run with the same seed is free; one with another seed draws its own samples."""
    model = register_script("cached-seeds", lambda messages, i: f"Answer: {i}")
    client, _ = client_for(model, tmp_path, cache=ResponseCache(tmp_path / "seeds.db"))
    first = await client.acomplete("reasoner", "q", n=2, seed=1)
    same = await client.acomplete("reasoner", "q", n=2, seed=1)
    other = await client.acomplete("reasoner", "q", n=2, seed=2)
    unseeded = await client.acomplete("reasoner", "q", n=1)
    assert [c.cached for c in first] == [False, False] and [c.cached for c in same] == [True, True]
    assert [c.cached for c in other] == [False, False] and not unseeded[0].cached


async def test_a_cache_hit_between_missing_samples_keeps_each_sample_its_own(tmp_path):
    """Samples 0 and 2 missing around a cached 1: two requests, never one n=2 request whose
    second choice would be sample 1 again."""
    calls = []

    def script(messages, i):
        calls.append(i)
        return f"Answer: {i}"

    model = register_script("gapped", script)
    client, _ = client_for(model, tmp_path, cache=ResponseCache(tmp_path / "cache.db"))
    await client.acomplete("reasoner", "q", n=1, first_index=1)
    again = await client.acomplete("reasoner", "q", n=3)
    assert [c.text for c in again] == ["Answer: 0", "Answer: 1", "Answer: 2"]
    assert [c.cached for c in again] == [False, True, False]
    assert sorted(calls) == [0, 1, 2]


async def test_logprobs_from_scripted(tmp_path):
    model = register_script("lp", cycle("Answer: 1 2"))
    client, _ = client_for(model, tmp_path)
    [c] = await client.acomplete("reasoner", "q", logprobs=True)
    assert c.logprobs == [-0.05, -0.05, -0.05]


def test_style_detection(tmp_path):
    client, _ = client_for("deepseek/deepseek-reasoner", tmp_path)
    assert client.style("reasoner") == "reasoning"
    assert client.style("openai/o4-mini") == "reasoning"
    assert client.style("openai/gpt-4o-mini") == "chat"
    assert client.style("local/gemma-3-270m") == "completion"
    assert client.style("local/smollm2-135m") == "chat"


async def test_inline_think_tokens_are_estimated(tmp_path):
    model = register_script("thinker", cycle("<think>" + "step " * 30 + "</think>Answer: 9"))
    client, _ = client_for(model, tmp_path)
    [c] = await client.acomplete("reasoner", "q")
    assert c.reasoning.startswith("step") and c.text == "Answer: 9"
    assert 0 < c.usage.reasoning_tokens < c.usage.completion_tokens


def test_a_limiter_passed_in_holds_every_backend_call(scripted_config):
    """The client's limiter seam: each backend call holds the permit the limiter hands out."""
    import asyncio
    import contextlib

    from ponder.models import ProcessLimiter

    model = register_script("limited", cycle("Answer: 4"))
    held: list[str] = []
    peak = [0, 0]  # calls inside a permit now, most at once

    class Counting:
        def __init__(self) -> None:
            self.inner = ProcessLimiter()

        @contextlib.asynccontextmanager
        async def __call__(self, spec):
            async with self.inner(spec):
                held.append(spec.model)
                peak[0] += 1
                peak[1] = max(peak)
                await asyncio.sleep(0.01)
                try:
                    yield
                finally:
                    peak[0] -= 1

    config = scripted_config(model)
    config = config.model_copy(update={"roles": {
        **config.roles, "reasoner": RoleConfig(model=model, concurrency=2)}})
    client = ModelClient(config, limiter=Counting())

    async def five() -> list:
        return await asyncio.gather(*[client.acomplete("reasoner", "What is 2 + 2?",
                                                       first_index=i) for i in range(5)])
    out = asyncio.run(five())
    assert [c.text for [c] in out] == ["Answer: 4"] * 5
    assert held == [model] * 5 and peak[0] == 0 and peak[1] == 2
