"""Model roles: the one client every node calls, whichever backend serves the model.

``ModelClient.acomplete`` takes a role (or a model string), messages and sampling
parameters and returns typed :class:`~ponder.types.Completion` objects with the reasoning
separated, usage and cost counted, ``n`` handled whatever the provider supports, retries on
429/5xx/timeouts and an optional response cache. The model string's prefix picks the
backend that makes the call (:mod:`ponder.backends`): LiteLLM's providers, the embedded
``local/...`` models or the scripted ``scripted/...`` test models.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable
from typing import Any, AsyncContextManager, Protocol

from ponder.backends import Backend, Call, Messages, ModelStatus, StopWhen, Style, backend_for
from ponder.backends.base import TextSink
from ponder.cache import ResponseCache, request_key
from ponder.coalesce import Coalescer
from ponder.config import Config, RoleConfig
from ponder.errors import BackendError, ConfigError
from ponder.providers import Profile, check_role, degradations, shape_request
from ponder.responses import split_reasoning  # noqa: F401 - re-exported
from ponder.retries import backoff
from ponder.types import Completion

__all__ = ["Limiter", "ModelClient", "ModelStatus", "ProcessLimiter", "Style", "check_model",
           "validate_roles"]

_log = logging.getLogger("ponder.models")

# Parallel requests per provider. Remote APIs serve many at once, so a fan-out of k
# branches takes about one branch's wall time; the embedded engine serialises per model.
REMOTE_CONCURRENCY = 32
EMBEDDED_CONCURRENCY = 4


class Limiter(Protocol):
    """How many backend calls may run at once: ``limiter(spec)`` is the permit one call holds.

    The seam for limits wider than one process (a Ray batch's cluster-wide limiter).
    """

    def __call__(self, spec: RoleConfig) -> AsyncContextManager[Any]: ...


class ProcessLimiter:
    """Parallel requests per provider in this process: enough for remote fan-outs to overlap
    fully (``REMOTE_CONCURRENCY``), ``EMBEDDED_CONCURRENCY`` for local models, or the role's
    own ``concurrency``."""

    def __init__(self) -> None:
        self._limits: dict[str, asyncio.Semaphore] = {}

    def __call__(self, spec: RoleConfig) -> asyncio.Semaphore:
        key = spec.provider
        if key not in self._limits:
            remote = backend_for(spec.model).remote
            default = REMOTE_CONCURRENCY if remote else EMBEDDED_CONCURRENCY
            self._limits[key] = asyncio.Semaphore(spec.concurrency or default)
        return self._limits[key]


class ModelClient:
    """Calls configured model roles through their backends.

    ``limiter`` hands out the permit each backend call holds (default: :class:`ProcessLimiter`).

    >>> client = ModelClient(load_config())
    >>> [c.text for c in client.complete("standard", "What is 2+2?", n=2)]
    """

    def __init__(self, config: Config, *, cache: ResponseCache | None = None,
                 sleep: Callable[[float], Any] = asyncio.sleep, batch_window_s: float = 0.02,
                 limiter: Limiter | None = None):
        self.config = config
        self.cache = cache if cache is not None else (
            ResponseCache(config.cache) if config.cache else None
        )
        self._sleep = sleep
        self.limiter: Limiter = limiter if limiter is not None else ProcessLimiter()
        self._ready: set[str] = set()
        self._coalescer: Coalescer[Completion] = Coalescer(batch_window_s)

    def role(self, role_or_model: str) -> RoleConfig:
        """The settings for a role name, or defaults for a bare model string."""
        if role_or_model in self.config.roles:
            return self.config.roles[role_or_model]
        if "/" in role_or_model:
            return RoleConfig(model=role_or_model)
        return self.config.role(role_or_model)

    def profile(self, role_or_model: str) -> Profile:
        """What this role's model accepts (see :mod:`ponder.providers`)."""
        model = self.role(role_or_model).model
        return backend_for(model).profile(model)

    def notes(self, role: str, *, use_logprobs: bool) -> list[str]:
        """What a strategy loses with this role's model (recorded in results and traces)."""
        return degradations(role, self.role(role), self.profile(role), use_logprobs=use_logprobs)

    def style(self, role_or_model: str) -> Style:
        """How to prompt this model: few-shot ``completion``, ``chat`` CoT, or native ``reasoning``."""
        spec = self.role(role_or_model)
        if spec.style != "auto":
            return spec.style
        return backend_for(spec.model).style(spec.model)

    def complete(self, role: str, messages: Messages | str, **kwargs: Any) -> list[Completion]:
        """Synchronous :meth:`acomplete`."""
        return asyncio.run(self.acomplete(role, messages, **kwargs))

    async def acomplete(
        self, role: str, messages: Messages | str, *, n: int = 1, first_index: int = 0,
        seed: int | None = None, temperature: float | None = None, max_tokens: int | None = None,
        stop: list[str] | None = None, logprobs: bool = False,
        stop_when: StopWhen | None = None, on_text: TextSink | None = None, **params: Any,
    ) -> list[Completion]:
        """Sample ``n`` completions (sample indices ``first_index``…) from a role or model.

        Parameters the model does not accept are not sent (see :meth:`profile`); a role that
        cannot be used (no key, key for another host) raises ``ConfigError`` before any call.
        ``stop_when(logprobs)`` ends a sample mid-generation once it returns true;
        ``on_text`` receives a single sample's text as it is generated (a cached sample's
        text arrives at once).
        """
        spec = self.role(role)
        backend = backend_for(spec.model)
        profile = self._check(role, spec, backend)
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        shaped = shape_request(spec, profile, temperature=temperature, max_tokens=max_tokens,
                               stop=stop, logprobs=logprobs)
        request = {"model": spec.model, "messages": messages, **shaped, **spec.params, **params}
        request = {k: v for k, v in request.items() if v is not None and v is not False}
        call = Call(messages, {k: v for k, v in request.items() if k not in ("model", "messages")},
                    seed=0 if seed is None else seed, stop_when=stop_when,
                    on_text=on_text if n == 1 else None)
        indices = list(range(first_index, first_index + n))
        results = self._cached(request, indices, call.seed)
        if call.on_text is not None and results:
            call.on_text(results[first_index].text)
        missing = [i for i in indices if i not in results]
        fresh = await self._fresh(backend, spec, profile, call, request, missing)
        for i, completion in zip(missing, fresh):
            results[i] = completion
            if self.cache is not None:
                self.cache.put(request_key(request, i, call.seed), completion)
        return [results[i] for i in indices]

    def _cached(self, request: dict[str, Any], indices: list[int],
                seed: int) -> dict[int, Completion]:
        """The samples of ``request`` under ``seed`` already in the cache, by sample index."""
        found: dict[int, Completion] = {}
        if self.cache is not None:
            for i in indices:
                hit = self.cache.get(request_key(request, i, seed))
                if hit is not None:
                    found[i] = hit
        return found

    async def _fresh(self, backend: Backend, spec: RoleConfig, profile: Profile, call: Call,
                     request: dict[str, Any], indices: list[int]) -> list[Completion]:
        """Samples ``indices`` of ``call``, in as few backend calls as the model allows."""
        watched = call.stop_when is not None and call.params.get("logprobs")
        if backend.remote and (watched or call.on_text is not None):
            # Watched token by token: each sample its own stream, cut when the rule fires.
            return await self._sample_each(backend, spec, call, indices)
        if len(indices) == 1 and profile.n and backend.remote:
            # A lone sample of a fan-out: join its siblings in one n-request.
            return [await self._coalescer.join(
                request_key(request, -1, call.seed), indices[0],
                lambda joined: self._sample(backend, spec, profile, call, joined))]
        return await self._sample(backend, spec, profile, call, indices)

    def _check(self, role: str, spec: RoleConfig, backend: Backend) -> Profile:
        """The role's profile, after checking once that a remote model can be called at all."""
        profile = backend.profile(spec.model)
        key = spec.model_dump_json()
        if key not in self._ready and backend.remote:
            name = role if role in self.config.roles else spec.model
            check_role(name, spec, profile)
            status = backend.status(name, spec)
            if not status.usable:
                raise ConfigError(f"role {name!r} ({spec.model}): {status.detail}")
            self._ready.add(key)
        return profile

    async def _sample(self, backend: Backend, spec: RoleConfig, profile: Profile, call: Call,
                      indices: list[int]) -> list[Completion]:
        """Sample ``indices``: each run of consecutive ones as one n-request where the model
        takes ``n`` (an n-request's choices are samples ``first``, ``first + 1``, ...)."""
        runs = await asyncio.gather(*[self._sample_run(backend, spec, profile, call, run)
                                      for run in _consecutive(indices)])
        return [completion for run in runs for completion in run]

    async def _sample_run(self, backend: Backend, spec: RoleConfig, profile: Profile, call: Call,
                          indices: list[int]) -> list[Completion]:
        if not indices:
            return []
        if len(indices) > 1 and profile.n:
            batch = await self._call(backend, spec, _samples(call, indices[0], len(indices)))
            got = batch[: len(indices)]
            # Some servers silently ignore n (one choice back): top up one call per sample.
            rest = await self._sample_each(backend, spec, call, indices[len(got):])
            return got + rest
        return await self._sample_each(backend, spec, call, indices)

    async def _sample_each(self, backend: Backend, spec: RoleConfig, call: Call,
                           indices: list[int]) -> list[Completion]:
        batches = await asyncio.gather(*[self._call(backend, spec, _samples(call, i, 1))
                                         for i in indices])
        return [batch[0] for batch in batches]

    async def _call(self, backend: Backend, spec: RoleConfig, call: Call) -> list[Completion]:
        """One backend call with retries; returns one Completion per returned choice."""
        attempt = 0
        while True:
            try:
                async with self.limiter(spec):
                    return await backend.complete(spec, call)
            except BackendError as error:
                if not error.retryable or attempt >= spec.retries:
                    raise
                attempt += 1
                # The provider's own exception, when there is one, says how long to wait.
                wait = backoff(error.__cause__ or error, attempt)
                _log.warning("%s; retrying in %.1f s (retry %d of %d)", error, wait, attempt,
                             spec.retries)
                await self._sleep(wait)


def _samples(call: Call, first: int, n: int) -> Call:
    """``call`` for samples ``first``…``first + n - 1``, each seeded with the run seed plus its
    index (a scripted model is handed the index itself)."""
    return dataclasses.replace(call, first=first, n=n, seed=call.seed + first)


def check_model(role: str, spec: RoleConfig, *, reach: bool = False,
                timeout: float = 5.0) -> ModelStatus:
    """Say whether ``spec`` can be used now: weights present, provider known, key set, role
    options valid; with ``reach``, also whether the provider answers a model-list request."""
    return backend_for(spec.model).status(role, spec, reach=reach, timeout=timeout)


def validate_roles(config: Config, roles: list[str] | None = None) -> None:
    """Raise a ``ConfigError`` for the first role in ``roles`` that cannot be used."""
    for name in roles or list(config.roles):
        status = check_model(name, config.role(name))
        if not status.usable:
            raise ConfigError(f"role {name!r} ({status.model}): {status.detail}")


def _consecutive(indices: list[int]) -> list[list[int]]:
    """``[0, 2, 3]`` as ``[[0], [2, 3]]``: cache hits can leave gaps between missing samples."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][-1] + 1 == i:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs
