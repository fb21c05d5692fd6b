"""Traces that leave ponder: OpenTelemetry spans with OpenInference attributes, and LLM runs
for LangChain callbacks (LangSmith).

The library uses the OpenTelemetry API only; the SDK and an exporter are set up by the
applications (``ponder`` CLI, ``ponder serve``, ``ponder ui``: see
``ponder.cli.telemetry_setup``) or by yours:

>>> from opentelemetry import trace
>>> from opentelemetry.sdk.trace import TracerProvider            # your application's choice
>>> trace.set_tracer_provider(TracerProvider())                  # doctest: +SKIP
>>> ponder.solve("What is 6 * 7?", strategy="pot")                # spans under your active span
"""

from ponder.telemetry.links import trace_url
from ponder.telemetry.spans import (
    NodeSpan,
    SolveSpan,
    finish_llm,
    finish_tool,
    llm_span,
    set_capture_content,
    solve_span,
    tool_span,
)

__all__ = ["NodeSpan", "SolveSpan", "finish_llm", "finish_tool", "llm_span",
           "set_capture_content", "solve_span", "tool_span", "trace_url"]
