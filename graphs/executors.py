"""Executors: where a batch's items are solved. The runner schedules, counts and stores;
an executor only turns one (problem, strategy) item into a :class:`~ponder.types.Result`.

Every executor hands the runner one graph-like object per strategy (``await
graph.ainvoke({"problem": p})`` returns ``{"result": Result}``), so scheduling, budgets,
progress, resume and the report do not know which executor ran. Executors are picked by
name from :data:`EXECUTORS`, like the sandboxes; optional ones are imported on first use.

>>> executor = make_executor("ray", address="auto")      # pip install 'ponder[ray]'
>>> graphs = await executor.start(BatchContext(config, options, run_id, ["cot"], store=gate))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

from ponder.config import Config, SolveOptions
from ponder.errors import ConfigError
from ponder.types import TraceEvent


class EventSink(Protocol):
    """Where trace events go: the store, or the batch's gate in front of it."""

    def add_event(self, event: TraceEvent) -> None: ...


@dataclass
class BatchContext:
    """What an executor needs to solve the items of one run: the run's settings, the event
    sink on the driver, and the driver's sandbox and model client (the in-process executor
    shares them; a remote one builds its own on each worker)."""

    config: Config
    options: SolveOptions
    run_id: str
    strategies: list[str]
    store: EventSink | None = None
    sandbox: Any = None
    models: Any = None
    needs_sandbox: bool = False
    # Each strategy's typed settings, validated once by the driver (registry.check_settings).
    settings: dict[str, Any] = field(default_factory=dict)

    def build_graphs(self, *, store: Any, sandbox: Any, models: Any) -> dict[str, Any]:
        """One compiled graph per strategy of the run, writing trace events to ``store``."""
        from ponder.graphs.lifecycle import prepare
        from ponder.graphs.registry import get_strategy, own_options

        # a worker process loads the run's plugins too
        return {s: prepare(s, self.config, own_options(get_strategy(s, self.config), self.options),
                           run_id=self.run_id, store=store, sandbox=sandbox, models=models,
                           settings=self.settings.get(s))
                for s in self.strategies}

    def for_workers(self) -> BatchContext:
        """What travels to remote workers: the settings, not the driver's store, sandbox or
        model client (each worker builds its own sandbox when the run needs one)."""
        return replace(self, strategies=list(self.strategies), settings=dict(self.settings),
                       store=None, sandbox=None, models=None,
                       needs_sandbox=self.sandbox is not None or self.needs_sandbox)


@runtime_checkable
class Executor(Protocol):
    """Solves items for the batch runner.

    ``start`` returns ``{strategy: graph}`` where each graph has ``async ainvoke({"problem":
    Problem}) -> {"result": Result}`` and writes its trace events to ``context.store`` before
    returning; ``close`` releases workers. A cancelled ``ainvoke`` must stop its item.
    """

    name: str

    async def start(self, context: BatchContext) -> dict[str, Any]: ...

    async def close(self) -> None: ...


@dataclass
class AsyncioExecutor:
    """The default: every item in this process, on the running event loop, sharing one
    model client (one embedded model) and one sandbox. Trace events are written live."""

    name: str = field(default="asyncio", init=False)

    async def start(self, context: BatchContext) -> dict[str, Any]:
        return context.build_graphs(store=context.store, sandbox=context.sandbox,
                                    models=context.models)

    async def close(self) -> None:
        return None


def _ray_executor(**options: Any) -> Executor:
    from ponder.graphs.ray_executor import RayExecutor  # imports ray, with an install hint

    return RayExecutor(**options)


EXECUTORS: dict[str, Callable[..., Executor]] = {
    "asyncio": AsyncioExecutor,
    "ray": _ray_executor,
}


def make_executor(name: str = "asyncio", *, address: str | None = None, **options: Any) -> Executor:
    """The executor called ``name``; ``address`` is the cluster to join (Ray only)."""
    try:
        factory = EXECUTORS[name]
    except KeyError:
        raise ConfigError(f"unknown executor {name!r}; choose one of: {', '.join(EXECUTORS)}") from None
    if name == "ray":
        return factory(address=address, **options)
    if address is not None:
        raise ConfigError(f"--ray-address needs --executor ray (the {name} executor runs in "
                          "this process)")
    return factory(**options)
