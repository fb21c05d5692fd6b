"""One run, one lifecycle: create → checks → run → save, or fail.

:class:`SolveRun` is the only code that records a single-problem run; ``ponder.solve``/
``asolve``, the UI's live page and the server all drain its :meth:`SolveRun.events`, and the
batch runner solves its items through :func:`prepare` and :func:`solve_problem`. Every
entry point's pre-run checks are :func:`check_run`'s. Whatever
happens — an unknown strategy, a sandbox that cannot start, a provider error, a cancelled
task — the run ends ``done``, ``failed`` or ``cancelled``, never ``running``.

>>> run = SolveRun(Problem(question="What is 6 * 7?"), "pot", config, options, store=store)
>>> async for event in run.events():
...     print(event.line() or event.type)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic

from ponder.agents.deps import SettingsT
from ponder.config import Config, SolveOptions, run_config
from ponder.errors import PonderError
from ponder.events import ProgressEvent, RunFinished, RunStarted
from ponder.graphs.registry import compiled, get_strategy, sandbox_for
from ponder.graphs.runtime import BoundGraph, Node, make_deps
from ponder.graphs.strategy import Shape, Strategy
from ponder.models import ModelClient, validate_roles
from ponder.sandbox import Sandbox
from ponder.store import Store
from ponder.telemetry import SolveSpan, solve_span
from ponder.types import Problem, Result, new_id

log = logging.getLogger("ponder.graphs")
_PROGRESS = ProgressEvent.__args__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class CheckedRun(Generic[SettingsT]):
    """A strategy, the options and typed settings it will run with, and the model client its
    checks passed on: what :func:`check_run` hands to :func:`prepare`."""

    strategy: Strategy[SettingsT]
    options: SolveOptions
    settings: SettingsT
    models: ModelClient

    @property
    def roles(self) -> dict[str, str]:
        """The roles the run will call, each with the model it names."""
        return {role: self.models.config.role(role).model
                for role in self.strategy.roles(self.options, self.settings)}


def check_run(strategy: str, config: Config, options: SolveOptions, *,
              models: ModelClient | None = None, settings: Any = None) -> CheckedRun[Any]:
    """The pre-run checks, in one place, for every entry point (``ponder.solve`` and
    ``build_graph``, the CLI and the UI through them, the server, each strategy of a batch,
    a Ray worker): the strategy exists and accepts its settings, its roles' models can be
    called, and the strategy accepts them. A ``ConfigError`` says what to change.

    ``settings`` are the strategy's typed settings when the caller validated them already (a
    batch validates its shared settings once, for all its strategies); otherwise the
    strategy validates ``options.settings`` here.
    """
    spec = get_strategy(strategy, config)
    typed = settings if settings is not None else spec.settings_from(options)
    options = spec.prepare(options, typed)
    models = models or ModelClient(config)
    validate_roles(models.config, spec.roles(options, typed))
    spec.check(models, options, typed)
    return CheckedRun(spec, options, typed, models)


def prepare(strategy: str, config: Config, options: SolveOptions, *, run_id: str,
            store: Any = None, nodes: dict[str, Node] | None = None,
            sandbox: Sandbox | None = None, models: ModelClient | None = None,
            checkpointer: Any = None, stream_text: bool = False,
            settings: Any = None) -> BoundGraph:
    """:func:`check_run`, then the strategy's compiled graph with the run's dependencies
    (``.deps``) bound; the sandbox starts here when the strategy runs code."""
    run = check_run(strategy, config, options, models=models, settings=settings)
    deps = make_deps(config, run.options, strategy=run.strategy.name, run_id=run_id,
                     settings=run.settings, store=store, models=run.models,
                     sandbox=sandbox or sandbox_for(config, [run.strategy.name]),
                     stream_text=stream_text)
    shape = Shape(plan=run.options.plan, nodes=dict(nodes or {}))
    return BoundGraph(compiled(run.strategy, shape, checkpointer=checkpointer), deps)


async def problem_events(graph: Any, problem: Problem,
                         config: dict[str, Any] | None = None) -> AsyncIterator[Any]:
    """Run ``graph`` on ``problem``: its progress events as they happen, then
    :class:`RunFinished` with the (not yet saved) result.

    Branches run inside a subgraph, so their events only reach the stream with
    ``subgraphs=True``; this hides that detail.
    """
    final: dict[str, Any] = {}
    with _solve_span(graph, problem) as root:
        async for namespace, mode, chunk in graph.astream(
                {"problem": problem}, _named(graph, problem, config),
                stream_mode=["custom", "values"], subgraphs=True):
            if mode == "custom" and isinstance(chunk, _PROGRESS):
                yield chunk
            elif mode == "values" and not namespace and isinstance(chunk, dict):
                final = chunk
        result = final_result(final)
        if root is not None:
            root.finish(result)
    yield RunFinished(result=result)


async def solve_problem(graph: Any, problem: Problem) -> Result:
    """Run ``graph`` on one problem and return its result (no streaming)."""
    named = _named(graph, problem)
    with _solve_span(graph, problem) as root:
        state = await (graph.ainvoke({"problem": problem}, named) if named
                       else graph.ainvoke({"problem": problem}))
        result = final_result(state)
        if root is not None:
            root.finish(result)
    return result


@contextmanager
def _solve_span(graph: Any, problem: Problem) -> Iterator[SolveSpan | None]:
    """The OpenTelemetry root span of one solve (no-op spans when nothing is configured)."""
    deps = getattr(graph, "deps", None)
    if deps is None:
        yield None
        return
    with solve_span(problem, deps.strategy, deps.run_id) as root:
        yield root


def _named(graph: Any, problem: Problem, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The run's LangGraph config, its root run named after the strategy and the problem (what
    LangSmith and other callback handlers show instead of ``LangGraph``)."""
    deps = getattr(graph, "deps", None)
    name = f"ponder {deps.strategy}: {problem.id}" if deps is not None else None
    return {"run_name": name, **(config or {})} if name else dict(config or {})


def final_result(state: Any) -> Result:
    """The Result a finished graph left in its state; a custom graph that left none is told."""
    result = state.get("result") if isinstance(state, dict) else None
    if not isinstance(result, Result):
        raise PonderError("the graph finished without a result; a custom graph must end by "
                          "setting state['result'] to a ponder Result")
    return result


@dataclass
class SolveRun:
    """One problem solved with one strategy as one recorded run."""

    problem: Problem
    strategy: str
    config: Config
    options: SolveOptions
    store: Store | None = None
    nodes: dict[str, Node] | None = None
    sandbox: Sandbox | None = None
    models: ModelClient | None = None
    kind: str = "solve"
    meta: dict[str, Any] = field(default_factory=dict)
    stream_text: bool = False  # also yield TextDelta events (model text as it is generated)
    run_id: str = field(default_factory=lambda: new_id("run-"))
    result: Result | None = None
    _opened: bool = False

    def open(self) -> str:
        """Record the run (status ``running``) and its problem; returns the run id.

        If recording the problem fails (a full disk, a value the store refuses) the run is
        closed as ``failed`` before the error is raised, so no record is left ``running``.
        """
        if not self._opened and self.store is not None:
            self.store.create_run(run_id=self.run_id, kind=self.kind, strategies=[self.strategy],
                                  config=run_config(self.config, self.options, [self.strategy]),
                                  meta=self.meta)
            try:
                self.store.add_problem(self.run_id, self.problem)
            except BaseException as exc:
                self._end_quietly("failed", f"{type(exc).__name__}: {exc}")
                raise
        self._opened = True
        return self.run_id

    async def events(self) -> AsyncIterator[Any]:
        """:class:`RunStarted`, the progress events, then :class:`RunFinished` (saved)."""
        try:
            self.open()
            yield RunStarted(run_id=self.run_id, problem_id=self.problem.id, strategy=self.strategy)
            graph = prepare(self.strategy, self.config, self.options, run_id=self.run_id,
                            store=self.store, nodes=self.nodes, sandbox=self.sandbox,
                            models=self.models, stream_text=self.stream_text)
            async for event in problem_events(graph, self.problem):
                if isinstance(event, RunFinished):
                    self.result = event.result
                else:
                    yield event
            if self.store is not None:
                self.store.save_result(self.result)
                self.store.update_run(self.run_id, status="done")
        except (asyncio.CancelledError, GeneratorExit, KeyboardInterrupt) as exc:
            self._end_quietly("cancelled",
                              str(exc.args[0]) if getattr(exc, "args", None) else "cancelled")
            raise
        except BaseException as exc:
            self._end_quietly("failed", f"{type(exc).__name__}: {exc}")
            raise
        yield RunFinished(result=self.result)

    def end(self, status: str, error: str | None = None) -> None:
        """Close the record as ``status`` (a later, more specific status overrides)."""
        if self.store is not None:
            self.store.update_run(self.run_id, status=status,
                                  meta={"error": error} if error else None)

    def _end_quietly(self, status: str, error: str) -> None:
        """:meth:`end` while another error is on its way out: that error is the one raised
        (a store that cannot record the end is already what it is about)."""
        try:
            self.end(status, error)
        except Exception as exc:  # noqa: BLE001 - the original error propagates; this would mask it
            log.warning("could not record run %s as %s: %s", self.run_id, status, exc)

    async def run(self) -> Result:
        """Drain :meth:`events` and return the result."""
        async for _ in self.events():
            pass
        assert self.result is not None
        return self.result
