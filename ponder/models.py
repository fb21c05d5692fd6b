"""Model roles over LiteLLM: the only module that imports ``litellm``.

``ModelClient.acomplete`` takes a role (or a model string), messages and sampling
parameters and returns typed :class:`~ponder.types.Completion` objects with the reasoning
separated, usage and cost counted, ``n`` handled whatever the provider supports, retries on
429/5xx/timeouts and an optional response cache. The embedded ``local/...`` models and the
test ``scripted/...`` models are LiteLLM custom providers registered here.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ponder.cache import ResponseCache, request_key
from ponder.coalesce import Coalescer
from ponder.config import Config, RoleConfig
from ponder.errors import ConfigError
from ponder.providers import (Profile, check_role, degradations, probe_reachable, profile_for,
                              shape_request)
from ponder.responses import split_reasoning, to_completions  # noqa: F401 - re-exported
from ponder.retries import backend_error, backoff
from ponder.streaming import stream_completion
from ponder.types import Completion

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
_log = logging.getLogger("ponder.models")

Style = Literal["chat", "completion", "reasoning"]
Messages = list[dict[str, str]]

# Mid-generation stop hooks for the local provider, keyed by a request id passed through
# LiteLLM in ``extra_body`` (LiteLLM may run custom providers outside the caller's context).
_STOP_HOOKS: dict[str, Callable[[list[float]], bool]] = {}
_EMBEDDED = ("local", "scripted")
# Parallel requests per provider. Remote APIs serve many at once, so a fan-out of k
# branches takes about one branch's wall time; the embedded engine serialises per model.
REMOTE_CONCURRENCY = 32
EMBEDDED_CONCURRENCY = 4
_LOCK = threading.Lock()
_litellm_module: Any = None


def _litellm() -> Any:
    """Import LiteLLM once, offline, with the ponder providers registered."""
    global _litellm_module
    with _LOCK:
        if _litellm_module is None:
            import litellm

            litellm.suppress_debug_info = True
            litellm.telemetry = False
            litellm.turn_off_message_logging = True
            logging.getLogger("LiteLLM").setLevel(logging.ERROR)
            litellm.drop_params = True
            litellm.custom_provider_map = [
                *[p for p in litellm.custom_provider_map if p["provider"] not in ("local", "scripted")],
                {"provider": "local", "custom_handler": _make_provider(litellm, _local_choice)},
                {"provider": "scripted", "custom_handler": _make_provider(litellm, _scripted_choice)},
            ]
            _litellm_module = litellm
        return _litellm_module


def _local_choice(model: str, messages: Messages, params: dict[str, Any], index: int) -> dict:
    from ponder.local import engine

    seed = params.get("seed")
    return engine().complete(
        model, messages,
        max_tokens=int(params.get("max_tokens") or 256),
        temperature=float(params.get("temperature", 0.7)),
        top_p=float(params.get("top_p") or 0.95),
        stop=params.get("stop"),
        seed=None if seed is None else int(seed) + index,
        logprobs=bool(params.get("logprobs")),
        stop_when=_STOP_HOOKS.get((params.get("extra_body") or {}).get("ponder_stop_id", "")),
    )


def _sampled(spec: RoleConfig, request: dict, base_seed: int, first: int) -> dict:
    """``request`` for samples ``first``…, seeded with the run seed plus the sample index.

    A scripted model is told the sample index itself (its contract), whatever the run seed.
    """
    request = {**request, "seed": base_seed + first}
    if spec.provider == "scripted":
        request["extra_body"] = {**request.get("extra_body", {}), "ponder_sample": first}
    return request


def _scripted_choice(model: str, messages: Messages, params: dict[str, Any], index: int) -> dict:
    from ponder.scripted import run_script

    first = int((params.get("extra_body") or {}).get("ponder_sample", 0))  # set by _sampled
    text = run_script(model, messages, first + index)
    words = len(text.split())
    prompt = sum(len((m.get("content") or "").split()) for m in messages)
    return {
        "text": text, "finish_reason": "stop",
        "usage": {"prompt_tokens": prompt, "completion_tokens": words},
        "logprobs": [-0.05] * words if params.get("logprobs") else None,
    }


def _make_provider(litellm: Any, choose: Callable[..., dict]) -> Any:
    """A LiteLLM ``CustomLLM`` that turns ``choose`` results into a ``ModelResponse``."""

    class Provider(litellm.CustomLLM):
        def completion(self, model: str, messages: list, api_base: str, custom_prompt_dict: dict,
                       model_response: Any, print_verbose: Callable, encoding: Any, api_key: Any,
                       logging_obj: Any, optional_params: dict, **kwargs: Any) -> Any:
            n = int(optional_params.get("n") or 1)
            outs = [choose(model, messages, optional_params, i) for i in range(n)]
            choices = []
            for i, out in enumerate(outs):
                choice: dict[str, Any] = {
                    "index": i, "finish_reason": out["finish_reason"],
                    "message": {"role": "assistant", "content": out["text"],
                                # LiteLLM maps unknown finish reasons to "stop"; keep ours.
                                "provider_specific_fields": {"finish_reason": out["finish_reason"]}},
                }
                if out.get("logprobs") is not None:
                    choice["logprobs"] = {"content": [
                        {"token": "", "logprob": lp, "bytes": None, "top_logprobs": []}
                        for lp in out["logprobs"]
                    ]}
                choices.append(choice)
            prompt = outs[0]["usage"]["prompt_tokens"]
            completion = sum(o["usage"]["completion_tokens"] for o in outs)
            return litellm.ModelResponse(
                model=model, choices=choices,
                usage={"prompt_tokens": prompt, "completion_tokens": completion,
                       "total_tokens": prompt + completion},
            )

        async def acompletion(self, *args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(self.completion, *args, **kwargs)

    return Provider()


@dataclass(frozen=True)
class ModelStatus:
    """Whether a role's model can be used now, and what to do if not."""

    role: str
    model: str
    usable: bool
    detail: str
    capabilities: list[str] = field(default_factory=list)
    reachable: str | None = None


class ModelClient:
    """Calls configured model roles through LiteLLM.

    >>> client = ModelClient(load_config())
    >>> [c.text for c in client.complete("standard", "What is 2+2?", n=2)]
    """

    def __init__(self, config: Config, *, cache: ResponseCache | None = None,
                 sleep: Callable[[float], Any] = asyncio.sleep, batch_window_s: float = 0.02):
        self.config = config
        self.cache = cache if cache is not None else (
            ResponseCache(config.cache) if config.cache else None
        )
        self._sleep = sleep
        self._limits: dict[str, asyncio.Semaphore] = {}
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
        return _profile(self.role(role_or_model).model)

    def notes(self, role: str, *, use_logprobs: bool) -> list[str]:
        """What a strategy loses with this role's model (recorded in results and traces)."""
        return degradations(role, self.role(role), self.profile(role), use_logprobs=use_logprobs)

    def style(self, role_or_model: str) -> Style:
        """How to prompt this model: few-shot ``completion``, ``chat`` CoT, or native ``reasoning``."""
        spec = self.role(role_or_model)
        if spec.style != "auto":
            return spec.style
        if spec.provider == "local":
            from ponder.local import local_model

            return local_model(spec.model.split("/", 1)[1]).style
        return "reasoning" if self.profile(role_or_model).reasoning else "chat"

    def complete(self, role: str, messages: Messages | str, **kwargs: Any) -> list[Completion]:
        """Synchronous :meth:`acomplete`."""
        return asyncio.run(self.acomplete(role, messages, **kwargs))

    async def acomplete(
        self, role: str, messages: Messages | str, *, n: int = 1, first_index: int = 0,
        seed: int | None = None, temperature: float | None = None, max_tokens: int | None = None,
        stop: list[str] | None = None, logprobs: bool = False,
        stop_when: Callable[[list[float]], bool] | None = None, **params: Any,
    ) -> list[Completion]:
        """Sample ``n`` completions (sample indices ``first_index``…) from a role or model.

        Parameters the model does not accept are not sent (see :meth:`profile`); a role that
        cannot be used (no key, key for another host) raises ``ConfigError`` before any call.
        """
        spec = self.role(role)
        profile = self._check(role, spec)
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        shaped = shape_request(spec, profile, temperature=temperature, max_tokens=max_tokens,
                               stop=stop, logprobs=logprobs)
        request = {"model": spec.model, "messages": messages, **shaped, **spec.params, **params}
        request = {k: v for k, v in request.items() if v is not None and v is not False}
        base_seed = 0 if seed is None else seed
        indices = list(range(first_index, first_index + n))
        results: dict[int, Completion] = {}
        if self.cache is not None:
            for i in indices:
                hit = self.cache.get(request_key(request, i))
                if hit is not None:
                    results[i] = hit
        missing = [i for i in indices if i not in results]
        hook = None
        if stop_when is not None and spec.provider == "local":
            hook = uuid.uuid4().hex
            _STOP_HOOKS[hook] = stop_when
            request = {**request, "extra_body": {**request.get("extra_body", {}), "ponder_stop_id": hook}}
        try:
            if stop_when is not None and spec.provider not in _EMBEDDED and request.get("logprobs"):
                # Watched token by token: each sample its own stream, cut when the rule fires.
                fresh = await self._sample_each(spec, request, missing, base_seed, watch=stop_when)
            elif len(missing) == 1 and profile.n and spec.provider not in _EMBEDDED:
                # A lone sample of a fan-out: join its siblings in one n-request.
                fresh = [await self._coalescer.join(
                    request_key(request, -1), missing[0],
                    lambda idx: self._sample(spec, profile, request, idx, base_seed))]
            else:
                fresh = await self._sample(spec, profile, request, missing, base_seed)
        finally:
            _STOP_HOOKS.pop(hook or "", None)
        for i, completion in zip(missing, fresh):
            results[i] = completion
            if self.cache is not None:
                self.cache.put(request_key(request, i), completion)
        return [results[i] for i in indices]

    def _check(self, role: str, spec: RoleConfig) -> Profile:
        """The role's profile, after checking once that it can be called at all."""
        profile = _profile(spec.model)
        key = spec.model_dump_json()
        if key not in self._ready and spec.provider not in _EMBEDDED:
            name = role if role in self.config.roles else spec.model
            check_role(name, spec, profile)
            status = check_model(name, spec)
            if not status.usable:
                raise ConfigError(f"role {name!r} ({spec.model}): {status.detail}")
            self._ready.add(key)
        return profile

    async def _sample(self, spec: RoleConfig, profile: Profile, request: dict,
                      indices: list[int], base_seed: int) -> list[Completion]:
        if not indices:
            return []
        if len(indices) > 1 and profile.n:
            batch = await self._call(spec, {**_sampled(spec, request, base_seed, indices[0]),
                                            "n": len(indices)})
            got = batch[: len(indices)]
            # Some servers silently ignore n (one choice back): top up one call per sample.
            rest = await self._sample_each(spec, request, indices[len(got):], base_seed)
            return got + rest
        return await self._sample_each(spec, request, indices, base_seed)

    async def _sample_each(self, spec: RoleConfig, request: dict, indices: list[int],
                           base_seed: int, *, watch: Callable[[list[float]], bool] | None = None,
                           ) -> list[Completion]:
        calls = [self._call(spec, _sampled(spec, request, base_seed, i), watch=watch)
                 for i in indices]
        batches = await asyncio.gather(*calls)
        return [batch[0] for batch in batches]

    def _limit(self, spec: RoleConfig) -> asyncio.Semaphore:
        """Parallel requests per provider: enough for remote fan-outs to overlap fully."""
        key = spec.provider
        if key not in self._limits:
            default = EMBEDDED_CONCURRENCY if spec.provider in _EMBEDDED else REMOTE_CONCURRENCY
            self._limits[key] = asyncio.Semaphore(spec.concurrency or default)
        return self._limits[key]

    async def _call(self, spec: RoleConfig, request: dict,
                    watch: Callable[[list[float]], bool] | None = None) -> list[Completion]:
        """One provider call with retries; returns one Completion per returned choice.

        With ``watch``, the call streams and stops once ``watch(logprobs)`` is true.
        """
        litellm = _litellm()
        kwargs = {**request, "timeout": spec.timeout, "num_retries": 0}
        if spec.api_base:
            kwargs["api_base"] = spec.api_base
        if spec.api_key_env:
            kwargs["api_key"] = os.environ.get(spec.api_key_env)
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                async with self._limit(spec):
                    if watch is not None:
                        return [await stream_completion(litellm, spec.model, kwargs, watch)]
                    response = await litellm.acompletion(**kwargs)
                return to_completions(litellm, spec.model, response, time.perf_counter() - started)
            except Exception as exc:  # noqa: BLE001 - mapped to BackendError below
                error = backend_error(litellm, spec.model, spec.api_base, exc)
                if not error.retryable or attempt >= spec.retries:
                    raise error from exc
                attempt += 1
                wait = backoff(exc, attempt)
                _log.warning("%s; retrying in %.1f s (retry %d of %d)", error, wait, attempt,
                             spec.retries)
                await self._sleep(wait)


_PROFILES: dict[str, Profile] = {}


def _profile(model: str) -> Profile:
    if model not in _PROFILES:
        _PROFILES[model] = profile_for(model, _litellm() if model.split("/", 1)[0]
                                       not in _EMBEDDED else None)
    return _PROFILES[model]


def check_model(role: str, spec: RoleConfig, *, reach: bool = False,
                timeout: float = 5.0) -> ModelStatus:
    """Say whether ``spec`` can be used now: weights present, provider known, key set, role
    options valid; with ``reach``, also whether the provider answers a model-list request."""
    provider = spec.provider
    if provider == "local":
        from ponder.local import weights_status

        ok, detail = weights_status(spec.model.split("/", 1)[1])
        return ModelStatus(role, spec.model, ok, f"weights at {detail}" if ok else detail,
                           _profile(spec.model).uses(), "own worker process" if ok else None)
    if provider == "scripted":
        from ponder.scripted import SCRIPTS

        ok = spec.model.split("/", 1)[1] in SCRIPTS
        return ModelStatus(role, spec.model, ok, "scripted test model" if ok else "not registered")
    litellm = _litellm()
    if provider not in litellm.provider_list:
        return ModelStatus(role, spec.model, False,
                           f"unknown provider {provider!r}; use a LiteLLM provider name such as "
                           "openai, deepseek, anthropic, ollama, hosted_vllm, or local")
    profile = _profile(spec.model)
    try:
        check_role(role, spec, profile)
    except ConfigError as exc:
        return ModelStatus(role, spec.model, False, str(exc), profile.uses())
    if spec.api_key_env:
        missing = [] if os.environ.get(spec.api_key_env) else [spec.api_key_env]
    else:
        env = litellm.validate_environment(model=spec.model, api_base=spec.api_base)
        missing = [k for k in env.get("missing_keys", []) if not k.endswith(("_API_BASE", "_BASE_URL"))]
    if missing:
        return ModelStatus(role, spec.model, False, f"set {' and '.join(missing)} in the environment",
                           profile.uses())
    status = ModelStatus(role, spec.model, True, "key set" if provider != "ollama" else "ready",
                         profile.uses())
    if not reach:
        return status
    ok, detail = probe_reachable(spec, _key(spec), timeout)
    return ModelStatus(role, spec.model, ok, status.detail if ok else detail, profile.uses(),
                       "yes" if ok else "no")


def _key(spec: RoleConfig) -> str | None:
    """The key LiteLLM would send for this role (its own env var unless api_key_env says)."""
    name = spec.api_key_env or f"{spec.provider.upper()}_API_KEY"
    return os.environ.get(name)


def validate_roles(config: Config, roles: list[str] | None = None) -> None:
    """Raise a ``ConfigError`` for the first role in ``roles`` that cannot be used."""
    for name in roles or list(config.roles):
        status = check_model(name, config.role(name))
        if not status.usable:
            raise ConfigError(f"role {name!r} ({status.model}): {status.detail}")
