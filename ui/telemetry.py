"""The UI's OpenTelemetry SDK setup: runs started on the Solve page are exported when a
collector is configured (see :mod:`ponder.telemetry.collector`); with none, no SDK import.
The UI is an application of its own (a Streamlit process), so it sets up its own exporter."""

from __future__ import annotations

from ponder.config import Config
from ponder.telemetry.collector import wanted


def install(config: Config) -> bool:
    """A batching OTLP/HTTP exporter on the global tracer provider, once per process."""
    collector = wanted(config)
    if collector is None:
        return False
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create(collector.resource_attributes()))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(
        **collector.exporter_options())))
    trace.set_tracer_provider(provider)
    return True
