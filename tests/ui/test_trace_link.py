"""The trace page links to the same trace in the collector's UI when ``[telemetry]
viewer_url`` is set and the run was traced (its events carry the trace id)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ponder.store import Store
from ponder.telemetry import trace_url
from ponder.types import Problem, TraceEvent

APP = Path(__file__).resolve().parents[2] / "ui" / "main.py"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _store(path: Path, otel: dict | None) -> str:
    store = Store(path)
    run = store.create_run(name=None, kind="solve", strategies=["cot"], config={})
    problem = Problem(id="q1", question="What is 1 + 1?")
    store.add_problem(run.id, problem)
    outputs = {"answer": "2", **({"otel": otel} if otel else {})}
    store.add_event(TraceEvent(run_id=run.id, problem_id="q1", strategy="cot", node="problem",
                               outputs=outputs))
    return run.id


def _buttons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, otel: dict | None,
             viewer: str | None) -> list:
    monkeypatch.chdir(tmp_path)
    if viewer:
        (tmp_path / "ponder.toml").write_text(f'[telemetry]\nviewer_url = "{viewer}"\n')
    run_id = _store(tmp_path / "s.db", otel)
    monkeypatch.setenv("PONDER_STORE", str(tmp_path / "s.db"))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    at.query_params.update({"run": run_id})
    at.switch_page("trace_page.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return [b for b in at.get("link_button")]


def test_trace_page_links_to_phoenix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [button] = _buttons(tmp_path, monkeypatch, {"trace_id": TRACE, "span_id": "00f067aa0ba902b7"},
                        "http://127.0.0.1:6006")
    assert button.proto.url == f"http://127.0.0.1:6006/redirects/traces/{TRACE}"


def test_no_link_without_a_traced_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _buttons(tmp_path, monkeypatch, None, "http://127.0.0.1:6006") == []


def test_trace_url_forms() -> None:
    events = [TraceEvent(run_id="r", problem_id="p", node="n",
                         outputs={"otel": {"trace_id": TRACE}})]
    assert trace_url("https://lf.example/project/x/traces/{trace_id}", events) == \
        f"https://lf.example/project/x/traces/{TRACE}"
    assert trace_url(None, events) is None
    forged = [TraceEvent(run_id="r", problem_id="p", node="n",
                         outputs={"otel": {"trace_id": "../../admin"}})]
    assert trace_url("http://127.0.0.1:6006", forged) is None
