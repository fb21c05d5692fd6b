"""The Python API: ``solve``/``asolve`` a question, or ``build_graph`` to run it yourself."""

from __future__ import annotations

import asyncio
from typing import Any

from ponder.config import Config, SolveOptions, load_config, options_for
from ponder.errors import ConfigError
from ponder.graphs.lifecycle import CheckedRun, SolveRun, check_run, prepare, problem_events
from ponder.graphs.registry import STRATEGIES, get_strategy, register_strategy, strategy_names
from ponder.graphs.runtime import BoundGraph, Node
from ponder.graphs.server_graph import build_server_graph, server_graph
from ponder.graphs.strategy import Shape, Strategy
from ponder.models import ModelClient
from ponder.sandbox import Sandbox
from ponder.store import Store
from ponder.types import Problem, Result, new_id

__all__ = ["STRATEGIES", "CheckedRun", "Shape", "Strategy", "as_problem", "asolve", "build_graph",
           "check_run",
           "build_server_graph",
           "get_strategy", "options_for", "progress_events", "register_strategy", "server_graph",
           "solve", "strategy_names"]

progress_events = problem_events


def build_graph(strategy: str | None = None, config: Config | None = None, *,
                options: SolveOptions | None = None, store: Store | None = None,
                run_id: str | None = None, nodes: dict[str, Node] | None = None,
                checkpointer: Any = None, sandbox: Sandbox | None = None,
                models: ModelClient | None = None) -> BoundGraph:
    """A compiled LangGraph graph for ``strategy`` with one run's dependencies bound; invoke
    it with ``{"problem": Problem(...)}``.

    ``nodes`` replaces nodes by name (``{"verify": my_verify}``) with functions of the same
    ``(state, *, deps) -> update`` contract; they are traced like the built-ins. Works with
    LangGraph checkpointers and ``stream``/``astream``: ``stream_mode="custom"`` yields the
    typed progress events of :mod:`ponder.events` (those from inside branches only with
    ``subgraphs=True``; :func:`progress_events` does that for you).
    """
    config = config or load_config()
    return prepare(strategy or config.strategy, config,
                   options or SolveOptions(samples=config.samples),
                   run_id=run_id or new_id("run-"), store=store, nodes=nodes, sandbox=sandbox,
                   models=models, checkpointer=checkpointer)


def as_problem(question: str | Problem, **fields: Any) -> Problem:
    if isinstance(question, Problem):
        return question
    if not isinstance(question, str) or not question.strip():
        raise ConfigError("the question is empty; pass the text of a problem to solve")
    return Problem(question=question.strip(), **fields)


async def asolve(question: str | Problem, strategy: str | None = None, samples: int | None = None,
                 config: Config | None = None, *, store: Store | None | bool = True,
                 options: SolveOptions | None = None, nodes: dict[str, Node] | None = None,
                 sandbox: Sandbox | None = None, models: ModelClient | None = None,
                 **option_fields: Any) -> Result:
    """Solve one question with ``strategy`` (default: the config's, ``checked``) and record
    it in the store.

    >>> result = await asolve("What is 17 + 25?", strategy="self-consistency", samples=4)
    >>> result.answer, result.votes
    """
    config = config or load_config()
    problem = as_problem(question)
    opts = options_for(config, options, samples=samples, **option_fields)
    db = Store(config.store) if store is True else (store or None)
    run = SolveRun(problem, strategy or config.strategy, config, opts, store=db, nodes=nodes,
                   sandbox=sandbox, models=models)
    return await run.run()


def solve(question: str | Problem, strategy: str | None = None, samples: int | None = None,
          config: Config | None = None, **kwargs: Any) -> Result:
    """Synchronous :func:`asolve`."""
    return asyncio.run(asolve(question, strategy, samples, config, **kwargs))
