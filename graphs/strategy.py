"""A strategy is one unit: everything the CLI, UI, batch runner and server need to know about
it lives in one :class:`Strategy` spec, defined in one file and registered in
:mod:`ponder.graphs.registry`.

>>> STRATEGY = Strategy(name="best-of-n", summary="Best of N by a verifier",
...                     build=build_best_of_n, runs_code=True)
>>> register_strategy(STRATEGY)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from ponder.agents.deps import NoSettings
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


def planned_samples_of(options: SolveOptions, settings: BaseModel) -> int:
    return options.samples


@dataclass(frozen=True)
class Strategy:
    """Everything about one strategy.

    ``build(shape)`` returns an uncompiled ``StateGraph`` whose state includes ``problem``
    and ends with ``result`` set; ``settings`` is the strategy's own options model (filled
    from ``SolveOptions.strategy_options``); ``roles`` names the model roles a run needs;
    ``prepare`` adjusts the shared options (e.g. one sample for ``cot``); ``check`` refuses a
    configuration up front with a ``ConfigError``; ``planned_samples`` is the sample budget
    a run plans for (what ``Result.max_samples`` reports).
    """

    name: str
    summary: str
    build: Callable[[Shape], Any]
    runs_code: bool = False
    settings: type[BaseModel] = NoSettings
    roles: Callable[[SolveOptions, BaseModel], list[str]] = default_roles
    prepare: Callable[[SolveOptions, BaseModel], SolveOptions] = keep_options
    check: Callable[[ModelClient, SolveOptions, BaseModel], None] = no_check
    planned_samples: Callable[[SolveOptions, BaseModel], int] = planned_samples_of

    def settings_from(self, options: SolveOptions) -> BaseModel:
        """The strategy's own settings from ``options.strategy_options``; a ``ConfigError``
        names the settings it has."""
        try:
            return self.settings.model_validate(options.strategy_options)
        except ValidationError as exc:
            fields = ", ".join(self.settings.model_fields) or "none"
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"strategy {self.name!r}: {problems} (its settings: {fields})") from None
