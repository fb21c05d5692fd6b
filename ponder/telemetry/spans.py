"""Live OpenTelemetry spans for ponder's runs, through the OpenTelemetry *API* alone.

The spans go to the global tracer provider: an application that configured OpenTelemetry gets
them inside its own traces, and with no SDK configured they are no-op spans that cost almost
nothing. The tree mirrors ponder's own trace events: one root per problem solve
(:func:`solve_span`), one span per graph node whose parent is the span of the node's parent
event (branches under their ``dispatch``, the next round under the ``vote``), and an LLM or
TOOL span per model call or sandbox run made inside a node.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode

from ponder.telemetry import attributes as attrs
from ponder.types import Completion, ExecResult, Problem, Result, TraceEvent

SCOPE = "ponder"
_MAX_BOOKS = 1024


@dataclass
class _Settings:
    capture_content: bool = True


SETTINGS = _Settings()


def set_capture_content(on: bool) -> None:
    """Whether spans carry content (messages, code, program output, answers); on by default,
    as the OpenInference conventions have it. Front ends set it from ``[telemetry]``."""
    SETTINGS.capture_content = on


def tracer() -> trace.Tracer:
    return trace.get_tracer(SCOPE)


def hex_ids(context: SpanContext) -> dict[str, str]:
    """A span context as the ids OTLP viewers show: 32 and 16 lowercase hex digits."""
    return {"trace_id": trace.format_trace_id(context.trace_id),
            "span_id": trace.format_span_id(context.span_id)}


@dataclass
class _Book:
    """One problem solve's spans: the root's context and each trace event's span."""

    root: Context | None
    spans: dict[str, SpanContext] = field(default_factory=dict)


_BOOKS: OrderedDict[tuple[str, str, str], _Book] = OrderedDict()
_LOCK = threading.Lock()


def _keep(key: tuple[str, str, str], book: _Book) -> _Book:
    with _LOCK:
        _BOOKS[key] = book
        while len(_BOOKS) > _MAX_BOOKS:
            _BOOKS.popitem(last=False)
    return book


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


class SolveSpan:
    """The root span of one problem solve; :meth:`finish` adds the result's attributes."""

    def __init__(self, span: trace.Span):
        self.span = span

    def finish(self, result: Result) -> None:
        if self.span.is_recording():
            self.span.set_attributes(attrs.result_attributes(
                result, capture=SETTINGS.capture_content))
            self.span.set_status(Status(StatusCode.OK))


@contextmanager
def solve_span(problem: Problem, strategy: str, run_id: str) -> Iterator[SolveSpan]:
    """The root span of one problem solve (kind CHAIN), a child of the caller's active span.

    Node spans of the same (run, problem, strategy) hang under it whatever task or thread
    runs them, so no context has to be attached across the run's awaits.
    """
    span = tracer().start_span(f"ponder.solve {strategy}", attributes=attrs.solve_attributes(
        problem, strategy, run_id, capture=SETTINGS.capture_content))
    key = (run_id, problem.id, strategy)
    if span.is_recording():
        _keep(key, _Book(root=trace.set_span_in_context(span)))
    try:
        yield SolveSpan(span)
    except BaseException as exc:
        _failed(span, exc)
        raise
    finally:
        span.end()
        with _LOCK:
            _BOOKS.pop(key, None)


def _failed(span: trace.Span, exc: BaseException) -> None:
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    if isinstance(exc, Exception):
        span.record_exception(exc)


class NodeSpan:
    """One graph node's span, opened when the node starts and closed with its trace event.

    Its parent is the span of the node's parent event, or the solve's root for the first
    node, or the caller's active span when the graph runs outside a solve (``build_graph``).
    Model calls and sandbox runs inside the node become its children (:meth:`current`).
    """

    def __init__(self, label: str, *, run_id: str, problem_id: str, strategy: str,
                 parent_event: str | None, started: float):
        self.key = (run_id, problem_id, strategy)
        book = _BOOKS.get(self.key)
        parent: Context | None = None
        if book is not None:
            known = book.spans.get(parent_event) if parent_event else None
            parent = trace.set_span_in_context(NonRecordingSpan(known)) if known else book.root
        self.parent = trace.get_current_span(parent).get_span_context()
        self.span = tracer().start_span(label, context=parent, start_time=_ns(started))
        self.children: list[dict[str, Any]] = []

    def current(self) -> Any:
        """Make this span the active one while the node runs (its calls become children)."""
        # The node wrapper records a failure itself (finish), after the span's end.
        return trace.use_span(self.span, end_on_exit=False, record_exception=False,
                              set_status_on_exception=False)

    def finish(self, event: TraceEvent, error: BaseException | None = None) -> dict[str, Any] | None:
        """Close the span at the event's end; returns the ids (and the children's summaries)
        to record with the event, or None when nothing is recording."""
        if self.span.is_recording():
            self.span.set_attributes(attrs.node_attributes(
                event, capture=SETTINGS.capture_content))
        if error is not None:
            _failed(self.span, error)
        self.span.end(end_time=_ns(event.ended_at))
        context = self.span.get_span_context()
        if not context.is_valid:
            return None
        book = _BOOKS.get(self.key) or _keep(self.key, _Book(root=None))
        book.spans[event.id] = context
        record: dict[str, Any] = hex_ids(context)
        if self.parent.is_valid:
            record["parent_span_id"] = trace.format_span_id(self.parent.span_id)
        if self.children:
            record["spans"] = self.children
        return record


class CallSpan:
    """An LLM or TOOL span inside a node; :meth:`set` adds attributes as the call ends.
    Attributes are built only for a recording span (``start`` and ``set`` take functions)."""

    def __init__(self, name: str, start: Callable[[], dict[str, Any]], node: NodeSpan | None):
        self.name, self.node, self.started = name, node, time.time()
        self.span = tracer().start_span(name, kind=SpanKind.CLIENT, start_time=_ns(self.started))
        self.recording = self.span.is_recording()
        self.attributes: dict[str, Any] = {}
        self.set(start)

    def set(self, attributes: Callable[[], Mapping[str, Any]]) -> None:
        if self.recording:
            built = attributes()
            self.attributes.update(built)
            self.span.set_attributes(built)

    def end(self, error: BaseException | None = None) -> None:
        ended = time.time()
        if error is not None:
            _failed(self.span, error)
        self.span.end(end_time=_ns(ended))
        context = self.span.get_span_context()
        if self.node is not None and context.is_valid:
            self.node.children.append({
                "name": self.name, "span_id": trace.format_span_id(context.span_id),
                "started_at": self.started, "ended_at": ended,
                "error": f"{type(error).__name__}: {error}" if error is not None else None,
                "attributes": attrs.without_content(self.attributes)})


@contextmanager
def _call(name: str, start: Callable[[], dict[str, Any]],
          node: NodeSpan | None) -> Iterator[CallSpan]:
    call = CallSpan(name, start, node)
    try:
        yield call
    except BaseException as exc:
        call.end(exc)
        raise
    call.end()


def llm_span(node: NodeSpan | None, *, model: str, provider: str, messages: Any,
             params: Mapping[str, Any]) -> Any:
    """An LLM span around one model call; ``finish(completions)`` on what it yields."""
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    return _call(f"chat {model}", lambda: attrs.llm_request_attributes(
        model, provider, messages, params, capture=SETTINGS.capture_content), node)


def finish_llm(call: CallSpan, completions: list[Completion]) -> None:
    call.set(lambda: attrs.llm_response_attributes(
        completions, capture=SETTINGS.capture_content))


def tool_span(node: NodeSpan | None, *, backend: str, code: str) -> Any:
    """A TOOL span around one sandbox run; ``finish_tool(call, result)`` when it returns."""
    return _call(f"sandbox.{backend}", lambda: attrs.tool_request_attributes(
        backend, code, capture=SETTINGS.capture_content), node)


def finish_tool(call: CallSpan, result: ExecResult) -> None:
    call.set(lambda: attrs.tool_result_attributes(result, capture=SETTINGS.capture_content))
    if result.status != "ok":
        call.span.set_status(Status(StatusCode.ERROR, result.status))
