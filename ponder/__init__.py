"""ponder: inference-time reasoning pipelines — plan, reason, verify with code, vote.

This package is the core, the floor every other layer stands on: configuration, types,
errors, events, the registries, model backends and the client over them, the embedded
models and their engine, sandboxes, the store and evaluation data. Core modules import
nothing above them. Its subpackages ``ponder.cli`` and ``ponder.serve`` are front ends that
only live here for packaging; ``ponder.agents``, ``ponder.graphs`` and ``ponder.ui`` come from
the top-level folders of the same names. The names below (``solve``, ``build_graph``...) are
re-exported from ``ponder.graphs`` on first use, so importing ``ponder`` stays light.

>>> import ponder
>>> result = ponder.solve("What is 17 + 25?", strategy="verified", samples=4)
>>> result.answer
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ponder.errors import (BackendError, BudgetExceeded, ConfigError, DatasetError,
                           ModelOutputError, PonderError, SandboxUnavailable, StoreError)
from ponder.types import Branch, Problem, Result, TraceEvent, Usage, Vote

__version__ = "0.1.0"

if TYPE_CHECKING:
    from ponder.config import Config, RoleConfig, SolveOptions, load_config
    from ponder.graphs.api import (Strategy, asolve, build_graph, check_run, register_strategy,
                                   solve)
    from ponder.feedback import annotate

_LAZY = {
    "solve": "ponder.graphs.api", "asolve": "ponder.graphs.api",
    "build_graph": "ponder.graphs.api", "register_strategy": "ponder.graphs.api",
    "check_run": "ponder.graphs.api",
    "Strategy": "ponder.graphs.api",
    "Config": "ponder.config", "RoleConfig": "ponder.config", "SolveOptions": "ponder.config",
    "load_config": "ponder.config", "annotate": "ponder.feedback",
}


def __getattr__(name: str) -> Any:
    # Heavy imports (LangGraph, LiteLLM) wait until first use so `ponder --help` stays fast.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ponder' has no attribute {name!r}")


__all__ = [
    "BackendError", "Branch", "BudgetExceeded", "Config", "ConfigError", "DatasetError",
    "ModelOutputError", "PonderError", "Problem", "Result", "RoleConfig", "SandboxUnavailable",
    "SolveOptions", "StoreError", "Strategy", "TraceEvent", "Usage", "Vote", "annotate", "asolve",
    "build_graph", "check_run", "load_config", "register_strategy", "solve",
]
