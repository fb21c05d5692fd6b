"""Traces leaving ponder over OTLP/HTTP, received by a real protobuf receiver on 127.0.0.1:
``ponder solve`` (the embedded model) as one trace, ``ponder batch`` of 3 as 3 traces, and
``ponder export RUN --format otlp`` replaying a stored run as the same trees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ponder.store import Store
from ponder.verdict import verdict_of

SCRIPTED = r'''
import re, sys
from ponder.scripted import register_script

def add(messages, index):
    a, b = map(int, re.findall(r"(\d+) \+ (\d+)", messages[-1]["content"])[-1])
    if "python" in messages[-1]["content"].lower():
        return f"```python\nprint({a} + {b})\n```"
    return f"Answer: {a + b}"

register_script("otlp-add", add)
from ponder.cli import main
sys.argv[0] = "ponder"
main()
'''


def _env(receiver, **extra: str) -> dict[str, str]:
    return {**_plain_env(), "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_SERVICE_NAME": "ponder-test",
            **extra}


def _plain_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LANGSMITH_"))}


def _ponder(args: list[str], env: dict[str, str], cwd: Path, *, scripted: bool = False,
            timeout: float = 600) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", SCRIPTED, *args] if scripted else \
        [sys.executable, "-m", "ponder", *args]
    out = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def _tree(spans) -> set[tuple[str, str | None, str]]:
    return {(s.span_id, s.parent_id, s.name) for s in spans}


def _check_trace(spans, result, events) -> None:
    """One trace whose root carries the result and whose nodes follow the stored events."""
    assert len({s.trace_id for s in spans}) == 1
    [root] = [s for s in spans if s.parent_id is None]
    assert root.name == f"ponder.solve {result.strategy}"
    assert root.attributes["ponder.verdict"] == verdict_of(result).label
    assert root.attributes["ponder.run_id"] == result.run_id
    assert root.attributes["ponder.problem_id"] == result.problem_id
    assert root.attributes["ponder.stop_reason"] == (result.stopped or "")
    assert root.attributes["ponder.confidence"] == pytest.approx(result.confidence)
    by_event = {s.attributes["ponder.event_id"]: s for s in spans if "ponder.event_id" in s.attributes}
    assert set(by_event) == {e.id for e in events}
    for event in events:
        parent = by_event[event.parent_id] if event.parent_id else root
        assert by_event[event.id].parent_id == parent.span_id
        assert by_event[event.id].name == event.node
    llm = [s for s in spans if s.span_kind == "LLM"]
    assert len(llm) >= 1
    assert sum(s.attributes["llm.token_count.prompt"] for s in llm) == result.usage.prompt_tokens
    assert sum(s.attributes["llm.token_count.completion"] for s in llm) == result.usage.completion_tokens
    tools = [s for s in spans if s.span_kind == "TOOL"]
    assert tools and all(s.attributes["ponder.sandbox.backend"] == "local" for s in tools)
    ids = {s.span_id for s in spans}
    assert all(s.parent_id in ids for s in spans if s is not root)


@pytest.mark.slow
def test_embedded_solve_is_one_trace_and_replays_the_same(receivers, tmp_path: Path) -> None:
    receiver = receivers()
    store = tmp_path / "s.db"
    out = _ponder(["solve", "What is 6 * 7?", "-s", "pot", "-n", "2", "--no-early-stop",
                   "--store", str(store), "--json"], _env(receiver), tmp_path)
    run_id = json.loads(out.stdout)["run_id"]
    receiver.wait_for(1)
    db = Store(store)
    [result] = list(db.results(run_id))
    live = receiver.spans
    _check_trace(live, result, db.events(run_id))
    assert {s.service for s in live} == {"ponder-test"}
    assert result.usage.calls == len([s for s in live if s.span_kind == "LLM"]) == 2
    llm = next(s for s in live if s.span_kind == "LLM")
    assert llm.attributes["llm.model_name"].startswith("local/")
    assert "6 * 7" in json.dumps(llm.attributes)

    # The stored run, replayed to another collector: the same tree, ids and node times.
    again = receivers()
    sent = _ponder(["export", run_id, "--format", "otlp", "--endpoint", again.url,
                    "--store", str(store)], _env(again), tmp_path)
    assert "sent 1 traces" in sent.stderr
    assert _tree(again.spans) == _tree(live)
    _check_trace(again.spans, result, db.events(run_id))
    times = {s.span_id: (s.start_ns, s.end_ns) for s in live if s.parent_id}
    for span in again.spans:
        if span.span_id in times:
            start, end = times[span.span_id]
            assert abs(span.start_ns - start) < 2_000 and abs(span.end_ns - end) < 2_000


def _batch(tmp_path: Path, receiver) -> tuple[Path, str]:
    config = tmp_path / "ponder.toml"
    config.write_text('[roles.reasoner]\nmodel = "scripted/otlp-add"\n'
                      '[roles.standard]\nmodel = "scripted/otlp-add"\n')
    data = tmp_path / "add.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + 2?",
                                        "answer": str(i + 2 if i else 99)}) + "\n"
                            for i in range(3)))
    store = tmp_path / "s.db"
    env = _env(receiver) if receiver is not None else _plain_env()
    out = _ponder(["batch", str(data), "-s", "pot", "-n", "2", "--run", "three", "--json",
                   "--config", str(config), "--store", str(store)],
                  env, tmp_path, scripted=True, timeout=300)
    assert json.loads(out.stdout)["solved"] == 3
    return store, Store(store).require_run("three").id


def test_batch_of_three_is_three_traces_and_replays(receivers, tmp_path: Path) -> None:
    receiver = receivers()
    store, run_id = _batch(tmp_path, receiver)
    receiver.wait_for(3)
    traces = receiver.traces()
    assert len(traces) == 3
    db = Store(store)
    results = {r.problem_id: r for r in db.results(run_id)}
    for spans in traces.values():
        [root] = [s for s in spans if s.parent_id is None]
        result = results[root.attributes["ponder.problem_id"]]
        _check_trace(spans, result, db.events(run_id, result.problem_id))
        # each trace is linked to the batch run (a Phoenix session) and says if it was right
        assert root.attributes["session.id"] == run_id
        assert root.attributes["ponder.correct"] is result.correct
        assert root.attributes["ponder.reference"] == result.reference
    assert sorted(r.correct for r in results.values()) == [False, True, True]

    again = receivers()
    sent = _ponder(["export", "three", "--format", "otlp", "--endpoint", again.url,
                    "--store", str(store)], _env(again), tmp_path)
    assert "sent 3 traces" in sent.stderr
    assert _tree(again.spans) == _tree(receiver.spans)


def test_replay_of_a_run_traced_without_a_collector(receivers, tmp_path: Path) -> None:
    """A run recorded with nothing configured has no span ids: the replay derives them from
    the event ids (the same on every replay) and keeps ponder's tree."""
    store, run_id = _batch(tmp_path, None)
    db = Store(store)
    assert not [e for e in db.events(run_id) if "otel" in e.outputs]
    first, second = receivers(), receivers()
    for target in (first, second):
        _ponder(["export", run_id, "--format", "otlp", "--endpoint", target.url,
                 "--store", str(store)], _plain_env(), tmp_path)
    assert _tree(first.spans) == _tree(second.spans)
    results = {r.problem_id: r for r in db.results(run_id)}
    for spans in first.traces().values():
        [root] = [s for s in spans if s.parent_id is None]
        result = results[root.attributes["ponder.problem_id"]]
        events = db.events(run_id, result.problem_id)
        by_event = {s.attributes["ponder.event_id"]: s for s in spans if "ponder.event_id" in s.attributes}
        assert set(by_event) == {e.id for e in events}
        for event in events:
            parent = by_event[event.parent_id] if event.parent_id else root
            assert by_event[event.id].parent_id == parent.span_id
        assert root.attributes["ponder.verdict"] == verdict_of(result).label


def test_export_otlp_without_a_collector_says_what_to_do(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "ponder", "export", "three", "--format", "otlp",
                          "--store", str(tmp_path / "s.db")], env=_plain_env(), cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2
    assert "pass --endpoint URL" in out.stderr


class _At:
    def __init__(self, url: str):
        self.url = url


def _phoenix_spans(url: str, project: str) -> list[dict]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/v1/projects/{project}/spans?limit=1000",
                                    timeout=10) as reply:
            return json.loads(reply.read())["data"]
    except urllib.error.HTTPError as exc:
        if exc.code == 404:  # the project appears with its first span
            return []
        raise


@pytest.fixture
def phoenix(tmp_path: Path):
    """Arize Phoenix on 127.0.0.1, if its ``phoenix`` command is here (it is heavy and pins
    much of what ponder uses: install it in a venv of its own and set PONDER_PHOENIX to its
    ``bin/phoenix``)."""
    import shutil
    import socket
    import time
    import urllib.request

    command = os.environ.get("PONDER_PHOENIX") or shutil.which("phoenix")
    if not command:
        pytest.skip("Arize Phoenix is not installed (set PONDER_PHOENIX=/path/to/bin/phoenix)")
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    work = tmp_path / "phoenix"
    work.mkdir()
    env = {**_plain_env(), "PHOENIX_WORKING_DIR": str(work), "PHOENIX_HOST": "127.0.0.1",
           "PHOENIX_PORT": str(ports[0]), "PHOENIX_GRPC_PORT": str(ports[1])}
    log = (work / "server.log").open("w")
    server = subprocess.Popen([command, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    url = f"http://127.0.0.1:{ports[0]}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2):
                    break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, \
                    (work / "server.log").read_text()[-3000:]
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        log.close()


@pytest.mark.slow
def test_phoenix_shows_each_problem_as_a_tree(phoenix: str, tmp_path: Path) -> None:
    """The real collector: a batch of 3 arrives in Phoenix as 3 trees with LLM spans, token
    counts and the verdict; an old run (no span ids) replayed lands in a project of its own."""
    import time

    live = tmp_path / "live"
    live.mkdir()
    store, run_id = _batch(live, _At(phoenix))
    deadline = time.monotonic() + 30
    while len([s for s in _phoenix_spans(phoenix, "default") if s["parent_id"] is None]) < 3:
        assert time.monotonic() < deadline, "Phoenix did not show 3 traces"
        time.sleep(0.5)
    spans = _phoenix_spans(phoenix, "default")
    db = Store(store)
    results = {r.problem_id: r for r in db.results(run_id)}
    roots = [s for s in spans if s["parent_id"] is None]
    assert len({s["context"]["trace_id"] for s in spans}) == 3
    for root in roots:
        attributes = root["attributes"]
        result = results[attributes["ponder.problem_id"]]
        assert root["span_kind"] == "CHAIN" and attributes["session.id"] == run_id
        assert attributes["ponder.verdict"] == verdict_of(result).label
        mine = [s for s in spans if s["context"]["trace_id"] == root["context"]["trace_id"]]
        llm = [s for s in mine if s["span_kind"] == "LLM"]
        assert sum(s["attributes"]["llm.token_count.prompt"] for s in llm) == result.usage.prompt_tokens
        assert [s for s in mine if s["span_kind"] == "TOOL"]

    old = tmp_path / "old"
    old.mkdir()
    store, run_id = _batch(old, None)
    _ponder(["export", run_id, "--format", "otlp", "--endpoint", phoenix, "--store", str(store)],
            {**_plain_env(), "OTEL_RESOURCE_ATTRIBUTES": "openinference.project.name=replayed"},
            old)
    deadline = time.monotonic() + 30
    while len(_phoenix_spans(phoenix, "replayed")) < 3:
        assert time.monotonic() < deadline, "Phoenix did not show the replayed run"
        time.sleep(0.5)
    time.sleep(1)
    replayed = _phoenix_spans(phoenix, "replayed")
    assert len([s for s in replayed if s["parent_id"] is None]) == 3
    assert len(replayed) == len(spans) - len([s for s in spans if s["span_kind"] in ("LLM", "TOOL")])
