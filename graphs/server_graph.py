"""ponder's strategies as a LangGraph Server graph (``langgraph.json``, ``langgraph dev``).

LangGraph Server calls :func:`server_graph` with each run's config; the strategy, the role
models, the sandbox and the number of samples come from its ``configurable`` keys (set per
assistant or per run), everything else from ``ponder.toml`` in the server's directory. The
graph takes ``{"question": ...}`` (or a whole ``problem``) and returns the answer, its verdict
and the full result; the strategy's own graph runs inside it as a subgraph with the run's
dependencies, so ``stream_mode="custom"`` with ``subgraphs=True`` streams ponder's progress
events and ``"updates"`` each node's step.

>>> # from langgraph_sdk import get_client
>>> graph = build_server_graph({"configurable": {"strategy": "pot"}})   # in-process
>>> # client.runs.wait(None, "ponder", input={"question": "What is 6 * 7?"},
>>> #                  config={"configurable": {"strategy": "pot", "samples": 3}})
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any, TypedDict

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph

from ponder.config import Config, load_config, options_for
from ponder.errors import ConfigError
from ponder.graphs.lifecycle import final_result, prepare
from ponder.telemetry import solve_span
from ponder.types import Problem, new_id

CONFIG_KEYS = ("strategy", "samples", "roles", "sandbox", "config_path", "seed")
"""The ``configurable`` keys :func:`server_graph` reads."""


_BUILT: dict[str, Any] = {}


class ServerInput(TypedDict, total=False):
    question: str
    kind: str
    reference: str
    problem: dict[str, Any]


class ServerOutput(TypedDict, total=False):
    answer: str | None
    confidence: float
    verdict: str
    strategy: str
    run_id: str
    result: dict[str, Any]


class ServerState(ServerInput, ServerOutput, total=False):
    pass


def server_config(configurable: dict[str, Any]) -> Config:
    """The ponder config of one server run: ``ponder.toml`` (or ``config_path``) with the
    run's ``roles`` (``{"reasoner": "openai/o4-mini"}``) and ``sandbox`` backend applied."""
    config = load_config(configurable.get("config_path"))
    roles = configurable.get("roles") or {}
    if not isinstance(roles, dict):
        raise ConfigError("configurable.roles must map role names to model strings, e.g. "
                          '{"reasoner": "openai/o4-mini"}')
    config = config.with_models(**{str(k): str(v) for k, v in roles.items()})
    if configurable.get("sandbox"):
        config = config.model_copy(update={"sandbox": config.sandbox.model_copy(
            update={"backend": configurable["sandbox"]})})
    return config


async def server_graph(config: dict[str, Any] | None = None) -> Any:
    """LangGraph Server's graph factory (async: reading ``ponder.toml`` and starting the
    sandbox happen off the server's event loop); see :func:`build_server_graph`."""
    return await asyncio.to_thread(build_server_graph, config)


def build_server_graph(config: dict[str, Any] | None = None) -> Any:
    """A compiled graph solving one problem per run with the strategy, roles and sandbox of
    ``config["configurable"]``; built once per distinct setting (the server asks per run)."""
    configurable = {k: v for k, v in ((config or {}).get("configurable") or {}).items()
                    if k in CONFIG_KEYS}
    key = json.dumps(configurable, sort_keys=True, default=str)
    if key not in _BUILT:
        _BUILT[key] = _build(configurable)
        while len(_BUILT) > 32:
            _BUILT.pop(next(iter(_BUILT)))
    return _BUILT[key]


def _build(configurable: dict[str, Any]) -> Any:
    ponder_config = server_config(configurable)
    strategy = str(configurable.get("strategy") or ponder_config.strategy)
    chosen = {k: configurable[k] for k in ("samples", "seed") if configurable.get(k) is not None}
    options = options_for(ponder_config, **chosen)
    bound = prepare(strategy, ponder_config, options, run_id="run-server")

    async def solve(state: ServerState, config: RunnableConfig) -> dict[str, Any]:
        """Run the strategy's graph (a subgraph, with the run's dependencies) on the problem."""
        from ponder.verdict import verdict_of

        problem = _problem(state)
        deps = dataclasses.replace(bound.deps, run_id=new_id("run-"))
        with solve_span(problem, deps.strategy, deps.run_id) as root:
            final = await bound.graph.ainvoke({"problem": problem}, config, context=deps)
            result = final_result(final)
            root.finish(result)
        return {"answer": result.answer, "confidence": result.confidence,
                "verdict": verdict_of(result).label, "strategy": result.strategy,
                "run_id": result.run_id, "result": result.model_dump(mode="json")}

    graph = StateGraph(ServerState, input_schema=ServerInput, output_schema=ServerOutput)
    graph.add_node("solve", solve)
    graph.add_edge(START, "solve")
    graph.add_edge("solve", END)
    return graph.compile(name=f"ponder {strategy}")


def _problem(state: ServerState) -> Problem:
    if state.get("problem"):
        return Problem.model_validate(state["problem"])
    question = str(state.get("question") or "").strip()
    if not question:
        raise ConfigError('the input has no question: send {"question": "..."} or a '
                          '"problem" object')
    fields = {k: state[k] for k in ("kind", "reference") if state.get(k)}  # type: ignore[literal-required]
    return Problem(question=question, **fields)
