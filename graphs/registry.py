"""The strategy registry: the one place that knows which strategies exist.

The built-ins register through the same seam as anyone else's: a module defining a
:class:`~ponder.graphs.strategy.Strategy` named ``STRATEGY``. Plugins are loaded from the
config's ``plugins`` list (module names or ``.py`` paths) and from the ``ponder.strategies``
entry-point group of installed packages, by :func:`for_config` (or ``get_strategy(name,
config)``), the one call path that every entry point takes.

Every registry here and below it (model backends, sandboxes, scripted and embedded models)
is a :class:`ponder.registries.Registry`; :func:`scoped` undoes, on exit, whatever a test
registered or loaded inside it, as ``dspy.context`` scopes DSPy's settings.

>>> with scoped():
...     register_strategy(Strategy(name="best-of-n", summary="...", build=build_best_of_n))
...     get_strategy("best-of-n").runs_code
False
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

from langgraph.graph import StateGraph
from pydantic import BaseModel

from ponder.backends import BACKENDS
from ponder.config import Config, SolveOptions
from ponder.embedded import LOCAL_MODELS
from ponder.errors import ConfigError
from ponder.registries import Registry
from ponder.registries import scoped as scoped_registries
from ponder.sandbox import SANDBOXES, Sandbox, make_sandbox
from ponder.scripted import SCRIPTS
from ponder.graphs.strategies import (beam, best_of_n, checked, cot, direct, escalate, pot,
                                       self_consistency, verified)
from ponder.graphs.strategy import Shape, Strategy

STRATEGIES: Registry[str, Strategy[Any]] = Registry("strategies")
COMPILED: Registry[tuple[Strategy[Any], bool], Any] = Registry("compiled graphs")
"""Each strategy's compiled graph, with and without planning (see :func:`compiled`)."""
LOADED_PLUGINS: Registry[str, str] = Registry("loaded plugins")
"""The plugin sources imported so far (each once), by source."""
FILE_PLUGINS: Registry[str, ModuleType] = Registry("plugins loaded from files")
"""Plugins loaded from ``.py`` paths, by module name: no other process can import them by
name, so whatever ships their functions elsewhere (the Ray executor) sends them by value."""


@contextlib.contextmanager
def scoped() -> Iterator[None]:
    """Every registry, scoped: strategies (their compiled graphs, the plugins loaded), model
    backends, sandboxes, scripted and embedded models are as before once the block ends.

    >>> with scoped():
    ...     register_strategy(my_strategy)
    ...     register_script("echo", cycle("Answer: 4"))
    """
    with scoped_registries(STRATEGIES, COMPILED, LOADED_PLUGINS, FILE_PLUGINS, BACKENDS,
                           SANDBOXES, SCRIPTS, LOCAL_MODELS):
        yield


def register_strategy(strategy: Strategy[Any]) -> Strategy[Any]:
    """Add (or replace) a strategy; the CLI, UI, batch runner and server see it at once."""
    if not isinstance(strategy, Strategy):
        raise ConfigError(f"register_strategy takes a ponder.graphs.strategy.Strategy, not "
                          f"{type(strategy).__name__}")
    STRATEGIES[strategy.name] = strategy
    for key in [k for k in COMPILED if k[0].name == strategy.name]:
        del COMPILED[key]
    return strategy


for _module in (direct, cot, self_consistency, pot, verified, checked, beam, best_of_n, escalate):
    register_strategy(_module.STRATEGY)


def get_strategy(name: str, config: Config | None = None) -> Strategy[Any]:
    """The strategy called ``name`` (with ``config``'s plugins loaded first, when given); a
    ``ConfigError`` lists the known ones."""
    if config is not None:
        for_config(config)
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}"
                          " (or load yours with the config's plugins list)") from None


def strategy_names(config: Config | None = None) -> list[str]:
    """The registered strategies' names (with ``config``'s plugins loaded first, when given)."""
    return list(for_config(config) if config is not None else STRATEGIES)


def for_config(config: Config) -> Registry[str, Strategy[Any]]:
    """The registry with ``config``'s plugins loaded: the one call path every front end, the
    run lifecycle, a batch and a worker process take, so none of them loads plugins itself."""
    load_plugins(config.plugins)
    return STRATEGIES


def check_settings(strategies: list[str], options: SolveOptions) -> dict[str, BaseModel]:
    """Each strategy's typed settings from the one settings dict a batch shares (each takes
    the keys it knows, see :func:`own_options`); a ``ConfigError`` for an unknown strategy, a
    setting that belongs to none of them, or a value its strategy refuses."""
    specs = [get_strategy(name) for name in strategies]
    known = {f for spec in specs for f in spec.settings.model_fields}
    unknown = sorted(set(options.settings) - known)
    if unknown:
        raise ConfigError(f"setting {', '.join(unknown)} belongs to none of the strategies "
                          f"{', '.join(strategies)}; their settings: {', '.join(sorted(known)) or 'none'}")
    return {spec.name: spec.settings_from(own_options(spec, options)) for spec in specs}


def own_options(strategy: Strategy[Any], options: SolveOptions) -> SolveOptions:
    """``options`` with only the strategy settings ``strategy`` knows."""
    mine = {k: v for k, v in options.settings.items() if k in strategy.settings.model_fields}
    return options.model_copy(update={"settings": mine})


def compiled(strategy: Strategy[Any], shape: Shape, *, checkpointer: Any = None) -> Any:
    """The strategy's compiled graph for ``shape``.

    The built-in shapes (the strategy's own nodes, no checkpointer) compile once and serve
    every run: a bounded cache, two graphs per strategy at most. A graph with the caller's
    nodes or checkpointer compiles afresh and belongs to the caller alone: caching it would
    keep those objects alive for as long as the process runs.
    """
    key = (strategy, shape.plan)
    custom = bool(shape.nodes) or checkpointer is not None
    if custom or key not in COMPILED:
        graph = strategy.build(shape)
        if not isinstance(graph, StateGraph):
            raise ConfigError(f"strategy {strategy.name!r}: build(shape) must return an "
                              f"uncompiled langgraph StateGraph, not {type(graph).__name__}")
        if custom:
            return graph.compile(checkpointer=checkpointer)
        COMPILED[key] = graph.compile()
    return COMPILED[key]


def load_plugins(sources: list[str] | tuple[str, ...] = (), *, entry_point_group: bool = True) -> list[str]:
    """Import strategy plugins once each: module names, ``.py`` paths, installed entry points.

    A plugin module registers its strategies itself or defines ``STRATEGY``. Returns the
    names of the strategies it added.
    """
    before = set(STRATEGIES)
    for source in sources:
        if source not in LOADED_PLUGINS:
            module = _import(source)
            if isinstance(getattr(module, "STRATEGY", None), Strategy):
                register_strategy(module.STRATEGY)
            LOADED_PLUGINS[source] = module.__name__
    if entry_point_group:
        for ep in entry_points(group="ponder.strategies"):
            if f"ep:{ep.value}" not in LOADED_PLUGINS:
                loaded = ep.load()
                if isinstance(loaded, Strategy):
                    register_strategy(loaded)
                LOADED_PLUGINS[f"ep:{ep.value}"] = ep.value
    return [name for name in STRATEGIES if name not in before]


def _import(source: str) -> ModuleType:
    path = Path(source).expanduser()
    try:
        if source.endswith(".py"):
            if not path.is_file():
                raise ConfigError(f"strategy plugin {source} not found; fix the config's plugins list")
            name = f"ponder_plugin_{path.stem}_{abs(hash(str(path.resolve())))}"
            spec = importlib.util.spec_from_file_location(name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = FILE_PLUGINS[name] = module
            spec.loader.exec_module(module)
            return module
        return importlib.import_module(source)
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"strategy plugin {source!r} failed to load: {type(exc).__name__}: "
                          f"{exc}; fix it or drop it from the config's plugins list") from exc


def needs_sandbox(strategies: Iterable[str], kind: str | None = None) -> bool:
    """Whether a run of ``strategies`` executes code: one of them runs programs, or the
    problems are code problems (graded by their tests)."""
    return kind == "code" or any(get_strategy(name).runs_code for name in strategies)


def sandbox_for(config: Config, strategies: Iterable[str] = (), kind: str | None = None, *,
                always: bool = False) -> Sandbox | None:
    """The one place a run's sandbox is started (a single solve, a batch, a Ray worker, the
    server): ``config.sandbox``'s backend when the run executes code (or ``always``), else
    None. It fails here, before anything runs, when the backend cannot start."""
    if not (always or needs_sandbox(strategies, kind)):
        return None
    return make_sandbox(config.sandbox)
