"""LiteLLM responses as :class:`~ponder.types.Completion` objects.

Thinking is separated from the answer whichever way the provider returns it, usage is
split across the choices of an ``n`` request, and cost comes from LiteLLM's price map.
The ``litellm`` module is handed in: only :mod:`ponder.models` imports it.
"""

from __future__ import annotations

import re
from typing import Any

from ponder.errors import BackendError
from ponder.types import Completion, Usage

_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.S)


def split_reasoning(text: str, reasoning_content: str | None = None) -> tuple[str, str | None]:
    """Separate thinking from the final text.

    Providers return thinking either as ``reasoning_content`` or inline in ``<think>``
    blocks (DeepSeek-R1 style, sometimes with the opening tag missing, or cut off unclosed).
    """
    pieces = [reasoning_content] if reasoning_content else []
    if "</think>" in text and "<think>" not in text.split("</think>", 1)[0]:
        head, text = text.split("</think>", 1)
        pieces.append(head)
    pieces.extend(m.group(1) for m in _THINK.finditer(text))
    text = _THINK.sub("", text)
    reasoning = "\n".join(p.strip() for p in pieces if p and p.strip())
    return text.strip(), reasoning or None


def to_completions(litellm: Any, model: str, response: Any, latency: float) -> list[Completion]:
    """Turn a LiteLLM ``ModelResponse`` into Completions, splitting usage across choices."""
    usage = getattr(response, "usage", None)
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    details = getattr(usage, "completion_tokens_details", None)
    reasoning = int(getattr(details, "reasoning_tokens", 0) or 0)
    cost = _cost(litellm, response, model)
    choices = list(getattr(response, "choices", None) or [])
    if not choices:
        raise BackendError(model, None, "the provider answered without any completion (empty "
                           "`choices`); it may be overloaded or filtering the prompt — retry "
                           "later", retryable=True)
    k = max(len(choices), 1)
    out = []
    for i, choice in enumerate(choices):
        message = choice.message
        text, thinking = split_reasoning(message.content or "", getattr(message, "reasoning_content", None))
        share = Usage(
            prompt_tokens=prompt if i == 0 else 0,
            completion_tokens=completion // k + (completion % k if i == 0 else 0),
            reasoning_tokens=reasoning // k + (reasoning % k if i == 0 else 0),
            cost_usd=cost / k, latency_s=latency if i == 0 else 0.0, calls=1 if i == 0 else 0,
        )
        if reasoning == 0 and thinking:
            # Inline <think> text with no provider count: estimate by character share.
            share.reasoning_tokens = round(
                share.completion_tokens * len(thinking) / (len(thinking) + len(text) or 1))
        out.append(Completion(
            model=model, text=text, reasoning=thinking, usage=share,
            finish_reason=(getattr(message, "provider_specific_fields", None) or {}).get(
                "finish_reason", getattr(choice, "finish_reason", None)),
            logprobs=choice_logprobs(choice),
        ))
    return out


def choice_logprobs(choice: Any) -> list[float] | None:
    """The token log-probabilities of a choice (or a streamed chunk's choice), if any."""
    data = getattr(choice, "logprobs", None)
    content = getattr(data, "content", None) if data is not None else None
    if content is None and isinstance(data, dict):
        content = data.get("content")
    if not content:
        return None
    return [float(getattr(t, "logprob", None) if not isinstance(t, dict) else t["logprob"]) for t in content]


def _cost(litellm: Any, response: Any, model: str) -> float:
    if model.split("/", 1)[0] in ("local", "scripted"):
        return 0.0
    hidden = getattr(response, "_hidden_params", {}) or {}
    if hidden.get("response_cost") is not None:
        return float(hidden["response_cost"])
    try:
        return float(litellm.completion_cost(completion_response=response, model=model))
    except Exception:
        return 0.0
