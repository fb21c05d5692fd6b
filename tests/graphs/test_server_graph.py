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
from ponder.graphs.api import server_graph
from ponder.scripted import register_script

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = '''
import re
from ponder.scripted import register_script


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
    graph = server_graph({"configurable": configurable})
    out = await graph.ainvoke({"question": "What is 20 + 22?"})
    assert (out["answer"], out["verdict"], out["strategy"]) == ("42", "verified", "pot")
    assert out["result"]["samples_used"] >= 1

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


def test_factory_reads_roles_and_strategy(tmp_path: Path) -> None:
    register_script("server-other", lambda messages, index: "Answer: 7")
    graph = server_graph({"configurable": {"config_path": str(_config(tmp_path)),
                                           "strategy": "cot", "samples": 1,
                                           "roles": {"reasoner": "scripted/server-other"}}})
    assert graph.invoke({"question": "What is 3 + 4?"})["answer"] == "7"
    with pytest.raises(ConfigError, match="unknown strategy 'nope'"):
        server_graph({"configurable": {"config_path": str(_config(tmp_path)), "strategy": "nope"}})
    with pytest.raises(ConfigError, match="no question"):
        server_graph({"configurable": {"config_path": str(_config(tmp_path)),
                                       "strategy": "cot"}}).invoke({"question": " "})


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
    cli = shutil.which("langgraph", path=str(Path(sys.executable).parent))
    pytest.importorskip("langgraph_sdk")
    if cli is None or pytest.importorskip("langgraph_api") is None:
        pytest.skip("needs the langgraph extra: pip install 'ponder[langgraph]'")
    config, port = _config(tmp_path), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LANGSMITH_"))}
    env |= {"LANGGRAPH_CLI_NO_ANALYTICS": "1", "LANGSMITH_TRACING": "false"}
    log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(
        [cli, "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port),
         "--config", str(ROOT / "langgraph.json")],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_ready(port, server, tmp_path / "server.log")
        answer, events = _run_client(f"http://127.0.0.1:{port}", config)
        assert answer["answer"] == "42" and answer["verdict"] == "verified"
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
