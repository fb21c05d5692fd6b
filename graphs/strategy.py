"""A strategy is one unit: everything the CLI, UI, batch runner and server need to know about
it lives in one :class:`Strategy` spec, defined in one file and registered in
:mod:`ponder.graphs.registry`.

A strategy with settings of its own is generic in them, as LangGraph's ``Runtime[ContextT]``
and pydantic-ai's ``RunContext[DepsT]`` are in theirs: ``Strategy(settings=BestOfNSettings,
...)`` is a ``Strategy[BestOfNSettings]``, its ``roles``/``prepare``/``check`` receive a
``BestOfNSettings``, and its nodes declare ``deps: Deps[BestOfNSettings]`` to read
``deps.settings.require_verified`` typed, without a cast.

>>> STRATEGY = Strategy(name="best-of-n", summary="Best of N by a verifier",
...                     build=build_best_of_n, runs_code=True, settings=BestOfNSettings)
>>> register_strategy(STRATEGY)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, cast

from pydantic import BaseModel, ValidationError

from ponder.agents.deps import NoSettings, SettingsT
from ponder.config import SolveOptions
from ponder.errors import ConfigError
from ponder.graphs.runtime import Node, traced
from ponder.models import ModelClient


@dataclass(frozen=True)
class Shape:
    """What a builder may vary a graph's structure on (the graph compiles once per shape)."""

    plan: bool = False
    nodes: dict[str, Node] = field(default_factory=dict)

    def node(self, name: str, default: Node, *, trace_as: str | None = None) -> Node:
        """The traced callable for node ``name``: the user's replacement, else ``default``."""
        return traced(name, self.nodes.get(name, default), trace_as=trace_as)


def default_roles(options: SolveOptions, settings: BaseModel) -> list[str]:
    """The reasoning role, and the standard role when it plans first."""
    return ["reasoner"] + (["standard"] if options.plan else [])


def keep_options(options: SolveOptions, settings: BaseModel) -> SolveOptions:
    return options


def no_check(models: ModelClient, options: SolveOptions, settings: BaseModel) -> None:
    return None


def one_sample(options: SolveOptions, settings: BaseModel) -> SolveOptions:
    """A ``prepare`` for single-answer strategies (``direct``, ``cot``): one sample."""
    return options.model_copy(update={"samples": 1})


@dataclass(frozen=True)
class Strategy(Generic[SettingsT]):
    """Everything about one strategy.

    ``build(shape)`` returns an uncompiled ``StateGraph`` whose state includes ``problem``
    and ends with ``result`` set; ``settings`` is the strategy's own settings model (filled
    once per run from ``SolveOptions.settings``, the ``--set`` flag, and handed to its nodes
    as ``deps.settings``); ``roles`` names the model roles a run needs; ``prepare`` adjusts
    the shared options (e.g. one sample for ``cot``); ``check`` refuses a configuration up
    front with a ``ConfigError``.

    ``planned_samples`` is deprecated and unused: ``Result.max_samples`` is what a
    strategy's graph reports. It stays only while a built-in still passes it.
    """

    name: str
    summary: str
    build: Callable[[Shape], Any]
    runs_code: bool = False
    # The default stands for the type parameter's own default: a Strategy without settings
    # is a Strategy[NoSettings].
    settings: type[SettingsT] = cast("type[SettingsT]", NoSettings)
    roles: Callable[[SolveOptions, SettingsT], list[str]] = default_roles
    prepare: Callable[[SolveOptions, SettingsT], SolveOptions] = keep_options
    check: Callable[[ModelClient, SolveOptions, SettingsT], None] = no_check
    planned_samples: Callable[[SolveOptions, SettingsT], int] | None = None

    def settings_from(self, options: SolveOptions) -> SettingsT:
        """The strategy's own settings from ``options.settings``; a ``ConfigError`` names
        the settings it has."""
        try:
            return self.settings.model_validate(options.settings)
        except ValidationError as exc:
            fields = ", ".join(self.settings.model_fields) or "none"
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"strategy {self.name!r}: {problems} (its settings: {fields})") from None
