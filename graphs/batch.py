"""The batch runner: every problem of a dataset through a grid of strategies, resumably.

Work items are (problem, strategy) pairs, scheduled problem by problem, ``concurrency``
at a time. Each finished item is one ``INSERT OR IGNORE`` keyed by (run, problem,
strategy), so a resume (the same command again) skips what is stored, and ``kill -9``
loses at most the items in flight, never duplicating one (their half-written traces are
deleted on resume). Ctrl-C once lets the items in flight finish; twice (or SIGTERM)
discards them whole. The settings that decide results (strategies, samples, models,
sandbox, dataset content) are hashed: a run name reused with another hash is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

from ponder.config import Config, SolveOptions, options_for, renamed_settings
from ponder.config import run_config
from ponder.errors import ConfigError, PonderError, SandboxUnavailable, StoreError
from ponder.eval.datasets import DatasetInfo, DatasetSpec, iter_problems, validate
from ponder.graphs.lifecycle import solve_problem
from ponder.graphs.registry import sandbox_for
from ponder.store import RunInfo, Store
from ponder.types import Problem

FATAL = (ConfigError, SandboxUnavailable, StoreError)
MAX_FAILURES_IN_A_ROW = 5


class BatchSettings(BaseModel):
    """How to run a batch: the strategies and the per-problem :class:`SolveOptions` (they
    enter the run's config hash, with models and dataset), and what may change on a resume
    (concurrency, limit, the whole-run budgets).

    The per-problem options may also be given flat, as before they had a home of their own
    (``samples=4``, ``seed=1``, ``settings={...}``); ``samples`` not given is the config's.

    >>> BatchSettings(strategies=["cot", "verified"], options=SolveOptions(samples=4),
    ...               run="demo", limit=20)
    """

    strategies: list[str] = Field(min_length=1)
    options: SolveOptions = Field(default_factory=SolveOptions)
    concurrency: int | None = Field(None, ge=1, le=256)
    run: str | None = None
    limit: int | None = Field(None, ge=1)
    # For the whole run (may change on a resume); the per-problem budgets are the options'.
    run_budget_usd: float | None = Field(None, gt=0)
    run_budget_tokens: int | None = Field(None, gt=0)
    overwrite: bool = False

    @model_validator(mode="before")
    @classmethod
    def _flat_options(cls, data: Any) -> Any:
        """Per-problem options given flat (and ``strategy_options``) move into ``options``."""
        data = renamed_settings(data, cls.__name__)
        if not isinstance(data, dict):
            return data
        flat = {k: data[k] for k in data if k in SolveOptions.model_fields}
        if not flat:
            return data
        rest = {k: v for k, v in data.items() if k not in flat}
        given = rest.get("options")
        base = (given.model_dump(exclude_unset=True) if isinstance(given, SolveOptions)
                else dict(given or {}))
        # ``None`` is "not given" (``samples=None``: the config's), as the CLI's flags pass it.
        return {**rest, "options": {**base, **{k: v for k, v in flat.items() if v is not None}}}

    def solve_options(self, config: Config) -> SolveOptions:
        """The options every problem of the run is solved with: ``samples`` not given is
        ``config.samples``."""
        if "samples" in self.options.model_fields_set:
            return self.options
        return options_for(config, self.options, samples=config.samples)


@dataclass
class BatchProgress:
    """A snapshot for progress bars: items are (problem, strategy) pairs."""

    run: str
    total: int
    done: int = 0
    resumed: int = 0
    correct: int = 0
    scored: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    in_flight: int = 0
    failed: int = 0
    stopped: str | None = None  # why the batch stopped or is stopping

    @property
    def accuracy(self) -> float:
        return self.correct / self.scored if self.scored else 0.0


class BatchOutcome(BaseModel):
    """How a batch ended: the run, why it stopped (``None``: all done), what this call did."""

    run: RunInfo
    stopped: str | None = None
    solved: int = 0
    resumed: int = 0
    failed: int = 0
    total: int = 0
    errors: list[str] = Field(default_factory=list)


ProgressFn = Callable[[BatchProgress], None]


# run identity -------------------------------------------------------------------------------
def batch_config(spec: DatasetSpec, info: DatasetInfo, config: Config,
                 options: SolveOptions, strategies: list[str]) -> dict[str, Any]:
    """The settings that decide a batch's results (every run's shape, plus its dataset);
    their hash identifies the run."""
    return run_config(config, options, strategies, dataset={
        "source": spec.identity, "sha256": info.sha256, "format": info.format,
        "kind": info.kind, "question_field": info.question_field,
        "answer_field": info.answer_field, "id_field": info.id_field})


def config_hash(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _flatten(data: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    if not isinstance(data, dict):
        yield prefix.rstrip("."), data
    for key, value in (data.items() if isinstance(data, dict) else ()):
        yield from _flatten(value, f"{prefix}{key}.")


def config_changes(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable ``key: old -> new`` lines between two run configs.

    A setting only one side has is no change when it is neutral (``None``, off, empty) or an
    option this version no longer has: a run started before a field was added or retired
    still resumes.
    """
    before, after = dict(_flatten(_renamed_options(old))), dict(_flatten(new))
    return [f"{key}: {before.get(key)!r} -> {after.get(key)!r}"
            for key in sorted(before.keys() | after.keys())
            if before.get(key) != after.get(key) and not _immaterial(key, before, after)]


def _renamed_options(config: dict[str, Any]) -> dict[str, Any]:
    """A run config as this version names it: ``options.strategy_options`` is now
    ``options.settings``."""
    options = config.get("options")
    if not isinstance(options, dict) or "strategy_options" not in options:
        return config
    options = {k: v for k, v in options.items() if k != "strategy_options"}
    return {**config, "options": {**options, "settings": config["options"]["strategy_options"]}}


def _immaterial(key: str, before: dict[str, Any], after: dict[str, Any]) -> bool:
    if key in before and key in after:
        return False
    value = before.get(key, after.get(key))
    retired = key.startswith("options.") and key.split(".")[1] not in SolveOptions.model_fields
    return retired or value in (None, False, "", [], {})


def open_run(store: Store, name: str, settings: dict[str, Any], *, dataset: str,
             overwrite: bool = False) -> RunInfo:
    """The run called ``name`` to resume, or a new one; refuses a run of that name made
    with other settings (``overwrite`` deletes it and starts again)."""
    digest = config_hash(settings)
    existing = store.get_run(name)
    if existing is not None and existing.config_hash != digest \
            and config_changes(existing.config, settings):
        if not overwrite:
            changes = config_changes(existing.config, settings)
            shown = "; ".join(changes[:6]) + (" ..." if len(changes) > 6 else "")
            raise StoreError(
                f"run {name!r} was started with other settings ({shown}). Rerun it with its "
                "original options to resume, choose another --run name, or pass --overwrite "
                "to delete its results and start it again")
        with store.leased(existing.id, what=f"run {name!r}"):  # never delete a run in use
            store.delete_run(existing.id)
        existing = None
    if existing is not None:
        return existing
    try:
        return store.create_run(kind="batch", name=name, config=settings, config_hash=digest,
                                strategies=settings["strategies"], dataset=dataset)
    except StoreError:
        if store.get_run(name) is None:
            raise
        # another process created it a moment ago: open theirs (its lease decides who solves)
        return open_run(store, name, settings, dataset=dataset)


# the runner ---------------------------------------------------------------------------------
class EventGate:
    """The store as the graphs see it, minus trace events of items already discarded.

    A cancelled item's sync nodes may still run in a worker thread; the store decides each
    late write under its lock (:meth:`Store.add_event_if`), so it lands before the discard
    (deleted) or after the close (dropped).
    """

    def __init__(self, store: Store):
        self._store = store
        self._closed: set[tuple[str, str]] = set()

    def add_event(self, event: Any) -> None:
        self._store.add_event_if(event, self._open)

    def _open(self, event: Any) -> bool:
        return (event.problem_id, event.strategy) not in self._closed

    def close(self, problem_id: str, strategy: str) -> None:
        self._closed.add((problem_id, strategy))

    def __getattr__(self, name: str) -> Any:  # everything else goes to the store as is
        return getattr(self._store, name)


@dataclass
class _Session:
    """The mutable state of one batch call."""

    progress: BatchProgress
    semaphore: asyncio.Semaphore
    tasks: dict[asyncio.Task, tuple[str, str]] = field(default_factory=dict)
    stopped: str | None = None
    fatal: BaseException | None = None
    failures_in_a_row: int = 0
    solved: int = 0
    errors: list[str] = field(default_factory=list)


class BatchRunner:
    """Runs one batch; build it with :func:`run_batch` unless you need the pieces."""

    def __init__(self, store: Store, run: RunInfo, graphs: dict[str, Any],
                 settings: BatchSettings, *, concurrency: int,
                 on_progress: ProgressFn | None = None, spent: tuple[int, float] = (0, 0.0),
                 gate: EventGate | None = None):
        self.store, self.run, self.graphs, self.settings = store, run, graphs, settings
        self.gate, self.concurrency = gate, concurrency
        self.on_progress = on_progress or (lambda p: None)
        self.spent_tokens, self.spent_usd = spent
        # Made here, so an interrupt that comes before run_all stops it before it starts.
        self.session = _Session(BatchProgress(run=run.name or run.id, total=0),
                                asyncio.Semaphore(concurrency))

    async def run_all(self, problems: Iterator[tuple[int, Problem]], total: int,
                      *, handle_signals: bool = False) -> _Session:
        """Schedule every missing item; stop on a budget, a signal or a fatal error."""
        s = self.session
        s.progress.total = total
        self._check_budget()
        restore = self._install_signals() if handle_signals else (lambda: None)
        try:
            await self._schedule(problems)
        except BaseException as exc:
            interrupted = isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt))
            s.stopped = s.stopped or ("interrupted" if interrupted else "error")
            self._cancel_in_flight()
            raise
        finally:
            with contextlib.suppress(BaseException):
                await asyncio.gather(*list(s.tasks), return_exceptions=True)
            restore()
            self.on_progress(replace(s.progress, in_flight=0))
        return s

    async def _schedule(self, problems: Iterator[tuple[int, Problem]]) -> None:
        s = self.session
        for position, problem in problems:
            if s.stopped:
                return
            self.store.add_problem(self.run.id, problem, position)
            stored = self.store.problem_results(self.run.id, problem.id)
            for strategy in self.settings.strategies:
                if strategy in stored:
                    self._count(stored[strategy], resumed=True)
                    continue
                await s.semaphore.acquire()
                if s.stopped:
                    s.semaphore.release()
                    return
                task = asyncio.create_task(self._solve(problem, strategy))
                s.tasks[task] = (problem.id, strategy)
                s.progress.in_flight = len(s.tasks)
            self.on_progress(replace(s.progress))

    async def _solve(self, problem: Problem, strategy: str) -> None:
        """Solve one item and store it; failures are counted, fatal ones stop the batch."""
        s = self.session
        try:
            result = await solve_problem(self.graphs[strategy], problem)
            if self.store.save_result(result):
                s.solved += 1
                s.failures_in_a_row = 0
                self._count({"correct": result.correct, "tokens": result.usage.total_tokens,
                             "cost_usd": result.usage.cost_usd})
        except FATAL as exc:
            self._abort(exc)
        except Exception as exc:  # a model or sandbox failure on one problem: retried on resume
            self._failed(problem, strategy, exc)
        finally:
            s.semaphore.release()
            s.tasks.pop(asyncio.current_task(), None)
            s.progress.in_flight = len(s.tasks)
            self.on_progress(replace(s.progress))

    def _failed(self, problem: Problem, strategy: str, exc: Exception) -> None:
        s = self.session
        s.progress.failed += 1
        s.failures_in_a_row += 1
        if len(s.errors) < 20:
            s.errors.append(f"{problem.id} [{strategy}]: {type(exc).__name__}: {exc}")
        if s.failures_in_a_row >= MAX_FAILURES_IN_A_ROW:
            self._abort(PonderError(
                f"{MAX_FAILURES_IN_A_ROW} problems failed in a row, so the batch stopped; "
                f"last: {type(exc).__name__}: {exc}. Fix the cause and rerun to resume"))

    def _abort(self, exc: BaseException) -> None:
        """Stop the batch for an error that every other problem would hit too."""
        s = self.session
        s.fatal, s.stopped = s.fatal or exc, "error"
        self._cancel_in_flight()

    def _count(self, row: dict[str, Any], *, resumed: bool = False) -> None:
        p = self.session.progress
        p.done += 1
        p.resumed += int(resumed)
        if row.get("correct") is not None:
            p.scored += 1
            p.correct += int(bool(row["correct"]))
        p.tokens += int(row.get("tokens") or 0)
        p.cost_usd += float(row.get("cost_usd") or 0.0)
        if not resumed:
            self.spent_tokens += int(row.get("tokens") or 0)
            self.spent_usd += float(row.get("cost_usd") or 0.0)
            self._check_budget()

    def _check_budget(self) -> None:
        s, cfg = self.session, self.settings
        if cfg.run_budget_usd is not None and self.spent_usd >= cfg.run_budget_usd:
            s.stopped = s.stopped or "run_budget_usd"
        elif cfg.run_budget_tokens is not None and self.spent_tokens >= cfg.run_budget_tokens:
            s.stopped = s.stopped or "run_budget_tokens"
        s.progress.stopped = s.stopped

    def interrupt(self, *, now: bool = False) -> None:
        """Ctrl-C: finish what is in flight and start nothing new; a second Ctrl-C (or
        ``now``, SIGTERM) discards the problems in flight instead."""
        s = self.session
        if now or s.stopped == "interrupted":
            self._cancel_in_flight()
        s.stopped = s.progress.stopped = "interrupted"
        self.on_progress(replace(s.progress))

    def _cancel_in_flight(self) -> None:
        for task, (problem_id, strategy) in list(self.session.tasks.items()):
            if task is asyncio.current_task():
                continue
            if self.gate is not None:
                self.gate.close(problem_id, strategy)
            task.cancel()

    def _install_signals(self) -> Callable[[], None]:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, self.interrupt)
        loop.add_signal_handler(signal.SIGTERM, lambda: self.interrupt(now=True))

        def restore() -> None:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
        return restore


def default_run_name(spec: DatasetSpec, digest: str) -> str:
    """``<dataset stem>-<hash>``: the same command resumes the same run."""
    return f"{spec.stem}-{digest[:8]}"


def _start(db: Store, run: RunInfo, info: DatasetInfo, settings: BatchSettings) -> int:
    """Mark the run as running again (after dropping half-written traces); planned problems."""
    db.discard_incomplete(run.id)
    planned = min(info.rows, settings.limit or info.rows)
    db.update_run(run.id, status="running", meta={
        "stopped": None, "limit": settings.limit, "run_budget_usd": settings.run_budget_usd,
        "run_budget_tokens": settings.run_budget_tokens, "planned_problems": planned,
        "dataset_rows": info.rows, "resumes": int(run.meta.get("resumes", -1)) + 1})
    return planned


class BatchCheck(BaseModel):
    """What :func:`check_batch` found: the dataset as read, and each strategy's roles with
    the models they name, the settings it will run with, and the sandbox, if one runs."""

    dataset: DatasetInfo
    strategies: dict[str, dict[str, Any]]
    sandbox: str | None


async def check_batch(spec: DatasetSpec, config: Config, settings: BatchSettings) -> BatchCheck:
    """Everything a batch checks before it solves anything, and nothing else: the dataset
    reads, every strategy exists and takes its settings, its roles' models can be called and
    the strategy accepts them (:func:`ponder.check_run`), and the sandbox starts. No run is
    opened; ``ponder batch --check`` prints this. A ``PonderError`` says what to change."""
    from ponder.graphs.lifecycle import check_run
    from ponder.graphs.registry import check_settings, for_config, get_strategy, own_options
    from ponder.models import ModelClient

    for_config(config)
    options = settings.solve_options(config)
    typed = check_settings(settings.strategies, options)
    info = validate(spec)
    models = ModelClient(config)
    found: dict[str, dict[str, Any]] = {}
    for name in settings.strategies:
        run = check_run(name, config, own_options(get_strategy(name), options), models=models,
                        settings=typed[name])
        found[name] = {"roles": run.roles, "settings": run.settings.model_dump(mode="json")}
    sandbox = sandbox_for(config, settings.strategies, info.kind)
    if sandbox is not None:
        await sandbox.aclose()
    return BatchCheck(dataset=info, strategies=found,
                      sandbox=config.sandbox.backend if sandbox is not None else None)


async def run_batch(spec: DatasetSpec, config: Config, settings: BatchSettings, *,
                    store: Store | None = None, models: Any = None, sandbox: Any = None,
                    on_progress: ProgressFn | None = None,
                    handle_signals: bool = False, executor: Any = "asyncio") -> BatchOutcome:
    """Validate the dataset, open (or resume) the run and solve what is missing.

    ``executor`` solves the items: ``"asyncio"`` (in process), ``"ray"``, or an
    :class:`~ponder.graphs.executors.Executor`; this process stays the store's only writer.

    >>> outcome = await run_batch(DatasetSpec(source="test.jsonl"), config,
    ...                           BatchSettings(strategies=["cot", "verified"], limit=20))
    """
    from ponder.graphs.executors import BatchContext, make_executor
    from ponder.graphs.registry import check_settings, for_config
    from ponder.models import ModelClient

    for_config(config)
    options = settings.solve_options(config)
    # Names and settings, validated once, before the run opens; each strategy's roles and
    # model checks come with its graph (prepare), which marks the run failed when they refuse.
    typed = check_settings(settings.strategies, options)
    executor = make_executor(executor) if isinstance(executor, str) else executor
    info = validate(spec)
    identity = batch_config(spec, info, config, options, settings.strategies)
    sandbox = sandbox or sandbox_for(config, settings.strategies, info.kind)
    db = store or Store(config.store)
    run = open_run(db, settings.run or default_run_name(spec, config_hash(identity)), identity,
                   dataset=spec.label, overwrite=settings.overwrite)
    with db.leased(run.id, what=f"run {run.name!r}"):  # a second process on this run is refused
        planned, gate = _start(db, run, info, settings), EventGate(db)
        models = models or ModelClient(config)  # one client (and one embedded model) for all
        try:
            graphs = await executor.start(BatchContext(config, options, run.id, settings.strategies,
                                                       store=gate, sandbox=sandbox, models=models,
                                                       settings=typed))
        except BaseException as exc:
            db.update_run(run.id, status="failed", meta={"error": str(exc)})
            raise
        used = db.run_usage(run.id)
        runner = BatchRunner(db, run, graphs, settings, gate=gate, on_progress=on_progress,
                             concurrency=settings.concurrency or config.concurrency,
                             spent=(used.total_tokens, used.cost_usd))
        total = planned * len(settings.strategies)
        try:
            await runner.run_all(iter_problems(spec, limit=settings.limit), total,
                                 handle_signals=handle_signals)
        except StoreError as exc:  # the store failed between items (a full disk): a fatal error
            runner.session.fatal = runner.session.fatal or exc
        finally:
            _close_run(db, run, runner.session)
            await executor.close()
    s = runner.session
    if s.fatal is not None:
        raise s.fatal
    return BatchOutcome(run=db.require_run(run.id), stopped=s.stopped, solved=s.solved,
                        resumed=s.progress.resumed, failed=s.progress.failed, total=total,
                        errors=s.errors)


def _close_run(store: Store, run: RunInfo, s: _Session) -> None:
    """Record how the run ended and drop half-written traces.

    On a full disk even this may fail: the run then reads as ``interrupted`` once this
    process has exited (its lease is stale), and the store's error is what is reported.
    """
    left = s.progress.done < s.progress.total
    status = {"run_budget_usd": "stopped", "run_budget_tokens": "stopped", "error": "failed",
              "interrupted": "interrupted"}.get(s.stopped or "", "incomplete" if left else "done")
    meta: dict[str, Any] = {"stopped": s.stopped, "failed": s.progress.failed, "errors": s.errors[:5]}
    if s.fatal is not None:
        meta["error"] = str(s.fatal)
    try:
        store.update_run(run.id, status=status, meta=meta)
        store.discard_incomplete(run.id)
    except StoreError as exc:
        s.fatal, s.stopped = s.fatal or exc, s.stopped or "error"
