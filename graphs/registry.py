"""The strategy registry: the one place that knows which strategies exist.

The built-ins register through the same seam as anyone else's: a module defining a
:class:`~ponder.graphs.strategy.Strategy` named ``STRATEGY``. Plugins are loaded from the
config's ``plugins`` list (module names or ``.py`` paths) and from the ``ponder.strategies``
entry-point group of installed packages.

>>> register_strategy(Strategy(name="best-of-n", summary="...", build=build_best_of_n))
>>> get_strategy("best-of-n").runs_code
False
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

from langgraph.graph import StateGraph

from ponder.config import SolveOptions
from ponder.errors import ConfigError
from ponder.graphs.strategies import (beam, best_of_n, checked, cot, direct, escalate, pot,
                                       self_consistency, verified)
from ponder.graphs.strategy import Shape, Strategy

STRATEGIES: dict[str, Strategy] = {}
_COMPILED: dict[tuple[Any, ...], Any] = {}
_LOADED: set[str] = set()
FILE_PLUGINS: dict[str, ModuleType] = {}
"""Plugins loaded from ``.py`` paths, by module name: no other process can import them by
name, so whatever ships their functions elsewhere (the Ray executor) sends them by value."""


def register_strategy(strategy: Strategy) -> Strategy:
    """Add (or replace) a strategy; the CLI, UI, batch runner and server see it at once."""
    if not isinstance(strategy, Strategy):
        raise ConfigError(f"register_strategy takes a ponder.graphs.strategy.Strategy, not "
                          f"{type(strategy).__name__}")
    STRATEGIES[strategy.name] = strategy
    for key in [k for k in _COMPILED if k[0] == strategy.name]:
        del _COMPILED[key]
    return strategy


for _module in (direct, cot, self_consistency, pot, verified, checked, beam, best_of_n, escalate):
    register_strategy(_module.STRATEGY)


def get_strategy(name: str) -> Strategy:
    """The strategy called ``name``; a ``ConfigError`` lists the known ones."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigError(f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}"
                          " (or load yours with the config's plugins list)") from None


def strategy_names() -> list[str]:
    return list(STRATEGIES)


def check_settings(strategies: list[str], settings: dict[str, Any]) -> None:
    """Check strategy names, and that every setting belongs to one of the strategies (a batch
    shares one settings dict; each strategy takes the keys it knows, see :func:`own_options`)."""
    specs = [get_strategy(name) for name in strategies]
    known = {f for spec in specs for f in spec.settings.model_fields}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ConfigError(f"setting {', '.join(unknown)} belongs to none of the strategies "
                          f"{', '.join(strategies)}; their settings: {', '.join(sorted(known)) or 'none'}")
    for spec in specs:
        spec.settings_from(own_options(spec, SolveOptions(strategy_options=settings)))


def own_options(strategy: Strategy, options: SolveOptions) -> SolveOptions:
    """``options`` with only the strategy settings ``strategy`` knows."""
    mine = {k: v for k, v in options.strategy_options.items() if k in strategy.settings.model_fields}
    return options.model_copy(update={"strategy_options": mine})


def compiled(strategy: Strategy, shape: Shape, *, checkpointer: Any = None) -> Any:
    """The strategy's compiled graph for ``shape``: compiled once, reused by every run."""
    key = (strategy.name, id(strategy), shape.plan,
           tuple(sorted((k, id(v)) for k, v in shape.nodes.items())), id(checkpointer))
    if key not in _COMPILED:
        graph = strategy.build(shape)
        if not isinstance(graph, StateGraph):
            raise ConfigError(f"strategy {strategy.name!r}: build(shape) must return an "
                              f"uncompiled langgraph StateGraph, not {type(graph).__name__}")
        # Keep the shape's node functions alive with the graph, so their ids stay unique.
        _COMPILED[key] = (graph.compile(checkpointer=checkpointer), shape, checkpointer)
    return _COMPILED[key][0]


def load_plugins(sources: list[str] | tuple[str, ...] = (), *, entry_point_group: bool = True) -> list[str]:
    """Import strategy plugins once each: module names, ``.py`` paths, installed entry points.

    A plugin module registers its strategies itself or defines ``STRATEGY``. Returns the
    names of the strategies it added.
    """
    before = set(STRATEGIES)
    for source in sources:
        if source not in _LOADED:
            module = _import(source)
            if isinstance(getattr(module, "STRATEGY", None), Strategy):
                register_strategy(module.STRATEGY)
            _LOADED.add(source)
    if entry_point_group:
        for ep in entry_points(group="ponder.strategies"):
            if f"ep:{ep.value}" not in _LOADED:
                loaded = ep.load()
                if isinstance(loaded, Strategy):
                    register_strategy(loaded)
                _LOADED.add(f"ep:{ep.value}")
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
