"""What nodes are given to do I/O: the model client, the sandbox and the trace sink."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ponder.config import SolveOptions
from ponder.models import ModelClient
from ponder.sandbox import Sandbox
from ponder.types import Problem, TraceEvent, Usage


def _drop(event: TraceEvent) -> None:
    return None


@dataclass
class Deps:
    """Everything a node may use; a node does I/O only through these.

    ``emit`` receives every trace event (the graph builder points it at the store and at
    LangGraph's stream writer); ``progress`` receives small live updates for ``stream``.
    """

    models: ModelClient
    options: SolveOptions = field(default_factory=SolveOptions)
    sandbox: Sandbox | None = None
    run_id: str = "run-local"
    strategy: str = ""
    emit: Callable[[TraceEvent], None] = _drop
    progress: Callable[[dict[str, Any]], None] = lambda update: None

    def record(self, problem: Problem, node: str, started: float, *, parent: str | None = None,
               branch_id: str | None = None, inputs: dict[str, Any] | None = None,
               outputs: dict[str, Any] | None = None, usage: Usage | None = None) -> str:
        """Emit one trace event for ``node`` and return its id (the parent of the next step)."""
        event = TraceEvent(
            run_id=self.run_id, problem_id=problem.id, strategy=self.strategy, node=node,
            branch_id=branch_id, parent_id=parent, started_at=started, ended_at=time.time(),
            inputs=inputs or {}, outputs=outputs or {}, usage=usage or Usage(),
        )
        self.emit(event)
        return event.id
