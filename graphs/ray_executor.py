"""The Ray executor: a batch's items solved by worker actors on a Ray cluster.

The driver (the ``ponder batch`` process) keeps scheduling, budgets and the store: it sends
one (problem, strategy) item at a time to the least busy worker and writes what comes back
(the result and the item's trace events), so it stays the store's single writer and resume
is exactly as safe as in process. Each worker is an async actor holding one model client
(embedded models load once per worker), one sandbox and the compiled graphs; by default
there is one worker per node. A worker killed mid-item is restarted and the item retried
(Ray actor task retries); an item is stored once, when its result reaches the driver.
Provider concurrency and rate limits are held cluster-wide by one limiter actor.

>>> outcome = await run_batch(spec, config, settings, executor=RayExecutor(address="auto"))
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import re
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ponder.errors import ConfigError, PonderError
from ponder.graphs.registry import FILE_PLUGINS
from ponder.backends import backend_for
from ponder.models import REMOTE_CONCURRENCY, ModelClient, ProcessLimiter
from ponder.types import Problem, Result, TraceEvent

if TYPE_CHECKING:  # executors picks this module by name: a runtime import would be a loop
    from ponder.graphs.executors import BatchContext

NAMESPACE = "ponder"
INSTALL_HINT = "the ray executor needs Ray on the driver and every node: pip install 'ponder[ray]'"


MIN_RAY = (2, 60)  # token authentication on by default; older clusters take unauthenticated jobs
LOOPBACK = "127.0.0.1"
# Ray turns a loopback node address into the machine's external one unless "cluster mode" is
# off (its setting for Windows and macOS, which only ever run local clusters).
_CLUSTER_MODE_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def import_ray() -> Any:
    """``ray``, or a :class:`ConfigError` that says how to install or upgrade it."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(f"{INSTALL_HINT} ({exc})") from None
    found = tuple(int(p) for p in re.findall(r"\d+", ray.__version__)[:2])
    if found < MIN_RAY:
        raise ConfigError(f"ray {ray.__version__} is too old: ponder needs ray>="
                          f"{'.'.join(map(str, MIN_RAY))}, whose clusters require a token. "
                          "Upgrade it: pip install -U 'ponder[ray]'")
    return ray


@contextlib.contextmanager
def loopback_cluster(ray: Any) -> Iterator[None]:
    """While a local cluster starts: every Ray process binds 127.0.0.1, and the files it
    creates (the auth token above all) are readable by this user only.

    Passing ``_node_ip_address="127.0.0.1"`` alone is not enough: ``ray.init`` replaces a
    loopback address with the machine's external one while Ray's cluster mode is on, and the
    GCS, raylets, workers and agents then listen on every interface. With cluster mode off
    (for this start only: the variable reaches the processes started now) the node address
    stays loopback and each server binds it. Checked with the sockets, not the docs: see
    tests/graphs/test_ray_executor.py.
    """
    constants = importlib.import_module("ray._private.ray_constants")
    saved_env, saved_mode = os.environ.get(_CLUSTER_MODE_ENV), constants.ENABLE_RAY_CLUSTER
    os.environ[_CLUSTER_MODE_ENV], constants.ENABLE_RAY_CLUSTER = "0", False
    saved_umask = os.umask(0o077)
    try:
        private_token()
        yield
    finally:
        os.umask(saved_umask)
        constants.ENABLE_RAY_CLUSTER = saved_mode
        if saved_env is None:
            os.environ.pop(_CLUSTER_MODE_ENV, None)
        else:
            os.environ[_CLUSTER_MODE_ENV] = saved_env
        private_token()


def private_token() -> None:
    """Make Ray's token file (``RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token``) readable by
    its owner only: Ray writes it with the default umask (0644)."""
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    with contextlib.suppress(OSError):
        if path.is_file() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


# cluster-wide limits -----------------------------------------------------------------------
class ProviderLimiter:
    """Per-provider concurrency and requests-per-minute for the whole cluster (a Ray actor).

    A permit is a lease: one held by a worker that died expires after ``lease_s`` instead
    of shrinking the limit for the rest of the run.
    """

    def __init__(self, per_minute: dict[str, int] | None = None):
        self.per_minute = dict(per_minute or {})
        self.held: dict[str, dict[int, float]] = {}
        self.starts: dict[str, deque[float]] = {}
        self.peak: dict[str, int] = {}
        self.granted = 0
        self.changed = asyncio.Event()

    async def acquire(self, key: str, limit: int, lease_s: float) -> int:
        """Wait for a permit for ``key``; returns its token for :meth:`release`."""
        while True:
            now = time.monotonic()
            held = self.held.setdefault(key, {})
            for token in [t for t, deadline in held.items() if deadline < now]:
                del held[token]
            wait = self._pace_wait(key, now)
            if len(held) < limit and wait <= 0:
                self.granted += 1
                held[self.granted] = now + lease_s
                self.starts.setdefault(key, deque()).append(now)
                self.peak[key] = max(self.peak.get(key, 0), len(held))
                return self.granted
            self.changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), timeout=max(wait, 0.05) if wait > 0 else 1.0)

    def _pace_wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` may start another request under its per-minute limit."""
        rate = self.per_minute.get(key)
        starts = self.starts.setdefault(key, deque())
        while starts and starts[0] <= now - 60:
            starts.popleft()
        return 0.0 if rate is None or len(starts) < rate else starts[0] + 60 - now

    def release(self, key: str, token: int) -> None:
        self.held.get(key, {}).pop(token, None)
        self.changed.set()

    def stats(self) -> dict[str, Any]:
        """Most permits held at once, per provider (what tests and the benchmark check)."""
        return {"peak": dict(self.peak), "granted": self.granted}


class _ClusterPermit:
    """``async with``: one permit from the limiter actor, released even on cancellation."""

    def __init__(self, limiter: Any, key: str, limit: int, lease_s: float):
        self.limiter, self.key, self.limit, self.lease_s = limiter, key, limit, lease_s
        self.token: int | None = None

    async def __aenter__(self) -> None:
        self.token = await self.limiter.acquire.remote(self.key, self.limit, self.lease_s)

    async def __aexit__(self, *exc: object) -> None:
        if self.token is not None:
            self.limiter.release.remote(self.key, self.token)


class ClusterLimiter:
    """A model client's limiter (:class:`ponder.models.Limiter`) whose provider limits are the
    cluster's, held by the limiter actor, not this process's.

    Embedded models keep the per-process limit: each worker has its own model instance.
    """

    def __init__(self, actor: Any):
        self.actor = actor
        self.local = ProcessLimiter()

    def __call__(self, spec: Any) -> Any:
        if not backend_for(spec.model).remote:
            return self.local(spec)
        lease_s = spec.timeout + 30.0  # a call never holds a permit longer than its timeout
        return _ClusterPermit(self.actor, spec.provider, spec.concurrency or REMOTE_CONCURRENCY,
                              lease_s)


# workers -----------------------------------------------------------------------------------
class SolverWorker:
    """One worker (a Ray actor): solves items and hands back results with their traces."""

    def __init__(self, context: BatchContext, backends: dict[str, Any], limiter: str):
        import ray

        from ponder.backends import register_backend
        from ponder.graphs.registry import sandbox_for

        for prefix, backend in backends.items():  # what the driver passed, explicitly
            register_backend(prefix, backend)
        self.events: dict[tuple[str, str], list[TraceEvent]] = {}
        sandbox = sandbox_for(context.config, always=True) if context.needs_sandbox else None
        # Looked up by name: an actor handle among the constructor arguments would make a
        # restarted worker depend on those arguments staying in the object store.
        models = ModelClient(context.config, limiter=ClusterLimiter(
            ray.get_actor(limiter, namespace=NAMESPACE)))
        self.graphs = context.build_graphs(store=self, sandbox=sandbox, models=models)

    def add_event(self, event: TraceEvent) -> None:
        self.events.setdefault((event.problem_id, event.strategy), []).append(event)

    def pid(self) -> int:
        import os

        return os.getpid()

    async def solve(self, problem: Problem, strategy: str) -> tuple[Result, list[TraceEvent]]:
        key = (problem.id, strategy)
        self.events.pop(key, None)  # what a cancelled earlier attempt left behind
        try:
            state = await self.graphs[strategy].ainvoke({"problem": problem})
            return state["result"], self.events.get(key, [])
        finally:
            self.events.pop(key, None)


class RemoteGraph:
    """What the batch runner sees of a strategy on Ray: ``ainvoke`` like a compiled graph."""

    def __init__(self, executor: RayExecutor, strategy: str):
        self.executor, self.strategy = executor, strategy

    async def ainvoke(self, state: dict[str, Any]) -> dict[str, Any]:
        return {"result": await self.executor.solve(state["problem"], self.strategy)}


def _check_local_models(context: BatchContext, backends: dict[str, Any]) -> None:
    """Refuse, before any worker starts, a role whose model exists only in this process (a
    scripted test double) unless its backend was passed to the executor."""
    for name, role in sorted(context.config.roles.items()):
        prefix = role.model.split("/", 1)[0]
        if prefix == "scripted" and prefix not in backends:
            raise ConfigError(
                f"role {name!r} uses {role.model}, a scripted model registered in this process, "
                "which Ray workers cannot see; pass its backend to the executor: "
                "RayExecutor(backends={'scripted': ScriptedBackend({name: script})})")


@dataclass
class RayExecutor:
    """Items solved by ``workers`` actors on the Ray cluster at ``address``.

    ``address``: ``None`` starts a private cluster on 127.0.0.1 for this batch (unless
    ``RAY_ADDRESS`` names one); ``"auto"`` joins the one ``ray start`` made on this machine,
    ``"ray://HOST:PORT"`` a remote one. ``workers`` defaults to one per node.
    ``per_minute`` caps requests per provider per minute across the cluster. ``backends``
    are model backends every worker registers (by provider prefix) before it starts: the only
    way a model that lives in this process, such as a scripted test double, reaches them.

    >>> RayExecutor(address="ray://head:10001", per_minute={"openai": 500})
    >>> RayExecutor(backends={"scripted": ScriptedBackend({"add": add})})   # tests
    """

    address: str | None = None
    workers: int | None = None
    worker_cpus: float = 1.0
    item_retries: int = 3
    per_minute: dict[str, int] | None = None
    backends: dict[str, Any] = field(default_factory=dict)
    name: str = field(default="ray", init=False)

    def __post_init__(self) -> None:
        self.ray = import_ray()
        self.actors: list[Any] = []
        self.busy: list[int] = []
        self.limiter: Any = None
        self.args: list[Any] = []
        self.owns_connection = False
        self.store: Any = None

    async def start(self, context: BatchContext) -> dict[str, Any]:
        _check_local_models(context, self.backends)
        self._connect()
        remote_context = context.for_workers()
        self.store = context.store
        limiter = f"ponder-limiter-{context.run_id}-{uuid.uuid4().hex[:8]}"
        self.limiter = self.ray.remote(ProviderLimiter).options(
            name=limiter, namespace=NAMESPACE, max_concurrency=10_000,
            max_restarts=-1).remote(self.per_minute)
        worker = self.ray.remote(SolverWorker).options(
            num_cpus=self.worker_cpus, max_concurrency=10_000, max_restarts=-1,
            max_task_retries=self.item_retries, scheduling_strategy="SPREAD")
        count = self.workers or sum(1 for node in self.ray.nodes() if node.get("Alive"))
        # The constructor's arguments live in the object store, held here for the whole batch:
        # a restarted actor (a killed worker) reads them again, and an argument Ray stored on
        # its own would already be released by then.
        for module in FILE_PLUGINS.values():  # not importable by name on a worker
            self.ray.cloudpickle.register_pickle_by_value(module)
        self.args = [self.ray.put(remote_context), self.ray.put(dict(self.backends))]
        self.actors = [worker.remote(*self.args, limiter) for _ in range(max(1, count))]
        self.busy = [0] * len(self.actors)
        try:
            await asyncio.gather(*[actor.pid.remote() for actor in self.actors])
        except self.ray.exceptions.RayError as exc:
            await self.close()
            raise ConfigError(f"the Ray workers could not start: {_cause(exc)}. Every node needs "
                              "ponder with its extras and bubblewrap installed") from None
        return {s: RemoteGraph(self, s) for s in context.strategies}

    def _connect(self) -> None:
        """Join ``address`` (or ``RAY_ADDRESS``); without either, start a private cluster on
        127.0.0.1 (never one that another ``ray start`` left running: its network is not
        ours to vouch for)."""
        if self.ray.is_initialized():
            return
        options = {"include_dashboard": False, "log_to_driver": False}
        try:
            if self.address is not None or os.environ.get("RAY_ADDRESS"):
                self.ray.init(address=self.address, **options)
            else:
                with loopback_cluster(self.ray):
                    self.ray.init(address="local", _node_ip_address=LOOPBACK, **options)
        except ConnectionError as exc:
            raise ConfigError(f"cannot reach the Ray cluster at {self.address!r}: {exc}. Start "
                              "one with `ray start --head` or check --ray-address") from None
        self.owns_connection = True

    async def solve(self, problem: Problem, strategy: str) -> Result:
        """Solve one item on the least busy worker; write its trace, return its result."""
        slot = min(range(len(self.actors)), key=self.busy.__getitem__)
        self.busy[slot] += 1
        ref = self.actors[slot].solve.remote(problem, strategy)
        try:
            result, events = await ref
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                self.ray.cancel(ref)
            raise
        except self.ray.exceptions.RayTaskError as exc:  # the item failed: its own error
            raise _cause(exc) from None
        except self.ray.exceptions.RayActorError as exc:
            raise PonderError(f"the Ray worker solving {problem.id} [{strategy}] died "
                              f"{self.item_retries + 1} times ({exc}); rerun the same command "
                              "to retry it") from None
        finally:
            self.busy[slot] -= 1
        for event in events:
            self.store.add_event(event)
        return result

    async def limiter_stats(self) -> dict[str, Any]:
        return await self.limiter.stats.remote()

    async def worker_pids(self) -> list[int]:
        return list(await asyncio.gather(*[actor.pid.remote() for actor in self.actors]))

    async def close(self) -> None:
        for actor in [*self.actors, self.limiter]:
            if actor is not None:
                with contextlib.suppress(Exception):
                    self.ray.kill(actor)
        self.actors, self.limiter, self.args = [], None, []
        if self.owns_connection:
            self.ray.shutdown()
            self.owns_connection = False


def _cause(exc: BaseException) -> BaseException:
    """The worker's own exception inside a Ray error, where it survived the trip."""
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc
