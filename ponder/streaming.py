"""Streamed completions from remote providers, so a low-confidence branch stops mid-generation.

DeepConf's online mode ends a trace once its token confidence collapses. The embedded engine
does that token by token in its worker; for a remote provider that streams log-probabilities
(vLLM, SGLang, llama.cpp's server, Ollama, OpenAI chat models) ponder streams the completion,
hands each token's log-probability to the stop rule, and closes the stream once the rule
fires: the server stops generating, and billing, when the connection closes. The tokens that
arrived are what the branch cost; the prompt is counted with LiteLLM's tokenizer, since a
stream cut short carries no usage. The ``litellm`` module is handed in: only
:mod:`ponder.backends.litellm` imports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ponder.responses import choice_logprobs, split_reasoning
from ponder.types import Completion, StopWhen, Usage


async def stream_completion(litellm: Any, model: str, kwargs: dict[str, Any],
                            stop_when: StopWhen | None,
                            on_text: Callable[[str], None] | None = None) -> Completion:
    """One streamed sample, cut off (``finish_reason="low_confidence"``) when ``stop_when``
    says so; usage and cost as the provider reported them, or counted when it was cut.
    ``on_text`` receives each chunk's text (thinking included) as it arrives."""
    started = time.perf_counter()
    response = await litellm.acompletion(**kwargs, stream=True,
                                         stream_options={"include_usage": True})
    content: list[str] = []
    thinking: list[str] = []
    logprobs: list[float] = []
    finish, usage, cut = None, None, False
    try:
        async for chunk in response:
            usage = getattr(chunk, "usage", None) or usage
            for choice in getattr(chunk, "choices", None) or []:
                delta = getattr(choice, "delta", None)
                content.append(getattr(delta, "content", None) or "")
                thinking.append(getattr(delta, "reasoning_content", None) or "")
                if on_text is not None and (content[-1] or thinking[-1]):
                    on_text(thinking[-1] + content[-1])
                logprobs.extend(choice_logprobs(choice) or [])
                finish = getattr(choice, "finish_reason", None) or finish
            if stop_when is not None and logprobs and finish is None and stop_when(logprobs):
                cut = True
                break
    finally:
        close = getattr(response, "aclose", None)
        if close is not None:
            await close()
    text, reasoning = split_reasoning("".join(content), "".join(thinking) or None)
    counted = _usage(litellm, model, kwargs, usage, len(logprobs) if cut else None)
    counted.latency_s = time.perf_counter() - started
    if reasoning and not counted.reasoning_tokens:
        counted.reasoning_tokens = round(counted.completion_tokens * len(reasoning)
                                         / (len(reasoning) + len(text) or 1))
    return Completion(model=model, text=text, reasoning=reasoning, usage=counted,
                      finish_reason="low_confidence" if cut else finish, logprobs=logprobs or None)


def _usage(litellm: Any, model: str, kwargs: dict[str, Any], reported: Any,
           received: int | None) -> Usage:
    """What the call cost: the provider's final usage chunk, or, for a stream cut short,
    the prompt counted locally and the completion tokens that arrived."""
    if reported is not None and received is None:
        details = getattr(reported, "completion_tokens_details", None)
        prompt = int(getattr(reported, "prompt_tokens", 0) or 0)
        completion = int(getattr(reported, "completion_tokens", 0) or 0)
        reasoning = int(getattr(details, "reasoning_tokens", 0) or 0)
    else:
        try:
            prompt = int(litellm.token_counter(model=model, messages=kwargs.get("messages")))
        except Exception:  # noqa: BLE001 - an unknown tokenizer: count nothing rather than fail
            prompt = 0
        completion, reasoning = received or 0, 0
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt, completion_tokens=completion)
        cost = float(prompt_cost) + float(completion_cost)
    except Exception:  # noqa: BLE001 - a model missing from the price map costs what we know: 0
        cost = 0.0
    return Usage(prompt_tokens=prompt, completion_tokens=completion, reasoning_tokens=reasoning,
                 cost_usd=cost, calls=1)
