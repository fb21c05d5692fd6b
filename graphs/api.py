"""The Python API: ``solve``/``asolve`` a question, or ``build_graph`` to run it yourself."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from ponder.agents.deps import Deps
from ponder.config import Config, SolveOptions, load_config
from ponder.errors import ConfigError
from ponder.graphs.beam import build_beam
from ponder.graphs.runtime import Node, make_deps
from ponder.graphs.sampling import (SAMPLING, build_cot, build_direct, build_escalate, build_pot,
                                    build_self_consistency, build_verified)
from ponder.models import ModelClient
from ponder.sandbox import Sandbox
from ponder.store import Store
from ponder.types import Problem, Result, new_id

Builder = Callable[..., Any]

STRATEGIES: dict[str, Builder] = {
    "direct": build_direct,
    "cot": build_cot,
    "self-consistency": build_self_consistency,
    "pot": build_pot,
    "verified": build_verified,
    "beam": build_beam,
    "escalate": build_escalate,
}
RUNS_CODE = {name for name, spec in SAMPLING.items() if spec.runs_code} | {"beam"}


def register_strategy(name: str, builder: Builder, *, runs_code: bool = False) -> None:
    """Add a strategy: ``builder(deps, nodes=..., checkpointer=...)`` returns a compiled graph."""
    STRATEGIES[name] = builder
    if runs_code:
        RUNS_CODE.add(name)


def strategy_builder(name: str) -> Builder:
    try:
        return STRATEGIES[name]
    except KeyError:
        known = ", ".join(STRATEGIES)
        raise ConfigError(f"unknown strategy {name!r}; choose one of: {known}") from None


def build_graph(strategy: str = "verified", config: Config | None = None, *,
                options: SolveOptions | None = None, deps: Deps | None = None,
                store: Store | None = None, run_id: str | None = None,
                nodes: dict[str, Node] | None = None, checkpointer: Any = None,
                sandbox: Sandbox | None = None, models: ModelClient | None = None) -> Any:
    """A compiled LangGraph graph for ``strategy``; invoke it with ``{"problem": Problem(...)}``.

    ``nodes`` replaces nodes by name (``{"verify": my_verify}``) with functions of the same
    ``(state, *, deps) -> update`` contract. Works with LangGraph checkpointers and
    ``stream``/``astream``: ``stream_mode="custom"`` yields progress events, those from inside
    branches only with ``subgraphs=True`` (:func:`progress_events` does that for you).
    """
    builder = strategy_builder(strategy)
    if deps is None:
        config = config or load_config()
        deps = make_deps(config, options or SolveOptions(samples=config.samples),
                         strategy=strategy, run_id=run_id or new_id("run-"), store=store,
                         models=models, sandbox=sandbox, needs_sandbox=strategy in RUNS_CODE)
    return builder(deps, nodes=nodes, checkpointer=checkpointer)


def as_problem(question: str | Problem, **fields: Any) -> Problem:
    if isinstance(question, Problem):
        return question
    if not question or not question.strip():
        raise ConfigError("the question is empty; pass the text of a problem to solve")
    return Problem(question=question.strip(), **fields)


async def asolve(question: str | Problem, strategy: str = "verified", samples: int | None = None,
                 config: Config | None = None, *, store: Store | None | bool = True,
                 options: SolveOptions | None = None, nodes: dict[str, Node] | None = None,
                 sandbox: Sandbox | None = None, models: ModelClient | None = None,
                 **option_fields: Any) -> Result:
    """Solve one question with ``strategy`` and record it in the store.

    >>> result = await asolve("What is 17 + 25?", strategy="self-consistency", samples=4)
    >>> result.answer, result.votes
    """
    config = config or load_config()
    problem = as_problem(question)
    opts = options or SolveOptions(samples=samples or config.samples, **option_fields)
    if samples and options:
        opts = opts.model_copy(update={"samples": samples})
    db = Store(config.store) if store is True else (store or None)
    run_id = new_id("run-")
    # Built first: a strategy that refuses this configuration does so before any record or call.
    graph = build_graph(strategy, config, options=opts, store=db, run_id=run_id, nodes=nodes,
                        sandbox=sandbox, models=models)
    if db is not None:
        db.create_run(run_id=run_id, kind="solve", strategies=[strategy],
                      config={"roles": {k: v.model for k, v in config.roles.items()},
                              "options": opts.model_dump()})
        db.add_problem(run_id, problem)
    try:
        state = await graph.ainvoke({"problem": problem})
        result: Result = state["result"]
        if db is not None:
            db.save_result(result)
            db.update_run(run_id, status="done")
        return result
    except BaseException:
        if db is not None:
            db.update_run(run_id, status="failed")
        raise


def solve(question: str | Problem, strategy: str = "verified", samples: int | None = None,
          config: Config | None = None, **kwargs: Any) -> Result:
    """Synchronous :func:`asolve`."""
    return asyncio.run(asolve(question, strategy, samples, config, **kwargs))


async def progress_events(graph: Any, problem: Problem, config: dict[str, Any] | None = None):
    """Run ``graph`` on ``problem`` and yield its progress dicts as they happen, then
    ``{"type": "result", "result": Result}``.

    Branches run inside a subgraph, so their events (``branch_finished``) only reach the
    stream with ``subgraphs=True``; this hides that detail.
    """
    final: dict[str, Any] = {}
    async for _namespace, mode, chunk in graph.astream(
            {"problem": problem}, config, stream_mode=["custom", "values"], subgraphs=True):
        if mode == "custom" and isinstance(chunk, dict) and chunk.get("type") == "progress":
            yield chunk
        elif mode == "values" and not _namespace and isinstance(chunk, dict):
            final = chunk
    yield {"type": "result", "result": final.get("result")}
