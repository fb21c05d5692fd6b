"""The CLI's (and ``ponder serve``'s) OpenTelemetry SDK setup: an OTLP/HTTP exporter when a
collector is configured (see :mod:`ponder.telemetry.collector`). With none, the SDK is not
imported, so nothing is exported and startup stays fast."""

from __future__ import annotations

from typing import Any

from ponder.config import Config
from ponder.telemetry.collector import Collector, wanted


def install(config: Config) -> bool:
    """Set the SDK's global tracer provider with a batching OTLP/HTTP exporter (flushed at
    exit), once per process, when a collector is configured and no provider is set yet.
    Returns whether this call installed one."""
    collector = wanted(config)
    if collector is None:
        return False
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=resource(collector))
    provider.add_span_processor(BatchSpanProcessor(exporter(collector)))
    trace.set_tracer_provider(provider)
    return True


def resource(collector: Collector) -> Any:
    """The service's resource (``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES`` win)."""
    from opentelemetry.sdk.resources import Resource

    return Resource.create(collector.resource_attributes())


def exporter(collector: Collector) -> Any:
    """The OTLP/HTTP (protobuf) span exporter for ``collector``."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        from ponder.errors import ConfigError

        raise ConfigError("exporting traces needs the OpenTelemetry SDK: pip install "
                          "'ponder[otel]' (or unset OTEL_EXPORTER_OTLP_ENDPOINT and the "
                          "[telemetry] endpoint)") from None
    return OTLPSpanExporter(**collector.exporter_options())
