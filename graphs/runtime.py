"""Wiring nodes to the world: dependencies bound at build time, traces to the store and the
stream. The only place besides the builders that touches LangGraph."""

from __future__ import annotations

import functools
import inspect
import secrets
from collections.abc import Callable
from typing import Any

from langgraph.config import get_stream_writer

from ponder.agents.deps import Deps
from ponder.config import Config, SolveOptions
from ponder.models import ModelClient
from ponder.sandbox import Sandbox, make_sandbox
from ponder.store import Store
from ponder.types import TraceEvent

Node = Callable[..., Any]


def _write(payload: dict[str, Any]) -> None:
    try:
        writer = get_stream_writer()
    except RuntimeError:  # called outside a running graph (a node used on its own)
        return
    writer(payload)


def make_deps(config: Config, options: SolveOptions, *, strategy: str, run_id: str,
              store: Store | None = None, models: ModelClient | None = None,
              sandbox: Sandbox | None = None, needs_sandbox: bool = False) -> Deps:
    """Dependencies for one strategy run: model client, sandbox if needed, trace sinks."""

    def emit(event: TraceEvent) -> None:
        if store is not None:
            store.add_event(event)
        _write({"type": "trace", "node": event.node, "branch_id": event.branch_id,
                "event_id": event.id})

    def progress(update: dict[str, Any]) -> None:
        _write({"type": "progress", **update})

    if options.seed is None:
        # No seed asked for: a fresh one per run, recorded in the result (``Result.seed``),
        # so a re-run draws new samples and ``--seed`` can replay this one.
        options = options.model_copy(update={"seed": secrets.randbelow(2**31)})
    if sandbox is None and needs_sandbox:
        sandbox = make_sandbox(config.sandbox)
    return Deps(models=models or ModelClient(config), options=options, sandbox=sandbox,
                run_id=run_id, strategy=strategy, emit=emit, progress=progress)


def bind(node: Node, deps: Deps) -> Node:
    """Turn a ``(state, *, deps)`` node into the ``(state)`` callable LangGraph runs."""
    if inspect.iscoroutinefunction(node):
        @functools.wraps(node)
        async def run_async(state: dict[str, Any]) -> dict[str, Any]:
            return await node(state, deps=deps)
        return run_async

    @functools.wraps(node)
    def run(state: dict[str, Any]) -> dict[str, Any]:
        return node(state, deps=deps)
    return run
