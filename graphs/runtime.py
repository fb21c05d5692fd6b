"""Wiring nodes to the world: the node wrapper that traces every node, and dependencies that
travel with each invocation (LangGraph's ``context_schema``/``Runtime``), so a graph compiles
once per strategy and nothing is mutated per run."""

from __future__ import annotations

import dataclasses
import inspect
import secrets
import time
from collections.abc import Callable
from typing import Any

from langgraph.runtime import Runtime
from pydantic import BaseModel

from ponder.agents.deps import Deps, NoSettings, Span
from ponder.config import Config, SolveOptions
from ponder.events import BranchFinished, NodeFinished, TextDelta
from ponder.models import ModelClient
from ponder.sandbox import Sandbox, make_sandbox
from ponder.store import Store
from ponder.types import Branch, Completion, TraceEvent, Usage

Node = Callable[..., Any]
"""A node: ``(state, *, deps) -> update`` (sync or async)."""


def make_deps(config: Config, options: SolveOptions, *, strategy: str, run_id: str,
              settings: BaseModel | None = None, store: Store | None = None,
              models: ModelClient | None = None, sandbox: Sandbox | None = None,
              needs_sandbox: bool = False, stream_text: bool = False) -> Deps[Any]:
    """Dependencies for one run: model client, sandbox if needed, the store as trace sink."""
    if options.seed is None:
        # No seed asked for: a fresh one per run, recorded in the result (``Result.seed``),
        # so a re-run draws new samples and ``--seed`` can replay this one.
        options = options.model_copy(update={"seed": secrets.randbelow(2**31)})
    if sandbox is None and needs_sandbox:
        sandbox = make_sandbox(config.sandbox)
    return Deps(models=models or ModelClient(config), options=options,
                settings=settings or NoSettings(), sandbox=sandbox, run_id=run_id,
                strategy=strategy, emit=store.add_event if store is not None else _drop,
                stream_text=stream_text)


def _drop(item: Any) -> None:
    return None


class MeteredModels:
    """The model client as one node sees it: every completion's usage lands in its span, and
    a single sample's text streams to ``on_text`` when the run asked for it."""

    def __init__(self, models: ModelClient, span: Span,
                 on_text: Callable[[str], None] | None = None):
        self._models, self._span, self._on_text = models, span, on_text

    async def acomplete(self, *args: Any, **kwargs: Any) -> list[Completion]:
        if self._on_text is not None and kwargs.get("n", 1) == 1:
            kwargs.setdefault("on_text", self._on_text)
        completions = await self._models.acomplete(*args, **kwargs)
        self._span.metered.extend(c.usage for c in completions)
        return completions

    def complete(self, *args: Any, **kwargs: Any) -> list[Completion]:
        completions = self._models.complete(*args, **kwargs)
        self._span.metered.extend(c.usage for c in completions)
        return completions

    def __getattr__(self, name: str) -> Any:
        return getattr(self._models, name)


def traced(name: str, node: Node, *, trace_as: str | None = None) -> Node:
    """Turn a ``(state, *, deps)`` node into the callable LangGraph runs, recording one trace
    event per invocation (timing, inputs, outputs, usage, parent, branch) and its progress.

    The node's update also moves ``parent_event`` to this event, so the next step hangs off it.
    """
    label = trace_as or name
    if inspect.iscoroutinefunction(node):
        async def run_async(state: dict[str, Any], runtime: Runtime[Deps]) -> dict[str, Any]:
            deps, started = _view(runtime, label, state), time.time()
            try:
                update = await node(state, deps=deps)
            except BaseException as exc:
                _record(label, state, deps, started, {}, exc)
                raise
            return _record(label, state, deps, started, update)
        run_async.__name__ = name
        return run_async

    def run(state: dict[str, Any], runtime: Runtime[Deps]) -> dict[str, Any]:
        deps, started = _view(runtime, label, state), time.time()
        try:
            update = node(state, deps=deps)
        except BaseException as exc:
            _record(label, state, deps, started, {}, exc)
            raise
        return _record(label, state, deps, started, update)
    run.__name__ = name
    return run


def _view(runtime: Runtime[Deps], label: str, state: dict[str, Any]) -> Deps:
    """The node's own view of the run's dependencies: its span, metered models, the stream."""
    deps = runtime.context
    if not isinstance(deps, Deps):
        raise TypeError("run ponder graphs with their dependencies: graph.invoke(input, "
                        "context=deps), or use the graph ponder.build_graph returns")
    span, write, branch_id = Span(), runtime.stream_writer, state.get("branch_id")
    index = state.get("index") if branch_id else None
    on_text = (lambda piece: write(TextDelta(node=label, branch_id=branch_id, branch=index,
                                             text=piece))) if deps.stream_text else None
    return dataclasses.replace(deps, span=span, progress=write,
                               models=MeteredModels(deps.models, span, on_text))


def _record(label: str, state: dict[str, Any], deps: Deps, started: float,
            update: dict[str, Any] | None, error: BaseException | None = None) -> dict[str, Any]:
    span, update = deps.span or Span(), dict(update or {})
    outputs = span.outputs if span.outputs is not None else summary(update)
    if error is not None:
        outputs = {**outputs, "error": f"{type(error).__name__}: {error}"}
    event = TraceEvent(
        run_id=deps.run_id, problem_id=state["problem"].id, strategy=deps.strategy, node=label,
        branch_id=state.get("branch_id"), parent_id=state.get("parent_event"),
        started_at=started, ended_at=time.time(), inputs=span.inputs, outputs=outputs,
        usage=span.usage if span.usage is not None else Usage.total(span.metered))
    deps.emit(event)
    deps.progress(NodeFinished(node=label, event_id=event.id, branch_id=event.branch_id,
                               duration_s=round(event.ended_at - started, 4),
                               error=outputs.get("error") if error is not None else None))
    for branch in update.get("branches") or []:
        if isinstance(branch, Branch):
            deps.progress(BranchFinished(branch=branch))
    update["parent_event"] = event.id
    return update


def summary(update: dict[str, Any]) -> dict[str, Any]:
    """A node's update as JSON-ready trace outputs (for nodes that describe nothing)."""
    return {k: _plain(v) for k, v in update.items() if k != "parent_event"}


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


class BoundGraph:
    """A compiled graph with the dependencies of one run bound: ``invoke``/``ainvoke``/
    ``stream``/``astream`` pass them as LangGraph ``context``; everything else is the
    compiled graph's (``get_graph``, ``get_state``...)."""

    def __init__(self, graph: Any, deps: Deps):
        self.graph, self.deps = graph, deps

    def invoke(self, input: Any, config: Any = None, **kw: Any) -> Any:
        return self.graph.invoke(input, config, **{"context": self.deps, **kw})

    async def ainvoke(self, input: Any, config: Any = None, **kw: Any) -> Any:
        return await self.graph.ainvoke(input, config, **{"context": self.deps, **kw})

    def stream(self, input: Any, config: Any = None, **kw: Any) -> Any:
        return self.graph.stream(input, config, **{"context": self.deps, **kw})

    def astream(self, input: Any, config: Any = None, **kw: Any) -> Any:
        return self.graph.astream(input, config, **{"context": self.deps, **kw})

    def __getattr__(self, name: str) -> Any:
        return getattr(self.graph, name)
