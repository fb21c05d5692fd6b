"""Running one chat request as one run: plan it, record it (kind ``serve``), drive the graph,
and leave the run ``done``, ``failed`` or ``cancelled`` whatever happens to the request."""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from ponder.config import Config, SolveOptions
from ponder.errors import BackendError, ConfigError, SandboxUnavailable
from ponder.events import RunFinished, RunStarted
from ponder.serve.protocol import ChatRequest, ServeError, check_strategy, parse_model, problem_text
from ponder.store import Store
from ponder.types import Problem, Result, new_id

log = logging.getLogger("ponder.serve")
OnProgress = Callable[[dict[str, Any]], Awaitable[None]]


class ServeSettings(BaseModel):
    """How the endpoint admits and limits requests.

    >>> ServeSettings(api_keys=("sk-local",), max_concurrent=16, timeout_s=120)
    """

    api_keys: tuple[str, ...] = ()
    max_concurrent: int = Field(8, ge=1, le=1024)
    timeout_s: float = Field(600.0, gt=0)
    # fnmatch patterns of models a request may name beyond the configured roles' models.
    allowed_models: tuple[str, ...] = ()
    shutdown_grace_s: int = Field(30, ge=0)


@dataclass(frozen=True)
class Plan:
    """A request resolved into what to run."""

    model: str
    strategy: str
    problem: Problem
    config: Config
    options: SolveOptions


class Runner:
    """Turns requests into runs in one store, with shared model clients and sandbox."""

    def __init__(self, config: Config, settings: ServeSettings, *, store: Store | None = None,
                 strategies: Callable[[], list[str]] | None = None):
        self.config, self.settings = config, settings
        self.store = store or Store(config.store)
        self._strategies = strategies
        self.in_flight = 0
        self._runs: dict[str, Any] = {}
        self._sandbox: Any = None
        self._mean_s = 1.0

    def warm(self) -> None:
        """Import the graph builders and LiteLLM (seconds of CPU) before the first request."""
        from ponder.backends.litellm import load_litellm
        from ponder.graphs.registry import get_strategy, load_plugins

        load_plugins(self.config.plugins)
        get_strategy(self.config.strategy)
        load_litellm()

    # admission --------------------------------------------------------------------------
    def strategies(self) -> list[str]:
        if self._strategies is not None:
            return self._strategies()
        from ponder.graphs.registry import strategy_names

        return strategy_names()

    def admit(self) -> None:
        """Take a slot or refuse with 429 and a ``Retry-After`` from recent run times."""
        if self.in_flight >= self.settings.max_concurrent:
            wait = max(1, min(60, math.ceil(self._mean_s)))
            raise ServeError(429, f"the server is running {self.in_flight} requests, its limit "
                             f"(--max-concurrent); retry after {wait}s",
                             type="rate_limit_error", code="server_busy",
                             headers={"Retry-After": str(wait)})
        self.in_flight += 1

    def release(self, took_s: float) -> None:
        self.in_flight -= 1
        self._mean_s = 0.8 * self._mean_s + 0.2 * took_s

    # planning ---------------------------------------------------------------------------
    def plan(self, request: ChatRequest) -> Plan:
        """Resolve model name and overrides into strategy, samples, models and budgets."""
        known = self.strategies()
        name = parse_model(request.model, known)
        over = request.ponder
        strategy = (over and over.strategy) or name.strategy
        check_strategy(strategy, known)
        reasoner = (over and over.model) or name.model
        standard = over and over.standard
        for model in (reasoner, standard):
            if model:
                self._check_allowed(model)
        try:
            config = self.config.with_models(reasoner=reasoner, standard=standard)
            options = SolveOptions(
                samples=(over and over.samples) or name.samples or config.samples,
                early_stop=True if over is None or over.early_stop is None else over.early_stop,
                budget_usd=over and over.budget_usd, budget_tokens=over and over.budget_tokens,
                seed=over and over.seed)
        except ConfigError as exc:
            raise ServeError(400, str(exc), param="model") from None
        problem = Problem(question=problem_text(request), kind=(over and over.kind) or "math")
        return Plan(request.model, strategy, problem, config, options)

    def _check_allowed(self, model: str) -> None:
        configured = {r.model for r in self.config.roles.values()}
        if model in configured or any(fnmatch.fnmatchcase(model, p)
                                      for p in self.settings.allowed_models):
            return
        raise ServeError(403, f"model {model!r} is not served here; configured models: "
                         f"{', '.join(sorted(configured))}. Start the server with "
                         "--allow-model PATTERN (e.g. 'openai/*') to allow others",
                         type="permission_error", param="model", code="model_not_allowed")

    # running ----------------------------------------------------------------------------
    def open(self, plan: Plan, meta: dict[str, Any]) -> str:
        """Record the run (status ``running``) before anything runs, so its id can go out."""
        from ponder.graphs.lifecycle import SolveRun
        from ponder.graphs.registry import get_strategy
        from ponder.models import ModelClient

        # A model client per request: a shared one would let its coalescer merge two
        # requests' identical samples into one call (one completion, counted twice).
        sandbox = self._shared_sandbox() if get_strategy(plan.strategy).runs_code else None
        run = SolveRun(plan.problem, plan.strategy, plan.config, plan.options, store=self.store,
                       sandbox=sandbox, models=ModelClient(plan.config), kind="serve",
                       meta={"source": "serve", "model": plan.model, **meta})
        run.open()
        self._runs[run.run_id] = run
        return run.run_id

    async def execute(self, plan: Plan, run_id: str, on_progress: OnProgress | None = None) -> Result:
        """Run the plan to a stored result; every way out leaves the run's status set."""
        run = self._runs[run_id]
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                async for event in run.events():
                    if on_progress is not None and not isinstance(event, (RunStarted, RunFinished)):
                        await on_progress(event)
        except TimeoutError:
            self._finish(run_id, "failed", f"timed out after {self.settings.timeout_s:g}s")
            raise ServeError(504, f"the run took longer than the server's request timeout "
                             f"({self.settings.timeout_s:g}s); ask for fewer samples or a "
                             f"cheaper strategy (run {run_id})", type="timeout_error",
                             code="timeout") from None
        except asyncio.CancelledError:
            self._finish(run_id, None)  # the lifecycle recorded it as cancelled
            raise
        except BaseException as exc:
            error = _as_serve_error(exc, run_id)
            self._finish(run_id, "failed", error.message)
            raise error from exc
        self._finish(run_id, None)
        assert run.result is not None
        return run.result

    def _finish(self, run_id: str, status: str | None, error: str | None = None) -> None:
        run = self._runs.pop(run_id, None)
        if status is not None:
            if run is not None:
                run.end(status, error)
            else:
                self.store.update_run(run_id, status=status, meta={"error": error} if error else None)

    def _shared_sandbox(self) -> Any:
        if self._sandbox is None:
            from ponder.sandbox import make_sandbox

            self._sandbox = make_sandbox(self.config.sandbox)
        return self._sandbox

    def close(self, reason: str = "server shut down") -> None:
        """Mark runs still open as cancelled (graceful shutdown's last step)."""
        for run_id in list(self._runs):
            self._finish(run_id, "cancelled", reason)


def _as_serve_error(exc: BaseException, run_id: str) -> ServeError:
    """What went wrong, as the OpenAI error a client should see."""
    if isinstance(exc, ServeError):
        return exc
    if isinstance(exc, SandboxUnavailable):
        return ServeError(503, f"the code sandbox cannot start on this server: {exc}; use a "
                          "strategy that runs no code (cot, self-consistency)",
                          type="server_error", code="sandbox_unavailable")
    if isinstance(exc, BackendError):
        return ServeError(502, f"the model provider failed: {exc} (run {run_id})",
                          type="api_error", code="upstream_error")
    if isinstance(exc, ConfigError):
        return ServeError(400, str(exc))
    log.exception("run %s failed", run_id, exc_info=exc)
    return ServeError(500, f"the run failed: {type(exc).__name__}: {exc}; the server log has "
                      f"the traceback (run {run_id})", type="server_error", code="internal_error")
