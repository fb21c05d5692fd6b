"""Wiring nodes to the world: the node wrapper that traces every node, and dependencies that
travel with each invocation (LangGraph's ``context_schema``/``Runtime``), so a graph compiles
once per strategy and nothing is mutated per run."""

from __future__ import annotations

import asyncio
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
from ponder.telemetry import NodeSpan, finish_llm, finish_tool, llm_span, tool_span
from ponder.telemetry.langchain import start_llm_run
from ponder.types import Branch, Completion, ExecResult, TraceEvent, Usage

Node = Callable[..., Any]
"""A node: ``(state, *, deps) -> update`` (sync or async)."""


def make_deps(config: Config, options: SolveOptions, *, strategy: str, run_id: str,
              settings: BaseModel | None = None, store: Store | None = None,
              models: ModelClient | None = None, sandbox: Sandbox | None = None,
              needs_sandbox: bool = False, stream_text: bool = False) -> Deps[Any]:
    """Dependencies for one run: model client, sandbox if needed, the store as trace sink."""
    models = models or ModelClient(config)
    if options.seed is None:
        # No seed asked for: a fresh one per run, recorded in the result (``Result.seed``),
        # so a re-run draws new samples and ``--seed`` can replay this one. With a response
        # cache, seed 0, so that re-running is free (the cache keys samples by seed).
        seed = 0 if models.cache is not None else secrets.randbelow(2**31)
        options = options.model_copy(update={"seed": seed})
    if sandbox is None and needs_sandbox:
        sandbox = make_sandbox(config.sandbox)
    return Deps(models=models, options=options,
                settings=settings or NoSettings(), sandbox=sandbox, run_id=run_id,
                strategy=strategy, emit=store.add_event if store is not None else _drop,
                stream_text=stream_text)


def _drop(item: Any) -> None:
    return None


class MeteredModels:
    """The model client as one node sees it: every completion's usage lands in its span, each
    call is an LLM span (OpenTelemetry) and an LLM run (LangChain callbacks, e.g. LangSmith)
    under the node's, and a single sample's text streams to ``on_text`` when the run asked."""

    def __init__(self, models: ModelClient, span: Span,
                 on_text: Callable[[str], None] | None = None, node: NodeSpan | None = None):
        self._models, self._span, self._on_text, self._node = models, span, on_text, node

    async def acomplete(self, role: str, messages: Any, **kwargs: Any) -> list[Completion]:
        if self._on_text is not None and kwargs.get("n", 1) == 1:
            kwargs.setdefault("on_text", self._on_text)
        spec = self._models.role(role)
        params = {k: v for k, v in kwargs.items() if k not in ("on_text", "stop_when")}
        run = start_llm_run(model=spec.model, provider=spec.provider, messages=messages,
                            params=params)
        with llm_span(self._node, model=spec.model, provider=spec.provider, messages=messages,
                      params=params) as call:
            try:
                completions = await self._models.acomplete(role, messages, **kwargs)
            except BaseException as exc:
                if run is not None:
                    run.fail(exc)
                raise
            finish_llm(call, completions)
        if run is not None:
            run.finish(completions)
        self._span.metered.extend(c.usage for c in completions)
        return completions

    def complete(self, *args: Any, **kwargs: Any) -> list[Completion]:
        """Synchronous :meth:`acomplete`."""
        return asyncio.run(self.acomplete(*args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._models, name)


class TracedSandbox:
    """The sandbox as one node sees it: every program run is a TOOL span under the node's."""

    def __init__(self, sandbox: Sandbox, node: NodeSpan):
        self._sandbox, self._node = sandbox, node
        self.name = sandbox.name

    async def arun(self, code: str, **kwargs: Any) -> ExecResult:
        with tool_span(self._node, backend=self.name, code=code) as call:
            result = await self._sandbox.arun(code, **kwargs)
            finish_tool(call, result)
        return result

    def run(self, code: str, **kwargs: Any) -> ExecResult:
        with tool_span(self._node, backend=self.name, code=code) as call:
            result = self._sandbox.run(code, **kwargs)
            finish_tool(call, result)
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sandbox, name)


def traced(name: str, node: Node, *, trace_as: str | None = None) -> Node:
    """Turn a ``(state, *, deps)`` node into the callable LangGraph runs, recording one trace
    event per invocation (timing, inputs, outputs, usage, parent, branch), its progress and
    its OpenTelemetry span (the parent event's span is its parent).

    The node's update also moves ``parent_event`` to this event, so the next step hangs off it.
    """
    label = trace_as or name
    if inspect.iscoroutinefunction(node):
        async def run_async(state: dict[str, Any], runtime: Runtime[Deps]) -> dict[str, Any]:
            started = time.time()
            deps = _view(runtime, label, state, started)
            with deps.span.otel.current():  # type: ignore[union-attr]
                try:
                    update = await node(state, deps=deps)
                except BaseException as exc:
                    _record(label, state, deps, started, {}, exc)
                    raise
            return _record(label, state, deps, started, update)
        run_async.__name__ = name
        return run_async

    def run(state: dict[str, Any], runtime: Runtime[Deps]) -> dict[str, Any]:
        started = time.time()
        deps = _view(runtime, label, state, started)
        with deps.span.otel.current():  # type: ignore[union-attr]
            try:
                update = node(state, deps=deps)
            except BaseException as exc:
                _record(label, state, deps, started, {}, exc)
                raise
        return _record(label, state, deps, started, update)
    run.__name__ = name
    return run


def _view(runtime: Runtime[Deps], label: str, state: dict[str, Any], started: float) -> Deps:
    """The node's own view of the run's dependencies: its span, metered models, the stream,
    the sandbox whose runs are spans of this node."""
    deps = runtime.context
    if not isinstance(deps, Deps):
        raise TypeError("run ponder graphs with their dependencies: graph.invoke(input, "
                        "context=deps), or use the graph ponder.build_graph returns")
    span, write, branch_id = Span(), runtime.stream_writer, state.get("branch_id")
    span.otel = NodeSpan(label, run_id=deps.run_id, problem_id=state["problem"].id,
                         strategy=deps.strategy, parent_event=state.get("parent_event"),
                         started=started)
    index = state.get("index") if branch_id else None
    on_text = (lambda piece: write(TextDelta(node=label, branch_id=branch_id, branch=index,
                                             text=piece))) if deps.stream_text else None
    sandbox = TracedSandbox(deps.sandbox, span.otel) if deps.sandbox is not None else None
    return dataclasses.replace(deps, span=span, progress=write, sandbox=sandbox,
                               models=MeteredModels(deps.models, span, on_text, span.otel))


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
    ids = span.otel.finish(event, error) if span.otel is not None else None
    if ids is not None:
        # The span's ids travel with the event, so a viewer can link to the collector.
        event.outputs = {**event.outputs, "otel": ids}
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
