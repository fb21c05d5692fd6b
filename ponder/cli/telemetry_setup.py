"""The front ends' OpenTelemetry SDK setup: an OTLP/HTTP exporter when one is configured.

The CLI, ``ponder serve`` and ``ponder ui`` are applications, so they (not the library) own the
SDK. A collector is configured by the standard variables (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_SERVICE_NAME``;
``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` switch it off) or by the
``[telemetry]`` table of ``ponder.toml``. With neither, :func:`install` returns without
importing the SDK, so nothing is exported and startup stays fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ponder.config import Config, TelemetryConfig

TRACES_PATH = "/v1/traces"
_installed: list[Any] = []


@dataclass(frozen=True)
class Collector:
    """Where spans go: a full OTLP/HTTP traces URL (None: the exporter reads ``OTEL_*``)."""

    url: str | None
    headers: dict[str, str] = field(default_factory=dict)
    service_name: str = "ponder"


def traces_url(endpoint: str) -> str:
    """An OTLP/HTTP base URL (``http://host:4318``) as its traces URL; a URL that already
    ends in ``/v1/traces`` is kept."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def collector_for(settings: TelemetryConfig, environ: dict[str, str] | None = None) -> Collector | None:
    """The configured collector, or None when traces go nowhere."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    exporters = {e.strip().lower() for e in env.get("OTEL_TRACES_EXPORTER", "").split(",")}
    if "none" in exporters:
        return None
    if env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return Collector(url=None, service_name=settings.service_name)
    if settings.endpoint:
        return Collector(url=traces_url(settings.endpoint), headers=dict(settings.headers),
                         service_name=settings.service_name)
    return None


def install(config: Config) -> bool:
    """Set up the SDK's global tracer provider with a batching OTLP/HTTP exporter, once per
    process, if a collector is configured and no application has set a provider already.
    Returns whether spans are being exported."""
    from ponder.telemetry import set_capture_content

    set_capture_content(config.telemetry.capture_content)
    if _installed:
        return True
    collector = collector_for(config.telemetry)
    if collector is None:
        return False
    from opentelemetry import trace

    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return True  # the application's own provider already receives ponder's spans
    provider = tracer_provider(collector)
    trace.set_tracer_provider(provider)
    _installed.append(provider)
    return True


def tracer_provider(collector: Collector) -> Any:
    """An SDK ``TracerProvider`` exporting to ``collector`` in batches (flushed at exit)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=resource(collector))
    provider.add_span_processor(BatchSpanProcessor(exporter(collector)))
    return provider


def resource(collector: Collector) -> Any:
    """The service's resource; ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES`` win."""
    from opentelemetry.sdk.resources import Resource

    named = os.environ.get("OTEL_SERVICE_NAME")
    return Resource.create({} if named else {"service.name": collector.service_name})


def exporter(collector: Collector) -> Any:
    """The OTLP/HTTP (protobuf) span exporter for ``collector``."""
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError:
        from ponder.errors import ConfigError

        raise ConfigError("exporting traces needs the OpenTelemetry SDK: pip install "
                          "'ponder[otel]' (or unset OTEL_EXPORTER_OTLP_ENDPOINT and the "
                          "[telemetry] endpoint)") from None
    if collector.url is None:
        return OTLPSpanExporter()
    return OTLPSpanExporter(endpoint=collector.url, headers=collector.headers or None)


def shutdown() -> None:
    """Flush and close the exporter installed by :func:`install` (also done at exit)."""
    while _installed:
        _installed.pop().shutdown()
