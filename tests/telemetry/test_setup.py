"""The front ends' SDK setup: nothing configured means no SDK import and no network; the
``[telemetry]`` table and the ``OTEL_*`` variables pick the collector."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ponder.telemetry.collector import collector_for, traces_url
from ponder.config import TelemetryConfig, load_config
from ponder.errors import ConfigError

# Runs `ponder solve` in a fresh interpreter with a scripted model, every socket connection
# recorded, and for every OpenTelemetry SDK or exporter module the module that imported it.
CHILD = r'''
import json, socket, sys
dialled, importers = [], {}
_connect = socket.socket.connect
def connect(self, address):
    if self.family != socket.AF_UNIX:
        dialled.append(repr(address))
    return _connect(self, address)
socket.socket.connect = connect

class Watch:
    def find_spec(self, name, path=None, target=None):
        if name.startswith(("opentelemetry.sdk", "opentelemetry.exporter")):
            frame = sys._getframe(1)
            while frame and (frame.f_code.co_filename.startswith("<frozen")
                             or frame.f_globals.get("__name__", "").startswith("importlib")):
                frame = frame.f_back
            importers.setdefault(name, frame.f_globals.get("__name__") if frame else None)
        return None
sys.meta_path.insert(0, Watch())

from ponder.scripted import register_script
register_script("nosdk", lambda messages, index: "Answer: 4")
from ponder.cli import app
try:
    app(sys.argv[1:], standalone_mode=False)
finally:
    from opentelemetry import trace
    print("\nREPORT " + json.dumps({
        "importers": importers, "dialled": dialled,
        "provider": type(trace.get_tracer_provider()).__name__,
        "exporters": sorted(m for m in sys.modules if m.startswith("opentelemetry.exporter"))}))
'''


def _child(tmp_path: Path, env: dict[str, str]) -> dict:
    config = tmp_path / "ponder.toml"
    config.write_text('[roles.reasoner]\nmodel = "scripted/nosdk"\n'
                      '[roles.standard]\nmodel = "scripted/nosdk"\n')
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LANGSMITH_",
                                                                         "LANGCHAIN_"))}
    out = subprocess.run(
        [sys.executable, "-c", CHILD, "solve", "What is 2 + 2?", "-s", "cot", "-n", "1",
         "--config", str(config), "--store", str(tmp_path / "s.db"), "--json"],
        env={**clean, **env}, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    report = out.stdout.rsplit("REPORT ", 1)[1]
    answer = json.loads(out.stdout.split("\nREPORT ")[0])["answer"]
    return {**json.loads(report), "answer": answer}


def test_nothing_configured_no_sdk_and_no_network(tmp_path: Path) -> None:
    """ponder neither imports nor installs the SDK: no provider, no exporter, no connection.
    (The one SDK import in such a process is LangSmith's client probing for
    ``opentelemetry.sdk.trace`` when LangGraph imports it; ponder's code never does.)"""
    report = _child(tmp_path, {})
    assert report["answer"] == "4"
    assert report["provider"] == "ProxyTracerProvider"
    assert report["exporters"] == []
    outside = {by for by in report["importers"].values() if not by.startswith("opentelemetry")}
    assert outside <= {"langsmith.client"}, report["importers"]
    assert report["dialled"] == []


def test_help_imports_no_opentelemetry() -> None:
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "ponder", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    imported = [line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()]
    assert "ponder.cli" in imported
    assert not [m for m in imported if m.startswith(("opentelemetry", "openinference",
                                                      "langsmith"))]


def test_a_configured_endpoint_loads_the_sdk(tmp_path: Path) -> None:
    """The same child with an endpoint set (nothing listens there: export fails quietly in
    the background, the solve still succeeds) does load the SDK: the check above can fail."""
    report = _child(tmp_path, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
                               "OTEL_EXPORTER_OTLP_TIMEOUT": "1"})
    assert report["answer"] == "4"
    assert report["provider"] == "TracerProvider"
    assert "opentelemetry.exporter.otlp.proto.http.trace_exporter" in report["exporters"]
    assert report["importers"]["opentelemetry.exporter.otlp.proto.http.trace_exporter"] == \
        "ponder.cli.telemetry_setup"  # the application, not the library


def test_collector_choice() -> None:
    table = TelemetryConfig(endpoint="http://127.0.0.1:6006/", headers={"api_key": "k"})
    assert collector_for(TelemetryConfig(), {}) is None
    chosen = collector_for(table, {})
    assert chosen is not None and chosen.url == "http://127.0.0.1:6006/v1/traces"
    assert chosen.headers == {"api_key": "k"}
    # The standard variables win over the table; the exporter then reads them itself.
    assert collector_for(table, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}).url is None
    assert collector_for(table, {"OTEL_SDK_DISABLED": "true"}) is None
    assert collector_for(table, {"OTEL_TRACES_EXPORTER": "none"}) is None
    assert traces_url("http://c:4318/v1/traces") == "http://c:4318/v1/traces"


def test_telemetry_table_in_ponder_toml(tmp_path: Path) -> None:
    path = tmp_path / "ponder.toml"
    path.write_text('[telemetry]\nendpoint = "http://127.0.0.1:6006"\ncapture_content = false\n'
                    'viewer_url = "http://127.0.0.1:6006"\n')
    telemetry = load_config(path).telemetry
    assert (telemetry.endpoint, telemetry.capture_content) == ("http://127.0.0.1:6006", False)
    path.write_text('[telemetry]\nendpiont = "http://x"\n')
    with pytest.raises(ConfigError, match="endpiont"):
        load_config(path)
