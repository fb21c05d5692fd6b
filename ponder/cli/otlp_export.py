"""``ponder export RUN --format otlp``: a stored run's traces, sent to an OTLP collector.

Every solved problem of the run becomes one trace, rebuilt from its stored trace events with
their original timestamps: the solve's root span (answer, verdict, confidence, correctness),
a span per node under its parent event's, and the model-call and sandbox spans recorded with
each node when the run was traced live. A run that was traced live keeps its trace and span
ids, so links to the collector made then still point at the same spans; an older run gets
ids derived from its event ids (the same ones on every replay).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from ponder.cli.telemetry_setup import exporter, resource
from ponder.config import Config
from ponder.errors import ConfigError, PonderError
from ponder.store import Store
from ponder.telemetry import attributes as attrs
from ponder.telemetry.collector import Collector, collector_for, traces_url
from ponder.types import Problem, Result, TraceEvent

BATCH = 512


def export_otlp(store: Store, run_ref: str, config: Config, *, endpoint: str | None = None,
                strategy: str | None = None) -> tuple[int, int]:
    """Send the run's traces to ``endpoint`` (or the configured collector); returns
    (traces, spans) sent."""
    from opentelemetry.sdk.trace.export import SpanExportResult

    collector = _collector(config, endpoint)
    run = store.require_run(run_ref)
    sink = exporter(collector)
    traces = spans = 0
    try:
        batch: list[Any] = []
        for tree in run_spans(store, run.id, resource(collector), strategy=strategy):
            traces += 1
            batch.extend(tree)
            if len(batch) >= BATCH:
                spans += _send(sink, batch, collector, SpanExportResult.SUCCESS)
                batch = []
        if batch:
            spans += _send(sink, batch, collector, SpanExportResult.SUCCESS)
    finally:
        sink.shutdown()
    return traces, spans


def _collector(config: Config, endpoint: str | None) -> Collector:
    if endpoint:
        return Collector(url=traces_url(endpoint), headers=dict(config.telemetry.headers),
                         service_name=config.telemetry.service_name)
    found = collector_for(config.telemetry)
    if found is None:
        raise ConfigError("no collector to send the traces to: pass --endpoint URL (an "
                          "OTLP/HTTP endpoint, e.g. Phoenix's http://127.0.0.1:6006), or set "
                          "OTEL_EXPORTER_OTLP_ENDPOINT or [telemetry] endpoint in ponder.toml")
    return found


def _send(sink: Any, spans: list[Any], collector: Collector, ok: Any) -> int:
    if sink.export(spans) != ok:
        where = collector.url or "the OTEL_EXPORTER_OTLP_* endpoint"
        raise PonderError(f"the collector at {where} did not accept the spans; check that it "
                          "is running and takes OTLP over HTTP (protobuf), then export again")
    return len(spans)


def run_spans(store: Store, run_id: str, resource: Any, *,
              strategy: str | None = None) -> Iterator[list[Any]]:
    """One list of SDK ``ReadableSpan`` per (problem, strategy) of the run: its trace."""
    groups: dict[tuple[str, str], list[TraceEvent]] = defaultdict(list)
    for event in store.events(run_id, strategy=strategy):
        groups[(event.problem_id, event.strategy)].append(event)
    for (problem_id, name), events in groups.items():
        problem = store.problem(run_id, problem_id) or Problem(id=problem_id, question="")
        result = store.result(run_id, problem_id, name)
        yield problem_trace(run_id, problem, name, events, result, resource)


def problem_trace(run_id: str, problem: Problem, strategy: str, events: list[TraceEvent],
                  result: Result | None, resource: Any) -> list[Any]:
    """The spans of one solve: root, nodes (parent = parent event's span), recorded calls."""
    recorded = [e.outputs.get("otel") or {} for e in events]
    trace_id = next((int(r["trace_id"], 16) for r in recorded if r.get("trace_id")),
                    _derived(f"{run_id}/{problem.id}/{strategy}", 128))
    firsts = [r.get("parent_span_id") for e, r in zip(events, recorded) if e.parent_id is None]
    root_id = int(firsts[0], 16) if firsts and firsts[0] else _derived(f"{trace_id}/root", 64)
    ids = {e.id: int(r["span_id"], 16) if r.get("span_id") else _derived(e.id, 64)
           for e, r in zip(events, recorded)}
    make = _Maker(trace_id, resource)
    root_attrs = attrs.solve_attributes(problem, strategy, run_id)
    if result is not None:
        root_attrs |= attrs.result_attributes(result)
    spans = [make(f"ponder.solve {strategy}", root_id, None, root_attrs,
                  min(e.started_at for e in events), max(e.ended_at for e in events),
                  error=None if result is not None else "the problem has no stored result")]
    for event, record in zip(events, recorded):
        span_id = ids[event.id]
        parent = ids.get(event.parent_id or "", root_id)
        error = event.outputs.get("error")
        spans.append(make(event.node, span_id, parent, attrs.node_attributes(event),
                          event.started_at, event.ended_at,
                          error=error if isinstance(error, str) else None))
        for child in record.get("spans") or []:
            spans.append(make(child["name"], int(child["span_id"], 16), span_id,
                              child.get("attributes") or {}, child["started_at"],
                              child["ended_at"], error=child.get("error"), client=True))
    return spans


def _derived(key: str, bits: int) -> int:
    """A stable nonzero id of ``bits`` bits from ``key`` (the same on every replay)."""
    value = int.from_bytes(hashlib.sha256(key.encode()).digest()[: bits // 8], "big")
    return value or 1


class _Maker:
    """Builds finished SDK spans of one trace with given ids and times."""

    def __init__(self, trace_id: int, resource: Any):
        from opentelemetry.sdk.util.instrumentation import InstrumentationScope

        self.trace_id, self.resource = trace_id, resource
        self.scope = InstrumentationScope("ponder")

    def __call__(self, name: str, span_id: int, parent: int | None, attributes: dict[str, Any],
                 started: float, ended: float, *, error: str | None = None,
                 client: bool = False) -> Any:
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.trace import SpanKind, Status, StatusCode

        status = Status(StatusCode.ERROR, error) if error else Status(StatusCode.OK)
        return ReadableSpan(
            name=name, context=self._context(span_id),
            parent=self._context(parent) if parent is not None else None,
            resource=self.resource, attributes=attributes, status=status,
            kind=SpanKind.CLIENT if client else SpanKind.INTERNAL,
            start_time=int(started * 1e9), end_time=int(ended * 1e9),
            instrumentation_scope=self.scope)

    def _context(self, span_id: int) -> Any:
        from opentelemetry.trace import SpanContext, TraceFlags

        return SpanContext(self.trace_id, span_id, is_remote=False,
                           trace_flags=TraceFlags(TraceFlags.SAMPLED))
