"""Links from ponder's views to the same trace in a collector's UI ("open in Phoenix")."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ponder.types import TraceEvent

_TRACE_ID = re.compile(r"[0-9a-f]{32}")


def trace_url(viewer: str | None, events: Iterable[TraceEvent]) -> str | None:
    """The collector UI's page of the trace these events were recorded with, or None.

    ``viewer`` is ``[telemetry] viewer_url``: a URL with a ``{trace_id}`` placeholder (Langfuse:
    ``https://cloud.langfuse.com/project/ID/traces/{trace_id}``), or Phoenix's base URL, whose
    ``/redirects/traces/<trace id>`` route finds the trace in whichever project holds it.

    >>> trace_url("http://127.0.0.1:6006", events)
    'http://127.0.0.1:6006/redirects/traces/4bf92f3577b34da6a3ce929d0e0e4736'
    """
    if not viewer:
        return None
    for event in events:
        recorded = event.outputs.get("otel")
        trace_id = recorded.get("trace_id") if isinstance(recorded, dict) else None
        if isinstance(trace_id, str) and _TRACE_ID.fullmatch(trace_id):
            if "{trace_id}" in viewer:
                return viewer.replace("{trace_id}", trace_id)
            return f"{viewer.rstrip('/')}/redirects/traces/{trace_id}"
    return None
