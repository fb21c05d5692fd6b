"""Running one chat request as one run: plan it, record it (kind ``serve``), drive the graph,
and leave the run ``done``, ``failed`` or ``cancelled`` whatever happens to the request."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import logging
import math
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from ponder.config import Config, SolveOptions, options_for
from ponder.errors import BackendError, ConfigError, SandboxUnavailable, StoreError
from ponder.events import RunFinished, RunStarted
from ponder.serve.content import ContentFormat, check_response_format
from ponder.serve.protocol import (ChatRequest, PonderOverrides, ServeError, check_strategy,
                                   parse_model, problem_text)
from ponder.serve.writer import StoreWriter
from ponder.store import Store
from ponder.types import Problem, Result

log = logging.getLogger("ponder.serve")
OnProgress = Callable[[dict[str, Any]], Awaitable[None]]


class ServeSettings(BaseModel):
    """How the endpoint admits and limits requests.

    >>> ServeSettings(api_keys=("sk-local",), max_concurrent=16, timeout_s=120)
    """

    api_keys: tuple[str, ...] = ()
    max_concurrent: int = Field(8, ge=1, le=1024)
    timeout_s: float = Field(600.0, gt=0, le=86400)
    # fnmatch patterns of models a request may name beyond the configured roles' models.
    allowed_models: tuple[str, ...] = ()
    shutdown_grace_s: int = Field(30, ge=0, le=3600)
    content: ContentFormat = "solution"
    # Caps on what one request may ask for; a request above them is a 400.
    max_samples: int = Field(64, ge=1, le=256)
    max_budget_usd: float | None = Field(None, gt=0)
    # Before admission: the body, its nesting, how long a client may take to send it.
    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    max_json_depth: int = Field(32, ge=4, le=512)
    body_timeout_s: float = Field(30.0, gt=0)
    head_timeout_s: float = Field(10.0, gt=0)
    max_connections: int = Field(256, ge=2)


@dataclass(frozen=True)
class Plan:
    """A request resolved into what to run and how to answer."""

    model: str
    strategy: str
    problem: Problem
    config: Config
    options: SolveOptions
    content: ContentFormat = "solution"
    response_format: dict[str, Any] | None = None


class Runner:
    """Turns requests into runs in one store, with shared model clients and sandbox."""

    def __init__(self, config: Config, settings: ServeSettings, *, store: Store | None = None,
                 strategies: Callable[[], list[str]] | None = None):
        self.config, self.settings = config, settings
        self.store = store or Store(config.store)
        self.writer = StoreWriter(self.store)
        self._strategies = strategies
        self._slots: dict[int, asyncio.Task[Any] | None] = {}
        self._slot_ids = 0
        self._runs: dict[str, Any] = {}
        self._sandbox: Any = None
        self._sandbox_lock = threading.Lock()
        self._mean_s = 1.0

    def warm(self) -> None:
        """Import the graph builders and LiteLLM (seconds of CPU) before the first request."""
        from ponder.backends.litellm import load_litellm
        from ponder.graphs.registry import get_strategy

        get_strategy(self.config.strategy, self.config)
        load_litellm()

    # admission --------------------------------------------------------------------------
    def strategies(self) -> list[str]:
        if self._strategies is not None:
            return self._strategies()
        from ponder.graphs.registry import strategy_names

        return strategy_names()

    @property
    def in_flight(self) -> int:
        return len(self._slots)

    def admit(self) -> int:
        """Take a slot (returned, for :meth:`release`) or refuse with 429 and a
        ``Retry-After`` from recent run times."""
        if self.in_flight >= self.settings.max_concurrent:
            wait = max(1, min(60, math.ceil(self._mean_s)))
            raise ServeError(429, f"the server is running {self.in_flight} requests, its limit "
                             f"(--max-concurrent); retry after {wait}s",
                             type="rate_limit_error", code="server_busy",
                             headers={"Retry-After": str(wait)})
        self._slot_ids += 1
        self._slots[self._slot_ids] = asyncio.current_task()
        return self._slot_ids

    def release(self, slot: int, took_s: float) -> None:
        self._slots.pop(slot, None)
        self._mean_s = 0.8 * self._mean_s + 0.2 * took_s

    # planning ---------------------------------------------------------------------------
    def plan(self, request: ChatRequest) -> Plan:
        """Resolve model name and overrides into strategy, samples, models and budgets."""
        known = self.strategies()
        name = parse_model(request.model, known)
        over = request.ponder or PonderOverrides()
        strategy = over.strategy or name.strategy
        check_strategy(strategy, known)
        reasoner, standard = over.model or name.model, over.standard
        for model in (reasoner, standard):
            if model:
                self._check_allowed(model)
        response_format = check_response_format(request.response_format)
        try:
            config = self.config.with_models(reasoner=reasoner, standard=standard)
            options = options_for(
                config, samples=self._samples(over.samples or name.samples or config.samples),
                early_stop=True if over.early_stop is None else over.early_stop,
                budget_usd=self._budget(over.budget_usd), budget_tokens=over.budget_tokens,
                seed=over.seed if over.seed is not None else request.seed)
        except ConfigError as exc:
            raise ServeError(400, str(exc), param="model") from None
        problem = Problem(question=problem_text(request), kind=over.kind or "math")
        return Plan(request.model, strategy, problem, config, options,
                    content=over.content or self.settings.content,
                    response_format=response_format)

    def _samples(self, samples: int) -> int:
        cap = self.settings.max_samples
        if samples > cap:
            raise ServeError(400, f"{samples} samples asked for; this server allows at most "
                             f"{cap} per request (--max-samples)", param="model",
                             code="too_many_samples")
        return samples

    def _budget(self, budget_usd: float | None) -> float | None:
        cap = self.settings.max_budget_usd
        if cap is not None and budget_usd is not None and budget_usd > cap:
            raise ServeError(400, f"a budget of ${budget_usd:g} asked for; this server allows "
                             f"at most ${cap:g} per request (--max-budget-usd)",
                             param="ponder.budget_usd", code="budget_too_high")
        return budget_usd if budget_usd is not None else cap

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
    async def open(self, plan: Plan, meta: dict[str, Any]) -> str:
        """Record the run (status ``running``) and start its sandbox, so its id can go out.

        Any failure is an OpenAI-format error and the run is recorded ``failed`` with it
        (as far as the store can record anything: a locked or full one may refuse that too).
        """
        from ponder.graphs.lifecycle import SolveRun
        from ponder.graphs.registry import needs_sandbox
        from ponder.models import ModelClient

        # A model client per request: a shared one would let its coalescer merge two
        # requests' identical samples into one call (one completion, counted twice).
        run = SolveRun(plan.problem, plan.strategy, plan.config, plan.options,
                       models=ModelClient(plan.config), kind="serve",
                       meta={"source": "serve", "model": plan.model, **meta})
        run.store = self.writer.for_run(run.run_id)  # type: ignore[assignment]
        self._runs[run.run_id] = run
        try:
            run.open()
            if needs_sandbox([plan.strategy]):
                run.sandbox = await asyncio.to_thread(self._shared_sandbox)
            await self.writer.flush(run.run_id)
        except asyncio.CancelledError:  # the server is shutting down
            self._runs.pop(run.run_id, None)
            self.writer.record_end(run.run_id, "cancelled", "server shut down")
            raise
        except Exception as exc:
            error = _as_serve_error(exc, run.run_id)
            error.run_id = run.run_id
            await self._fail(run.run_id, error.message)
            raise error from exc
        return run.run_id

    async def execute(self, plan: Plan, run_id: str, on_progress: OnProgress | None = None) -> Result:
        """Run the plan to a stored result; every way out leaves the run's status set."""
        run = self._runs[run_id]
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                async for event in run.events():
                    if on_progress is not None and not isinstance(event, (RunStarted, RunFinished)):
                        await on_progress(event)
                await self.writer.flush(run_id)  # the result is stored before it is sent
        except TimeoutError:
            await self._fail(run_id, f"timed out after {self.settings.timeout_s:g}s")
            raise ServeError(504, f"the run took longer than the server's request timeout "
                             f"({self.settings.timeout_s:g}s); ask for fewer samples or a "
                             f"cheaper strategy (run {run_id})", type="timeout_error",
                             code="timeout") from None
        except asyncio.CancelledError:
            self._runs.pop(run_id, None)  # the lifecycle recorded it as cancelled
            self.writer.forget(run_id)
            raise
        except BaseException as exc:
            error = _as_serve_error(exc, run_id)
            await self._fail(run_id, error.message)
            raise error from exc
        self._runs.pop(run_id, None)
        self.writer.forget(run_id)
        assert run.result is not None
        return run.result

    async def _fail(self, run_id: str, error: str) -> None:
        """Record the run ``failed`` (after any write of it that failed) and wait for that."""
        self._runs.pop(run_id, None)
        self.writer.record_end(run_id, "failed", error)
        with contextlib.suppress(Exception):
            await self.writer.flush(run_id)
        self.writer.forget(run_id)

    def _shared_sandbox(self) -> Any:
        """The server's one sandbox, started by the first request that runs code (in a
        thread: starting it may take a while); one that cannot start is tried again later."""
        with self._sandbox_lock:
            if self._sandbox is None:
                from ponder.graphs.registry import sandbox_for

                self._sandbox = sandbox_for(self.config, always=True)
            return self._sandbox

    def close(self, reason: str = "server shut down") -> None:
        """Mark runs still open as cancelled and write what is queued (shutdown's last step)."""
        for run_id in list(self._runs):
            self._runs.pop(run_id, None)
            self.writer.record_end(run_id, "cancelled", reason)
        self.writer.flush_sync(timeout_s=60)
        self.writer.stop()

    def health(self) -> dict[str, Any]:
        """``ok``, or ``degraded`` when a slot is held by a request that has ended (a leak:
        never expected, and reported rather than hidden)."""
        leaked = sum(1 for task in self._slots.values() if task is None or task.done())
        return {"status": "degraded" if leaked else "ok", "in_flight": self.in_flight,
                "leaked_slots": leaked, "open_runs": len(self._runs),
                "max_concurrent": self.settings.max_concurrent}


def _as_serve_error(exc: BaseException, run_id: str) -> ServeError:
    """What went wrong, as the OpenAI error a client should see."""
    if isinstance(exc, ServeError):
        return exc
    if isinstance(exc, StoreError):
        full = "is full" in str(exc.__cause__ or exc)  # SQLITE_FULL: "database or disk is full"
        return ServeError(507 if full else 503, f"the run store cannot record this request: "
                          f"{exc} (run {run_id})", type="server_error",
                          code="store_full" if full else "store_unavailable",
                          headers={} if full else {"Retry-After": "30"})
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
