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
import random
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ponder.cache import ResponseCache, request_key
from ponder.config import Config, RoleConfig
from ponder.errors import BackendError, ConfigError
from ponder.types import Completion, Usage

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

Style = Literal["chat", "completion", "reasoning"]
Messages = list[dict[str, str]]

# Mid-generation stop hooks for the local provider, keyed by a request id passed through
# LiteLLM in ``extra_body`` (LiteLLM may run custom providers outside the caller's context).
_STOP_HOOKS: dict[str, Callable[[list[float]], bool]] = {}
_REASONING_MODELS = re.compile(r"(reasoner|\br1\b|-r1|/o[134](-|$)|o[134]-mini|qwq|thinking)", re.I)
_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.S)
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


def _scripted_choice(model: str, messages: Messages, params: dict[str, Any], index: int) -> dict:
    from ponder.scripted import run_script

    text = run_script(model, messages, int(params.get("seed") or 0) + index)
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


def split_reasoning(text: str, reasoning_content: str | None = None) -> tuple[str, str | None]:
    """Separate thinking from the final text.

    Providers return thinking either as ``reasoning_content`` or inline in ``<think>``
    blocks (DeepSeek-R1 style, sometimes with the opening tag missing, or cut off unclosed).
    """
    pieces = [reasoning_content] if reasoning_content else []
    if "</think>" in text and "<think>" not in text.split("</think>", 1)[0]:
        head, text = text.split("</think>", 1)
        pieces.append(head)
    pieces.extend(m.group(1) for m in _THINK.finditer(text))
    text = _THINK.sub("", text)
    reasoning = "\n".join(p.strip() for p in pieces if p and p.strip())
    return text.strip(), reasoning or None


@dataclass(frozen=True)
class ModelStatus:
    """Whether a role's model can be used now, and what to do if not."""

    role: str
    model: str
    usable: bool
    detail: str


class ModelClient:
    """Calls configured model roles through LiteLLM.

    >>> client = ModelClient(load_config())
    >>> [c.text for c in client.complete("standard", "What is 2+2?", n=2)]
    """

    def __init__(self, config: Config, *, cache: ResponseCache | None = None,
                 sleep: Callable[[float], Any] = asyncio.sleep):
        self.config = config
        self.cache = cache if cache is not None else (
            ResponseCache(config.cache) if config.cache else None
        )
        self._sleep = sleep
        self._limits: dict[str, asyncio.Semaphore] = {}

    def role(self, role_or_model: str) -> RoleConfig:
        """The settings for a role name, or defaults for a bare model string."""
        if role_or_model in self.config.roles:
            return self.config.roles[role_or_model]
        if "/" in role_or_model:
            return RoleConfig(model=role_or_model)
        return self.config.role(role_or_model)

    def style(self, role_or_model: str) -> Style:
        """How to prompt this model: few-shot ``completion``, ``chat`` CoT, or native ``reasoning``."""
        spec = self.role(role_or_model)
        if spec.style != "auto":
            return spec.style
        if spec.provider == "local":
            from ponder.local import local_model

            return local_model(spec.model.split("/", 1)[1]).style
        return "reasoning" if _REASONING_MODELS.search(spec.model) else "chat"

    def complete(self, role: str, messages: Messages | str, **kwargs: Any) -> list[Completion]:
        """Synchronous :meth:`acomplete`."""
        return asyncio.run(self.acomplete(role, messages, **kwargs))

    async def acomplete(
        self, role: str, messages: Messages | str, *, n: int = 1, first_index: int = 0,
        seed: int | None = None, temperature: float | None = None, max_tokens: int | None = None,
        stop: list[str] | None = None, logprobs: bool = False,
        stop_when: Callable[[list[float]], bool] | None = None, **params: Any,
    ) -> list[Completion]:
        """Sample ``n`` completions (sample indices ``first_index``…) from a role or model."""
        spec = self.role(role)
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        request = {
            "model": spec.model, "messages": messages,
            "temperature": spec.temperature if temperature is None else temperature,
            "max_tokens": max_tokens or spec.max_tokens, "stop": stop, "logprobs": logprobs,
            "top_p": spec.top_p, **spec.params, **params,
        }
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
            fresh = await self._sample(spec, request, missing, base_seed)
        finally:
            _STOP_HOOKS.pop(hook or "", None)
        for i, completion in zip(missing, fresh):
            results[i] = completion
            if self.cache is not None:
                self.cache.put(request_key(request, i), completion)
        return [results[i] for i in indices]

    async def _sample(self, spec: RoleConfig, request: dict, indices: list[int],
                      base_seed: int) -> list[Completion]:
        if not indices:
            return []
        if len(indices) > 1 and self._supports_n(spec.model):
            batch = await self._call(spec, {**request, "n": len(indices), "seed": base_seed + indices[0]})
            got = batch[: len(indices)]
            # OpenAI-compatible local servers silently ignore n: top up one call at a time.
            rest = await self._sample_each(spec, request, indices[len(got):], base_seed)
            return got + rest
        return await self._sample_each(spec, request, indices, base_seed)

    async def _sample_each(self, spec: RoleConfig, request: dict, indices: list[int],
                           base_seed: int) -> list[Completion]:
        calls = [self._call(spec, {**request, "seed": base_seed + i}) for i in indices]
        batches = await asyncio.gather(*calls)
        return [batch[0] for batch in batches]

    def _supports_n(self, model: str) -> bool:
        provider = model.split("/", 1)[0]
        if provider in ("local", "scripted"):
            return True
        try:
            params = _litellm().get_supported_openai_params(model=model) or []
        except Exception:
            return False
        return "n" in params

    def _limit(self, spec: RoleConfig) -> asyncio.Semaphore:
        key = spec.provider
        if key not in self._limits:
            self._limits[key] = asyncio.Semaphore(self.config.concurrency)
        return self._limits[key]

    async def _call(self, spec: RoleConfig, request: dict) -> list[Completion]:
        """One provider call with retries; returns one Completion per returned choice."""
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
                    response = await litellm.acompletion(**kwargs)
                return _to_completions(litellm, spec.model, response, time.perf_counter() - started)
            except Exception as exc:  # noqa: BLE001 - mapped to BackendError below
                error = _backend_error(spec.model, exc)
                if not error.retryable or attempt >= spec.retries:
                    raise error from exc
                attempt += 1
                await self._sleep(_backoff(exc, attempt))


def _backoff(exc: Exception, attempt: int) -> float:
    """Seconds to wait before retry ``attempt``: the provider's Retry-After, else jittered 2^n."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    retry_after = headers.get("retry-after") if hasattr(headers, "get") else None
    if retry_after:
        try:
            return min(float(retry_after), 120.0)
        except ValueError:
            pass
    return min(0.5 * 2 ** (attempt - 1), 30.0) * (0.75 + 0.5 * random.random())


_NO_RETRY_HINTS = {
    401: "check the API key (the provider rejected it)",
    403: "the key is not allowed to use this model",
    404: "check the model name",
}


def _backend_error(model: str, exc: Exception) -> BackendError:
    if isinstance(exc, BackendError):
        return exc
    if isinstance(exc, ConfigError):
        raise exc
    litellm = _litellm()
    status = getattr(exc, "status_code", None)
    message = str(getattr(exc, "message", None) or exc).strip().splitlines()[0][:500]
    if isinstance(exc, litellm.ContextWindowExceededError):
        return BackendError(model, status or 400, f"prompt too long for the context window: {message}")
    if isinstance(exc, (litellm.Timeout, litellm.APIConnectionError)) and status in (None, 408, 500):
        return BackendError(model, status, f"no answer in time or no connection: {message}", retryable=True)
    if status == 429 or (status is not None and status >= 500):
        return BackendError(model, status, message, retryable=True)
    hint = _NO_RETRY_HINTS.get(status or 0)
    return BackendError(model, status, f"{message}" + (f" — {hint}" if hint else ""))


def _to_completions(litellm: Any, model: str, response: Any, latency: float) -> list[Completion]:
    """Turn a LiteLLM ``ModelResponse`` into Completions, splitting usage across choices."""
    usage = getattr(response, "usage", None)
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    details = getattr(usage, "completion_tokens_details", None)
    reasoning = int(getattr(details, "reasoning_tokens", 0) or 0)
    cost = _cost(litellm, response, model)
    choices = list(response.choices)
    k = max(len(choices), 1)
    out = []
    for i, choice in enumerate(choices):
        message = choice.message
        text, thinking = split_reasoning(message.content or "", getattr(message, "reasoning_content", None))
        share = Usage(
            prompt_tokens=prompt if i == 0 else 0,
            completion_tokens=completion // k + (completion % k if i == 0 else 0),
            reasoning_tokens=reasoning // k + (reasoning % k if i == 0 else 0),
            cost_usd=cost / k, latency_s=latency if i == 0 else 0.0, calls=1 if i == 0 else 0,
        )
        if reasoning == 0 and thinking:
            # Inline <think> text with no provider count: estimate by character share.
            share.reasoning_tokens = round(
                share.completion_tokens * len(thinking) / (len(thinking) + len(text) or 1))
        out.append(Completion(
            model=model, text=text, reasoning=thinking, usage=share,
            finish_reason=(getattr(message, "provider_specific_fields", None) or {}).get(
                "finish_reason", getattr(choice, "finish_reason", None)),
            logprobs=_logprobs(choice),
        ))
    return out


def _logprobs(choice: Any) -> list[float] | None:
    data = getattr(choice, "logprobs", None)
    content = getattr(data, "content", None) if data is not None else None
    if content is None and isinstance(data, dict):
        content = data.get("content")
    if not content:
        return None
    return [float(getattr(t, "logprob", None) if not isinstance(t, dict) else t["logprob"]) for t in content]


def _cost(litellm: Any, response: Any, model: str) -> float:
    if model.split("/", 1)[0] in ("local", "scripted"):
        return 0.0
    hidden = getattr(response, "_hidden_params", {}) or {}
    if hidden.get("response_cost") is not None:
        return float(hidden["response_cost"])
    try:
        return float(litellm.completion_cost(completion_response=response, model=model))
    except Exception:
        return 0.0


def check_model(role: str, spec: RoleConfig) -> ModelStatus:
    """Say whether ``spec`` can be used now: weights present, provider known, key set."""
    provider = spec.provider
    if provider == "local":
        from ponder.local import weights_status

        ok, detail = weights_status(spec.model.split("/", 1)[1])
        return ModelStatus(role, spec.model, ok, f"weights at {detail}" if ok else detail)
    if provider == "scripted":
        from ponder.scripted import SCRIPTS

        ok = spec.model.split("/", 1)[1] in SCRIPTS
        return ModelStatus(role, spec.model, ok, "scripted test model" if ok else "not registered")
    litellm = _litellm()
    if provider not in litellm.provider_list:
        return ModelStatus(role, spec.model, False,
                           f"unknown provider {provider!r}; use a LiteLLM provider name such as "
                           "openai, deepseek, anthropic, ollama, hosted_vllm, or local")
    if spec.api_key_env:
        missing = [] if os.environ.get(spec.api_key_env) else [spec.api_key_env]
    else:
        env = litellm.validate_environment(model=spec.model, api_base=spec.api_base)
        missing = [k for k in env.get("missing_keys", []) if not k.endswith(("_API_BASE", "_BASE_URL"))]
    if missing:
        return ModelStatus(role, spec.model, False, f"set {' and '.join(missing)} in the environment")
    return ModelStatus(role, spec.model, True, "key set" if provider not in ("ollama",) else "ready")


def validate_roles(config: Config, roles: list[str] | None = None) -> None:
    """Raise a ``ConfigError`` for the first role in ``roles`` that cannot be used."""
    for name in roles or list(config.roles):
        status = check_model(name, config.role(name))
        if not status.usable:
            raise ConfigError(f"role {name!r} ({status.model}): {status.detail}")
