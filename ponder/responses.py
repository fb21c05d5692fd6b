"""Model answers as :class:`~ponder.types.Completion` objects, whichever backend sampled them.

Thinking is separated from the answer whichever way the provider returns it, usage is
split across the choices of an ``n`` request, and a LiteLLM response's cost comes from
LiteLLM's price map. The ``litellm`` module is handed in: only
:mod:`ponder.backends.litellm` imports it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Choice:
    """One sampled choice as a backend received it, before the call's usage is shared out."""

    text: str
    finish_reason: str | None = None
    logprobs: list[float] | None = None
    reasoning_content: str | None = None


def completions(model: str, choices: list[Choice], *, prompt_tokens: int, completion_tokens: int,
                reasoning_tokens: int = 0, cost_usd: float = 0.0,
                latency_s: float = 0.0) -> list[Completion]:
    """The Completions of one call, with thinking separated and the call's usage shared out.

    The prompt, the call and its latency count on the first choice; completion and reasoning
    tokens and the cost are split evenly (the remainder on the first).
    """
    k = max(len(choices), 1)
    out = []
    for i, choice in enumerate(choices):
        text, thinking = split_reasoning(choice.text, choice.reasoning_content)
        share = Usage(
            prompt_tokens=prompt_tokens if i == 0 else 0,
            completion_tokens=completion_tokens // k + (completion_tokens % k if i == 0 else 0),
            reasoning_tokens=reasoning_tokens // k + (reasoning_tokens % k if i == 0 else 0),
            cost_usd=cost_usd / k, latency_s=latency_s if i == 0 else 0.0, calls=1 if i == 0 else 0,
        )
        if reasoning_tokens == 0 and thinking:
            # Inline <think> text with no provider count: estimate by character share.
            share.reasoning_tokens = round(
                share.completion_tokens * len(thinking) / (len(thinking) + len(text) or 1))
        out.append(Completion(model=model, text=text, reasoning=thinking, usage=share,
                              finish_reason=choice.finish_reason,
                              logprobs=choice.logprobs or None))
    return out


def to_completions(litellm: Any, model: str, response: Any, latency: float) -> list[Completion]:
    """Turn a LiteLLM ``ModelResponse`` into Completions, splitting usage across choices."""
    usage = getattr(response, "usage", None)
    details = getattr(usage, "completion_tokens_details", None)
    choices = list(getattr(response, "choices", None) or [])
    if not choices:
        raise BackendError(model, None, "the provider answered without any completion (empty "
                           "`choices`); it may be overloaded or filtering the prompt — retry "
                           "later", retryable=True)
    return completions(
        model, [_choice(choice) for choice in choices],
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        reasoning_tokens=int(getattr(details, "reasoning_tokens", 0) or 0),
        cost_usd=_cost(litellm, response, model), latency_s=latency)


def _choice(choice: Any) -> Choice:
    message = choice.message
    return Choice(
        text=message.content or "", reasoning_content=getattr(message, "reasoning_content", None),
        finish_reason=(getattr(message, "provider_specific_fields", None) or {}).get(
            "finish_reason", getattr(choice, "finish_reason", None)),
        logprobs=choice_logprobs(choice))


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
    hidden = getattr(response, "_hidden_params", {}) or {}
    if hidden.get("response_cost") is not None:
        return float(hidden["response_cost"])
    try:
        return float(litellm.completion_cost(completion_response=response, model=model))
    except Exception:
        return 0.0
