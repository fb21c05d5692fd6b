"""ponder's strategies for LangGraph Server: the ``langgraph.json`` graph factory builds a
strategy's graph with its dependencies from the run's ``configurable`` keys and runs without
ponder's BoundGraph; ``langgraph dev`` serves it to a ``langgraph_sdk`` client."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ponder.errors import ConfigError
from ponder.graphs.api import build_server_graph, server_graph
from ponder.scripted import register_script
from ponder.types import Result
from ponder.verdict import verdict_of

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = '''
import re
from ponder.scripted import register_script
from ponder.types import Result
from ponder.verdict import verdict_of


def add(messages, index):
    text = messages[-1]["content"]
    a, b = map(int, re.findall(r"(\\d+) \\+ (\\d+)", text)[-1])
    if "python" in text.lower():
        return f"```python\\nprint({a} + {b})\\n```"
    return f"{a} + {b} = {a + b}.\\nAnswer: {a + b}"


register_script("server-add", add)
'''


def _config(tmp_path: Path) -> Path:
    """A ponder.toml whose roles are a scripted model that a plugin file registers."""
    plugin = tmp_path / "server_add_plugin.py"
    plugin.write_text(PLUGIN)
    path = tmp_path / "ponder.toml"
    path.write_text(f'plugins = ["{plugin}"]\nstore = "{tmp_path / "s.db"}"\n'
                    '[roles.reasoner]\nmodel = "scripted/server-add"\nmax_tokens = 64\n'
                    '[roles.standard]\nmodel = "scripted/server-add"\nmax_tokens = 64\n')
    return path


async def test_factory_graph_runs_a_strategy_from_the_config(tmp_path: Path) -> None:
    configurable = {"config_path": str(_config(tmp_path)), "strategy": "pot", "samples": 3}
    graph = await server_graph({"configurable": configurable})  # what LangGraph Server calls
    out = await graph.ainvoke({"question": "What is 20 + 22?"})
    result = Result.model_validate(out["result"])
    assert (out["answer"], out["strategy"], result.answer) == ("42", "pot", "42")
    assert out["verdict"] == verdict_of(result).label
    assert len(result.branches) == result.samples_used >= 2
    assert all(b.execution is not None and b.execution.status == "ok" for b in result.branches)

    # Streaming: the strategy's nodes as subgraph updates, ponder's progress as custom events.
    seen, custom = set(), []
    async for namespace, mode, chunk in graph.astream(
            {"question": "What is 1 + 2?"}, stream_mode=["updates", "custom"], subgraphs=True):
        if mode == "updates":
            seen |= set(chunk)
        else:
            custom.append(type(chunk).__name__)
    assert {"solve", "start", "dispatch", "vote"} <= seen
    assert "RoundStarted" in custom and "NodeFinished" in custom


async def test_factory_reads_roles_and_strategy(tmp_path: Path) -> None:
    register_script("server-other", lambda messages, index: "Answer: 7")
    graph = build_server_graph({"configurable": {"config_path": str(_config(tmp_path)),
                                                 "strategy": "cot", "samples": 1,
                                           "roles": {"reasoner": "scripted/server-other"}}})
    assert (await graph.ainvoke({"question": "What is 3 + 4?"}))["answer"] == "7"
    with pytest.raises(ConfigError, match="unknown strategy 'nope'"):
        build_server_graph({"configurable": {"config_path": str(_config(tmp_path)),
                                             "strategy": "nope"}})
    with pytest.raises(ConfigError, match="no question"):
        await build_server_graph({"configurable": {"config_path": str(_config(tmp_path)),
                                                   "strategy": "cot"}}).ainvoke({"question": " "})


def test_langgraph_json_names_the_factory() -> None:
    spec = json.loads((ROOT / "langgraph.json").read_text())
    module, _, name = spec["graphs"]["ponder"].partition(":")
    assert (module, name) == ("ponder.graphs.api", "server_graph")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_langgraph_dev_serves_pot_to_an_sdk_client(tmp_path: Path) -> None:
    """``langgraph dev`` (langgraph-cli[inmem], the ``langgraph`` extra) loads the repository's
    langgraph.json; a langgraph_sdk client runs ``pot`` on a scripted model and streams it."""
    pytest.importorskip("langgraph_api", reason="needs the langgraph extra: "
                        "pip install 'ponder[langgraph]'")
    cli = shutil.which("langgraph", path=str(Path(sys.executable).parent))
    assert cli is not None, "langgraph-cli is installed with langgraph_api by the extra"
    config, port = _config(tmp_path), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LANGSMITH_"))}
    env |= {"LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGSMITH_TRACING": "false"}
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        # --allow-blocking: the local sandbox sets up a cgroup (mkdir, writes) on the event
        # loop before each program, which langgraph dev's blocking-call detector rejects.
        [cli, "dev", "--no-browser", "--no-reload", "--allow-blocking", "--host", "127.0.0.1",
         "--port", str(port), "--config", str(ROOT / "langgraph.json")],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_ready(port, server, tmp_path / "server.log")
        answer, events = _run_client(f"http://127.0.0.1:{port}", config)
        assert answer["answer"] == "42" and answer["strategy"] == "pot"
        assert answer["verdict"] == verdict_of(Result.model_validate(answer["result"])).label
        assert "custom" in events and "updates" in events
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        log.close()


def _wait_ready(port: int, server: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail("langgraph dev exited:\n" + log.read_text()[-4000:])
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ok", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail("langgraph dev did not answer /ok:\n" + log.read_text()[-4000:])


def _run_client(url: str, config: Path) -> tuple[dict, set[str]]:
    import asyncio

    from langgraph_sdk import get_client

    async def main() -> tuple[dict, set[str]]:
        client = get_client(url=url)
        configurable = {"config_path": str(config), "strategy": "pot", "samples": 3}
        thread = await client.threads.create()
        events: set[str] = set()
        async for part in client.runs.stream(
                thread["thread_id"], "ponder", input={"question": "What is 20 + 22?"},
                config={"configurable": configurable},
                stream_mode=["updates", "custom"], stream_subgraphs=True):
            events.add(re.split(r"[|]", part.event)[0])
        state = await client.threads.get_state(thread["thread_id"])
        return state["values"], events

    return asyncio.run(main())
