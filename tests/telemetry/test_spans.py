"""ponder's OpenTelemetry spans as a library sees them: an application with its own tracer
provider (an in-memory exporter) gets ponder's solve as children of its active span, with the
same parentage as ponder's stored trace events, LLM spans that add up to the run's usage,
sandbox TOOL spans and the verdict on the root."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

import ponder
from ponder.scripted import register_script
from ponder.store import Store
from ponder.telemetry import set_capture_content
from ponder.verdict import verdict_of


def add(messages: list[dict[str, str]], index: int) -> str:
    text = messages[-1]["content"]
    a, b = map(int, re.findall(r"(\d+) \+ (\d+)", text)[-1])
    if "python" in text.lower():
        # the second program is wrong: the vote and the verdict have something to weigh
        return f"```python\nprint({a} + {b + (index % 2)})\n```"
    return f"{a} + {b} = {a + b}.\nAnswer: {a + b}"


def _set_provider(provider: TracerProvider | None) -> None:
    """Replace the process's global tracer provider (OpenTelemetry sets it once per process;
    its own tests reset these globals the same way)."""
    trace._TRACER_PROVIDER_SET_ONCE = Once()  # type: ignore[attr-defined]
    trace._TRACER_PROVIDER = None  # type: ignore[attr-defined]
    if provider is not None:
        trace.set_tracer_provider(provider)


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    _set_provider(provider)
    yield exporter
    provider.shutdown()
    _set_provider(None)
    set_capture_content(True)


def _kind(span) -> str:
    return span.attributes.get("openinference.span.kind", "")


def test_spans_nest_under_the_applications_span(exported, scripted_config) -> None:
    config = scripted_config(register_script("otel-add", add))
    with trace.get_tracer("my-app").start_as_current_span("handle request") as mine:
        result = ponder.solve("What is 2 + 3?", strategy="pot", samples=3, config=config,
                              early_stop=False)
    spans = exported.get_finished_spans()
    app = mine.get_span_context()
    assert {s.context.trace_id for s in spans} == {app.trace_id}
    [root] = [s for s in spans if s.name == "ponder.solve pot"]
    assert root.parent.span_id == app.span_id
    assert root.attributes["ponder.run_id"] == result.run_id
    assert root.attributes["session.id"] == result.run_id
    assert root.attributes["ponder.verdict"] == verdict_of(result).label
    assert root.attributes["ponder.answer"] == result.answer == "5"
    assert root.attributes["ponder.confidence"] == pytest.approx(result.confidence)
    assert root.attributes["ponder.stop_reason"] == result.stopped

    # Node spans: the same tree as the stored trace events (parent event -> parent span).
    events = Store(config.store).events(result.run_id)
    by_event = {s.attributes["ponder.event_id"]: s for s in spans if "ponder.event_id" in s.attributes}
    assert set(by_event) == {e.id for e in events}
    for event in events:
        span = by_event[event.id]
        parent = by_event[event.parent_id] if event.parent_id else root
        assert span.name == event.node
        assert span.parent.span_id == parent.context.span_id
        assert event.outputs["otel"]["span_id"] == trace.format_span_id(span.context.span_id)
        assert event.outputs["otel"]["trace_id"] == trace.format_trace_id(app.trace_id)
    dispatch = next(s for s in spans if s.name == "dispatch")
    assert sum(1 for s in spans if s.name == "code" and s.parent.span_id == dispatch.context.span_id) == 3

    # LLM spans: one per model call, under the node that made it, adding up to the usage.
    llm = [s for s in spans if _kind(s) == "LLM"]
    assert len(llm) == result.usage.calls == 3
    assert all(by_id(spans, s.parent.span_id).name == "code" for s in llm)
    assert sum(s.attributes["llm.token_count.prompt"] for s in llm) == result.usage.prompt_tokens
    assert sum(s.attributes["llm.token_count.completion"] for s in llm) == result.usage.completion_tokens
    first = llm[0].attributes
    assert first["llm.model_name"] == "scripted/otel-add" and first["llm.provider"] == "scripted"
    assert "What is 2 + 3?" in first["llm.input_messages.0.message.content"] or any(
        "What is 2 + 3?" in v for k, v in first.items() if k.startswith("llm.input_messages"))
    assert first["llm.output_messages.0.message.content"].startswith("```python")

    # TOOL spans: one per program run, with the sandbox's outcome.
    tools = [s for s in spans if _kind(s) == "TOOL"]
    assert len(tools) == 3
    assert {s.attributes["ponder.sandbox.status"] for s in tools} == {"ok"}
    assert sorted(s.attributes["ponder.sandbox.stdout"] for s in tools) == ["5\n", "5\n", "6\n"]
    assert all(by_id(spans, s.parent.span_id).name == "execute" for s in tools)


def by_id(spans, span_id):
    return next(s for s in spans if s.context.span_id == span_id)


def test_content_capture_off_keeps_text_out(exported, scripted_config) -> None:
    config = scripted_config(register_script("otel-add", add))
    set_capture_content(False)
    result = ponder.solve("What is 4 + 4?", strategy="pot", samples=2, config=config)
    spans = exported.get_finished_spans()
    assert len([s for s in spans if _kind(s) == "LLM"]) == 2
    texts = [str(v) for s in spans for v in s.attributes.values()]
    assert not [t for t in texts if "4 + 4" in t or "print(" in t]
    keys = {k for s in spans for k in s.attributes}
    assert not {k for k in keys if k.startswith(("llm.input_messages", "llm.output_messages",
                                                 "input.value", "output.value"))}
    llm = [s for s in spans if _kind(s) == "LLM"]
    assert sum(s.attributes["llm.token_count.total"] for s in llm) == result.usage.total_tokens


async def test_build_graph_without_a_solve_still_nests(exported, scripted_config) -> None:
    """A graph run by the application itself (no ponder root): nodes hang under its span."""
    config = scripted_config(register_script("otel-add", add))
    graph = ponder.build_graph("cot", config, options=ponder.SolveOptions(samples=2))
    with trace.get_tracer("my-app").start_as_current_span("job") as mine:
        await graph.ainvoke({"problem": ponder.Problem(question="What is 1 + 1?")})
    spans = exported.get_finished_spans()
    nodes = [s for s in spans if "ponder.node" in s.attributes]
    firsts = [s for s in nodes if s.parent.span_id == mine.get_span_context().span_id]
    assert len(firsts) == 1
    assert firsts[0].start_time == min(s.start_time for s in nodes)
    ids = {s.context.span_id for s in spans}
    assert all(s.parent.span_id in ids for s in nodes)


def test_each_serve_request_is_one_trace(exported, scripted_config) -> None:
    """``ponder serve`` runs requests through the same lifecycle: one trace per request, its
    root carrying the run id the response names."""
    import json
    import urllib.request

    from ponder.serve import BackgroundServer, ServeSettings

    config = scripted_config(register_script("otel-serve", lambda m, i: "The answer is 42."))
    with BackgroundServer(config, ServeSettings(api_keys=("sk-otel",))) as server:
        request = urllib.request.Request(
            server.base_url + "/chat/completions", method="POST",
            headers={"Authorization": "Bearer sk-otel", "Content-Type": "application/json"},
            data=json.dumps({"model": "self-consistency@2", "messages": [
                {"role": "user", "content": "What is 6 * 7?"}]}).encode())
        with urllib.request.urlopen(request, timeout=60) as reply:
            run_id = reply.headers["x-ponder-run-id"]
            assert "The answer is 42." in json.loads(reply.read())["choices"][0]["message"]["content"]
    spans = exported.get_finished_spans()
    [root] = [s for s in spans if s.name == "ponder.solve self-consistency"]
    assert root.parent is None and root.attributes["ponder.run_id"] == run_id
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    assert len([s for s in spans if _kind(s) == "LLM"]) == 2
