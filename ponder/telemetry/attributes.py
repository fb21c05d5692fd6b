"""Span attributes for ponder's runs, named after the OpenInference semantic conventions
(what Arize Phoenix and Langfuse render) and, where they agree, the OpenTelemetry GenAI ones.

Pure functions from ponder's types to flat attribute dicts, shared by the live spans
(:mod:`ponder.telemetry.spans`) and the replay of stored runs, so both say the same thing.
Message text, model-written code and program output are *content*: they are left out when
content capture is off (see :func:`ponder.telemetry.set_capture_content`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from openinference.semconv.trace import (
    MessageAttributes,
    OpenInferenceMimeTypeValues,
    OpenInferenceSpanKindValues,
    SpanAttributes,
)

from ponder.types import Completion, ExecResult, Problem, Result, TraceEvent, Usage

Attributes = dict[str, Any]

KIND = SpanAttributes.OPENINFERENCE_SPAN_KIND
CHAIN = OpenInferenceSpanKindValues.CHAIN.value
LLM = OpenInferenceSpanKindValues.LLM.value
TOOL = OpenInferenceSpanKindValues.TOOL.value
JSON_MIME = OpenInferenceMimeTypeValues.JSON.value
TEXT_MIME = OpenInferenceMimeTypeValues.TEXT.value

OUTPUT_CAP = 4096
"""Characters of program output (stdout, stderr) a tool span carries."""

CONTENT_KEYS = (SpanAttributes.INPUT_VALUE, SpanAttributes.OUTPUT_VALUE,
                SpanAttributes.LLM_INPUT_MESSAGES, SpanAttributes.LLM_OUTPUT_MESSAGES,
                "ponder.sandbox.stdout", "ponder.sandbox.stderr", "ponder.answer",
                "ponder.reference")
"""Attribute names (and prefixes) that carry text a model, a user or a program wrote."""


def is_content(key: str) -> bool:
    return any(key == c or key.startswith(c + ".") for c in CONTENT_KEYS)


def without_content(attributes: Mapping[str, Any]) -> Attributes:
    return {k: v for k, v in attributes.items() if not is_content(k)}


def usage_attributes(usage: Usage, prefix: str = "ponder.usage") -> Attributes:
    """Usage under ponder's own names (for spans that are not LLM calls: no double counting
    in viewers that add up ``llm.token_count.*`` over a trace)."""
    return {f"{prefix}.prompt_tokens": usage.prompt_tokens,
            f"{prefix}.completion_tokens": usage.completion_tokens,
            f"{prefix}.reasoning_tokens": usage.reasoning_tokens,
            f"{prefix}.cost_usd": usage.cost_usd, f"{prefix}.calls": usage.calls}


def token_attributes(usage: Usage) -> Attributes:
    """An LLM span's token counts and cost, in OpenInference's and GenAI's names."""
    return {
        SpanAttributes.LLM_TOKEN_COUNT_PROMPT: usage.prompt_tokens,
        SpanAttributes.LLM_TOKEN_COUNT_COMPLETION: usage.completion_tokens,
        SpanAttributes.LLM_TOKEN_COUNT_TOTAL: usage.total_tokens,
        SpanAttributes.LLM_TOKEN_COUNT_COMPLETION_DETAILS_REASONING: usage.reasoning_tokens,
        SpanAttributes.LLM_COST_TOTAL: usage.cost_usd,
        "gen_ai.usage.input_tokens": usage.prompt_tokens,
        "gen_ai.usage.output_tokens": usage.completion_tokens,
    }


def run_attributes(run_id: str, problem_id: str, strategy: str) -> Attributes:
    """What every ponder span carries: the run (a Phoenix session), problem and strategy."""
    return {SpanAttributes.SESSION_ID: run_id, "ponder.run_id": run_id,
            "ponder.problem_id": problem_id, "ponder.strategy": strategy}


def solve_attributes(problem: Problem, strategy: str, run_id: str, *,
                     capture: bool = True) -> Attributes:
    """The root span of one problem solve, at its start."""
    out = {KIND: CHAIN, **run_attributes(run_id, problem.id, strategy),
           "ponder.problem.kind": problem.kind}
    if capture:
        out |= {SpanAttributes.INPUT_VALUE: problem.question,
                SpanAttributes.INPUT_MIME_TYPE: TEXT_MIME}
    return out


def result_attributes(result: Result, *, capture: bool = True) -> Attributes:
    """The root span's outcome: answer, verdict, confidence, stop reason, correctness."""
    from ponder.verdict import verdict_of

    verdict = verdict_of(result)
    out: Attributes = {
        "ponder.verdict": verdict.label, "ponder.verdict.check": verdict.check,
        "ponder.confidence": result.confidence, "ponder.stop_reason": result.stopped or "",
        "ponder.samples_used": result.samples_used, **usage_attributes(result.usage),
    }
    if result.correct is not None:
        out["ponder.correct"] = result.correct
    if capture:
        out |= {SpanAttributes.OUTPUT_VALUE: result.answer or "",
                SpanAttributes.OUTPUT_MIME_TYPE: TEXT_MIME, "ponder.answer": result.answer or ""}
        if result.reference is not None:
            out["ponder.reference"] = result.reference
    return out


def node_attributes(event: TraceEvent, *, capture: bool = True) -> Attributes:
    """A graph node's span, from its trace event."""
    out = {KIND: CHAIN, **run_attributes(event.run_id, event.problem_id, event.strategy),
           "ponder.node": event.node, "ponder.event_id": event.id,
           **usage_attributes(event.usage)}
    if event.branch_id:
        out["ponder.branch_id"] = event.branch_id
    error = event.outputs.get("error")
    if isinstance(error, str):
        out["ponder.error"] = error
    if capture:
        outputs = {k: v for k, v in event.outputs.items() if k != "otel"}
        out |= {SpanAttributes.INPUT_VALUE: _json(event.inputs),
                SpanAttributes.INPUT_MIME_TYPE: JSON_MIME,
                SpanAttributes.OUTPUT_VALUE: _json(outputs),
                SpanAttributes.OUTPUT_MIME_TYPE: JSON_MIME}
    return out


def llm_request_attributes(model: str, provider: str, messages: Iterable[Mapping[str, Any]],
                           params: Mapping[str, Any], *, capture: bool = True) -> Attributes:
    """An LLM span at the call: model, provider, invocation parameters, input messages."""
    out: Attributes = {
        KIND: LLM, SpanAttributes.LLM_MODEL_NAME: model, SpanAttributes.LLM_PROVIDER: provider,
        SpanAttributes.LLM_INVOCATION_PARAMETERS: _json(dict(params)),
        "gen_ai.system": provider, "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "gen_ai.operation.name": "chat",
    }
    for key in ("temperature", "max_tokens", "top_p", "seed"):
        if isinstance(params.get(key), (int, float)):
            out[f"gen_ai.request.{key}"] = params[key]
    if capture:
        for i, message in enumerate(messages):
            prefix = f"{SpanAttributes.LLM_INPUT_MESSAGES}.{i}."
            out[prefix + MessageAttributes.MESSAGE_ROLE] = str(message.get("role", "user"))
            out[prefix + MessageAttributes.MESSAGE_CONTENT] = _text(message.get("content"))
    return out


def llm_response_attributes(completions: list[Completion], *,
                            capture: bool = True) -> Attributes:
    """An LLM span's outcome: output messages, finish reasons, token counts and cost."""
    usage = Usage.total([c.usage for c in completions])
    out = token_attributes(usage)
    if completions:
        out["gen_ai.response.model"] = completions[0].model
        out["gen_ai.response.finish_reasons"] = [c.finish_reason or "" for c in completions]
    if capture:
        for i, completion in enumerate(completions):
            prefix = f"{SpanAttributes.LLM_OUTPUT_MESSAGES}.{i}."
            out[prefix + MessageAttributes.MESSAGE_ROLE] = "assistant"
            out[prefix + MessageAttributes.MESSAGE_CONTENT] = completion.text
        out[SpanAttributes.OUTPUT_VALUE] = completions[0].text if len(completions) == 1 else \
            _json([c.text for c in completions])
    return out


def tool_request_attributes(backend: str, code: str, *, capture: bool = True) -> Attributes:
    """A sandbox run's span at its start: the backend, and the program when content is on."""
    out: Attributes = {KIND: TOOL, SpanAttributes.TOOL_NAME: f"sandbox.{backend}",
                       SpanAttributes.TOOL_DESCRIPTION: "run a Python program in the sandbox",
                       "ponder.sandbox.backend": backend}
    if capture:
        out |= {SpanAttributes.INPUT_VALUE: code, SpanAttributes.INPUT_MIME_TYPE: TEXT_MIME}
    return out


def tool_result_attributes(result: ExecResult, *, capture: bool = True) -> Attributes:
    """A sandbox run's outcome: status, exit code, duration, truncated stdout/stderr."""
    out: Attributes = {"ponder.sandbox.status": result.status,
                       "ponder.sandbox.duration_s": result.duration_s,
                       "ponder.sandbox.output_truncated": result.truncated}
    if result.exit_code is not None:
        out["ponder.sandbox.exit_code"] = result.exit_code
    if capture:
        out |= {"ponder.sandbox.stdout": result.stdout[:OUTPUT_CAP],
                "ponder.sandbox.stderr": result.stderr[:OUTPUT_CAP],
                SpanAttributes.OUTPUT_VALUE: _json({"status": result.status,
                                                    "value": result.value,
                                                    "stdout": result.stdout[:OUTPUT_CAP]})}
    return out


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return _json(content)


def _json(value: Any) -> str:
    return json.dumps(value, default=repr, ensure_ascii=False)
