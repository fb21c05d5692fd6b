"""Which collector a front end exports to, decided without the OpenTelemetry SDK.

A collector is configured by the standard variables (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``OTEL_EXPORTER_OTLP_HEADERS``, ``OTEL_SERVICE_NAME``;
``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` switch it off) or by the
``[telemetry]`` table of ``ponder.toml``. The applications (``ponder.cli.telemetry_setup``,
``ponder.ui.telemetry``) set up the SDK only when :func:`wanted` names a collector.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ponder.config import Config, TelemetryConfig

TRACES_PATH = "/v1/traces"


@dataclass(frozen=True)
class Collector:
    """Where spans go: a full OTLP/HTTP traces URL (None: the exporter reads ``OTEL_*``)."""

    url: str | None
    headers: dict[str, str] = field(default_factory=dict)
    service_name: str = "ponder"

    def exporter_options(self) -> dict[str, Any]:
        """Keyword arguments of the SDK's ``OTLPSpanExporter`` (none: it reads ``OTEL_*``)."""
        if self.url is None:
            return {}
        return {"endpoint": self.url, "headers": self.headers or None}

    def resource_attributes(self) -> dict[str, str]:
        """The service name, unless ``OTEL_SERVICE_NAME`` names it (the SDK reads that)."""
        return {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": self.service_name}


def traces_url(endpoint: str) -> str:
    """An OTLP/HTTP base URL (``http://host:4318``) as its traces URL; a URL that already
    ends in ``/v1/traces`` is kept."""
    endpoint = endpoint.rstrip("/")
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint + TRACES_PATH


def collector_for(settings: TelemetryConfig,
                  environ: Mapping[str, str] | None = None) -> Collector | None:
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


def wanted(config: Config) -> Collector | None:
    """The collector an application should set up an exporter for now: None when nothing is
    configured or a tracer provider is already set (the application's own, or one installed
    earlier in this process). Also applies ``[telemetry] capture_content``."""
    from opentelemetry import trace

    from ponder.telemetry.spans import set_capture_content

    set_capture_content(config.telemetry.capture_content)
    collector = collector_for(config.telemetry)
    if collector is None or not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return None
    return collector
