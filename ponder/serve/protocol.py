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

from ponder.events import RoundStarted
from ponder.types import ProblemKind, Result, Usage
from ponder.verdict import verdict_of

_MODEL_NAME = re.compile(
    r"^(?P<strategy>[A-Za-z0-9][A-Za-z0-9_.-]*)(?:@(?P<samples>\d+))?(?::(?P<model>[^/\s]+/\S+))?$")
GRAMMAR = "STRATEGY[@SAMPLES][:PROVIDER/MODEL], e.g. 'verified', 'self-consistency@8', " \
          "'pot:openai/gpt-4.1-mini'"


class ServeError(Exception):
    """A request ponder refuses, rendered as an OpenAI error body with an HTTP status."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.type = status, message, type
        self.param, self.code, self.headers = param, code, headers or {}
        self.run_id: str | None = None  # set once the request is a run (sent as a header)

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
    content: Literal["solution", "answer"] | None = None


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
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    ponder: PonderOverrides | None = None

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))

    def ignored(self) -> list[str]:
        """Every field sent that ponder does not honour (sampling is set by its roles)."""
        return sorted(k for k, v in (self.model_extra or {}).items() if v is not None)


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


def extension(result: Result, *, ignored: list[str], content: str) -> dict[str, Any]:
    """The ``ponder`` object: what the run was and how it decided."""
    verdict = verdict_of(result)
    return {
        "run_id": result.run_id, "strategy": result.strategy, "answer": result.answer,
        "confidence": result.confidence, "verdict": verdict.label, "check": verdict.check,
        "verdict_line": verdict.line(), "seed": result.seed, "content": content,
        "votes": {a: v.model_dump() for a, v in result.votes.items()},
        "samples_used": result.samples_used, "max_samples": result.max_samples,
        "escalated": result.escalated, "stopped": result.stopped,
        "cost_usd": result.usage.cost_usd, "calls": result.usage.calls,
        "models": result.models, "notes": result.notes, "ignored_params": ignored,
    }


def completion_body(result: Result, *, content: str, reasoning: str | None, created: int,
                    ponder: dict[str, Any]) -> dict[str, Any]:
    """A ``chat.completion`` object for a finished run; ``model`` is the strategy that ran."""
    message: dict[str, Any] = {"role": "assistant", "content": content,
                               "reasoning_content": reasoning}
    return {
        "id": f"chatcmpl-{result.run_id}", "object": "chat.completion", "created": created,
        "model": result.strategy, "system_fingerprint": None,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
        "usage": usage_body(result.usage), "ponder": ponder,
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
    if isinstance(event, RoundStarted):
        noun = "branch" if event.size == 1 else "branches"
        line: str | None = f"sampling {event.size} {noun} with the {event.role} role"
    else:
        line = event.line() if hasattr(event, "line") else None
    return f"[ponder] {line}\n" if line else None
