"""OpenAI chat-completions wire types, the model-name grammar and OpenAI-format errors.

The request's ``model`` picks the strategy and, optionally, the samples and the reasoner model::

    STRATEGY[@SAMPLES][:PROVIDER/MODEL]      verified · self-consistency@8 · pot:openai/gpt-4.1-mini

``extra_body={"ponder": {...}}`` overrides any of them per request (:class:`PonderOverrides`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ponder.types import Branch, ProblemKind, Result, Usage

_MODEL_NAME = re.compile(
    r"^(?P<strategy>[A-Za-z0-9][A-Za-z0-9_.-]*)(?:@(?P<samples>\d+))?(?::(?P<model>[^/\s]+/\S+))?$")
GRAMMAR = "STRATEGY[@SAMPLES][:PROVIDER/MODEL], e.g. 'verified', 'self-consistency@8', " \
          "'pot:openai/gpt-4.1-mini'"
# Sampling parameters the client may send that ponder's roles set instead (reported back).
IGNORED_PARAMS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "stop",
                  "presence_penalty", "frequency_penalty", "logit_bias", "reasoning_effort")


class ServeError(Exception):
    """A request ponder refuses, rendered as an OpenAI error body with an HTTP status."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.type = status, message, type
        self.param, self.code, self.headers = param, code, headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param,
                          "code": self.code}}


class PonderOverrides(BaseModel):
    """Per-request settings in ``extra_body={"ponder": {...}}``; they win over the model name.

    >>> PonderOverrides(strategy="verified", samples=4, budget_usd=0.05)
    """

    model_config = ConfigDict(extra="forbid")

    strategy: str | None = None
    samples: int | None = Field(None, ge=1, le=256)
    model: str | None = None
    standard: str | None = None
    budget_usd: float | None = Field(None, gt=0)
    budget_tokens: int | None = Field(None, ge=1)
    early_stop: bool | None = None
    seed: int | None = None
    kind: ProblemKind | None = None


class ChatMessage(BaseModel):
    """One message; ``content`` is text or a list of content parts (only text parts pass)."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """The body of ``POST /v1/chat/completions``; unknown OpenAI fields are accepted and
    ignored, features ponder cannot honour are refused by :func:`check_supported`."""

    model_config = ConfigDict(extra="allow")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    n: int | None = None
    user: str | None = None
    ponder: PonderOverrides | None = None

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))

    def ignored(self) -> list[str]:
        return [k for k in IGNORED_PARAMS if (self.model_extra or {}).get(k) is not None]


@dataclass(frozen=True)
class ModelName:
    """A parsed ``model`` field."""

    strategy: str
    samples: int | None = None
    model: str | None = None


def parse_request(body: Any) -> ChatRequest:
    """Validate a JSON body, turning pydantic's complaint into one OpenAI 400."""
    if not isinstance(body, dict):
        raise ServeError(400, "the request body must be a JSON object with 'model' and 'messages'")
    try:
        request = ChatRequest.model_validate(body)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        hint = ""
        if where.startswith("ponder"):
            hint = f"; allowed keys in extra_body.ponder: {', '.join(PonderOverrides.model_fields)}"
        raise ServeError(400, f"invalid request: {where}: {err['msg']}{hint}",
                         param=where or None) from None
    check_supported(request)
    return request


def check_supported(request: ChatRequest) -> None:
    """Refuse, with a 400 that says what to do, what a reasoning endpoint cannot answer."""
    extra = request.model_extra or {}
    for key in ("tools", "functions", "tool_choice", "function_call"):
        if extra.get(key):
            raise ServeError(400, f"'{key}' is not supported: ponder answers a question with a "
                             "voted answer and calls no client tools; send the question without "
                             "tools", param=key, code="unsupported_parameter")
    if request.n not in (None, 1):
        raise ServeError(400, "n > 1 is not supported: ponder returns one voted answer; ask for "
                         "more samples with the model name ('self-consistency@8') instead",
                         param="n", code="unsupported_parameter")
    fmt = extra.get("response_format")
    if isinstance(fmt, dict) and fmt.get("type") not in (None, "text"):
        raise ServeError(400, "response_format other than 'text' is not supported; ask for the "
                         "format in the question", param="response_format",
                         code="unsupported_parameter")
    for i, message in enumerate(request.messages):
        if message.role in ("tool", "function"):
            raise ServeError(400, f"messages[{i}] has role '{message.role}': tool results are not "
                             "supported; send plain user/assistant/system turns",
                             param=f"messages[{i}].role", code="unsupported_parameter")
        message_text(message, i)


def message_text(message: ChatMessage, index: int) -> str:
    """The text of a message; non-text parts (images, audio, files) are a 400."""
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    parts = []
    for part in message.content:
        if part.get("type") != "text":
            raise ServeError(400, f"messages[{index}] has a '{part.get('type')}' part: only text "
                             "is supported; describe the image or file in words",
                             param=f"messages[{index}].content", code="unsupported_content")
        parts.append(str(part.get("text", "")))
    return "\n".join(parts)


def problem_text(request: ChatRequest) -> str:
    """The last user message is the problem; earlier turns come first, as its context."""
    *earlier, last = request.messages
    if last.role != "user":
        raise ServeError(400, f"the last message has role '{last.role}'; end the conversation "
                         "with the user's question", param="messages")
    question = message_text(last, len(earlier)).strip()
    if not question:
        raise ServeError(400, "the last user message is empty; put the question in it",
                         param="messages")
    context = [f"{m.role}: {message_text(m, i).strip()}" for i, m in enumerate(earlier)
               if message_text(m, i).strip()]
    if not context:
        return question
    return "Conversation so far:\n" + "\n".join(context) + f"\n\nQuestion: {question}"


def parse_model(name: str, known: list[str]) -> ModelName:
    """Parse ``STRATEGY[@SAMPLES][:PROVIDER/MODEL]``; an unknown strategy is a 404 listing
    the known ones, as OpenAI answers an unknown model."""
    match = _MODEL_NAME.match(name.strip())
    if match is None:
        raise ServeError(400, f"model {name!r} does not follow {GRAMMAR}; GET /v1/models lists "
                         "the strategies", param="model", code="invalid_model_name")
    strategy = match["strategy"]
    check_strategy(strategy, known)
    samples = int(match["samples"]) if match["samples"] else None
    if samples is not None and not 1 <= samples <= 256:
        raise ServeError(400, f"samples must be between 1 and 256, got {samples}", param="model")
    return ModelName(strategy, samples, match["model"])


def check_strategy(strategy: str, known: list[str]) -> None:
    if strategy not in known:
        raise ServeError(404, f"unknown strategy {strategy!r}; choose one of: {', '.join(known)} "
                         f"(model names follow {GRAMMAR})", param="model", code="model_not_found")


# responses -------------------------------------------------------------------------------
def usage_body(usage: Usage) -> dict[str, Any]:
    """OpenAI ``usage``: exact sums over every model call the run made."""
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "completion_tokens_details": {"reasoning_tokens": usage.reasoning_tokens}}


def winning_branch(result: Result) -> Branch | None:
    """The branch that stands for the answer: verified first, then the most confident."""
    backing = [b for b in result.branches if result.answer is not None and b.answer == result.answer]
    if not backing:
        return None
    return max(backing, key=lambda b: (b.verdict == "verified", b.confidence or 0.0, -b.index))


def reasoning_of(result: Result) -> str | None:
    branch = winning_branch(result)
    if branch is None:
        return None
    return branch.reasoning or branch.text or None


def extension(result: Result, *, ignored: list[str]) -> dict[str, Any]:
    """The ``ponder`` object: what the run was and how it decided."""
    return {
        "run_id": result.run_id, "strategy": result.strategy, "answer": result.answer,
        "confidence": result.confidence,
        "votes": {a: v.model_dump() for a, v in result.votes.items()},
        "samples_used": result.samples_used, "max_samples": result.max_samples,
        "escalated": result.escalated, "stopped": result.stopped,
        "cost_usd": result.usage.cost_usd, "calls": result.usage.calls,
        "models": result.models, "notes": result.notes, "ignored_params": ignored,
    }


def completion_body(result: Result, *, model: str, created: int,
                    ignored: list[str]) -> dict[str, Any]:
    """A ``chat.completion`` object for a finished run."""
    message: dict[str, Any] = {"role": "assistant", "content": result.answer or "",
                               "reasoning_content": reasoning_of(result)}
    return {
        "id": f"chatcmpl-{result.run_id}", "object": "chat.completion", "created": created,
        "model": model, "system_fingerprint": None,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "usage": usage_body(result.usage), "ponder": extension(result, ignored=ignored),
    }


def chunk_body(run_id: str, *, model: str, created: int, delta: dict[str, Any] | None = None,
               finish_reason: str | None = None, **extra: Any) -> dict[str, Any]:
    """One ``chat.completion.chunk``; ``delta=None`` gives the usage-only chunk (no choices)."""
    choices = [] if delta is None else [{"index": 0, "delta": delta,
                                         "finish_reason": finish_reason, "logprobs": None}]
    return {"id": f"chatcmpl-{run_id}", "object": "chat.completion.chunk", "created": created,
            "model": model, "choices": choices, **extra}


def progress_line(event: Any) -> str | None:
    """A progress event of the run (``ponder.events``) as one line of streamed reasoning."""
    line = event.line() if hasattr(event, "line") else None
    return f"[ponder] {line}\n" if line else None
