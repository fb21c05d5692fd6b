"""What nodes are given to do I/O: the model client, the sandbox, the strategy's settings,
and a way to describe their own step in the trace.

``Deps`` is generic in the strategy's settings model, as pydantic-ai's ``RunContext[DepsT]``
is in its dependencies: a node of a strategy with ``BeamSettings`` declares
``deps: Deps[BeamSettings]`` and reads ``deps.settings.beam_width`` typed. A bare ``Deps`` is
``Deps[NoSettings]``; code generic over strategies writes ``Deps[Any]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic

from pydantic import BaseModel
from typing_extensions import TypeVar

from ponder.config import SolveOptions
from ponder.models import ModelClient
from ponder.sandbox import Sandbox
from ponder.types import TraceEvent, Usage


def _drop(item: Any) -> None:
    return None


class NoSettings(BaseModel):
    """A strategy without options of its own."""

    model_config = {"extra": "forbid"}


SettingsT = TypeVar("SettingsT", bound=BaseModel, default=NoSettings)
"""A strategy's own settings model (``NoSettings`` when it has none)."""


def _no_settings() -> Any:
    return NoSettings()


@dataclass
class Span:
    """What a node says about its step beyond what the node wrapper measures itself.

    The wrapper times every node, sums the usage of every model call made through
    ``deps.models`` and records parentage; a node adds inputs and outputs worth showing with
    :meth:`Deps.trace`, or the wrapper records a summary of the node's update.
    """

    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] | None = None
    usage: Usage | None = None
    metered: list[Usage] = field(default_factory=list)
    # The node's OpenTelemetry span (ponder.telemetry.NodeSpan), set by the node wrapper.
    otel: Any = None


@dataclass(frozen=True)
class Deps(Generic[SettingsT]):
    """Everything a node may use; a node does I/O only through these. Never mutated: each
    node invocation gets its own view (see ``ponder.graphs.runtime``).

    ``emit`` receives every trace event (the store); ``progress`` receives typed progress
    events (``ponder.events``) for whoever streams the run.
    """

    models: ModelClient
    options: SolveOptions = field(default_factory=SolveOptions)
    settings: SettingsT = field(default_factory=_no_settings)
    sandbox: Sandbox | None = None
    run_id: str = "run-local"
    strategy: str = ""
    emit: Callable[[TraceEvent], None] = _drop
    progress: Callable[[Any], None] = _drop
    span: Span | None = None
    # Stream model text as it is generated (``TextDelta`` progress), for a live viewer.
    stream_text: bool = False

    def trace(self, *, inputs: dict[str, Any] | None = None,
              outputs: dict[str, Any] | None = None, usage: Usage | None = None) -> None:
        """Describe this node's step in its trace event (a no-op outside a traced node)."""
        if self.span is None:
            return
        if inputs is not None:
            self.span.inputs = inputs
        if outputs is not None:
            self.span.outputs = outputs
        if usage is not None:
            self.span.usage = usage
