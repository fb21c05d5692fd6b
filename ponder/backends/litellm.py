"""The LiteLLM backend: every hosted or served provider LiteLLM knows by name.

The only module that imports ``litellm``. It imports it lazily (several seconds of CPU) and
offline (``LITELLM_LOCAL_MODEL_COST_MAP``), and hands the module to the helpers that read
LiteLLM's objects: :mod:`ponder.responses`, :mod:`ponder.streaming`, :mod:`ponder.retries`
and :func:`ponder.providers.profile_for`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from ponder.backends.base import Call, ModelStatus, Style
from ponder.config import RoleConfig
from ponder.errors import ConfigError
from ponder.providers import Profile, check_role, probe_reachable, profile_for
from ponder.responses import to_completions
from ponder.retries import backend_error
from ponder.streaming import stream_completion
from ponder.types import Completion

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

_LOCK = threading.Lock()
_litellm_module: Any = None


def load_litellm() -> Any:
    """Import LiteLLM once, offline and quiet."""
    global _litellm_module
    with _LOCK:
        if _litellm_module is None:
            import litellm

            litellm.suppress_debug_info = True
            litellm.telemetry = False
            litellm.turn_off_message_logging = True
            logging.getLogger("LiteLLM").setLevel(logging.ERROR)
            litellm.drop_params = True
            _litellm_module = litellm
        return _litellm_module


class LiteLLMBackend:
    """Providers reached through ``litellm.acompletion``: ``openai/o4-mini``,
    ``deepseek/deepseek-reasoner``, ``hosted_vllm/...``, ``ollama/qwen3`` and the rest.

    A stop rule is honoured by streaming the sample and closing the stream once the rule
    fires (one sample per call, and only with logprobs: the rule reads them).

    >>> await LiteLLMBackend().complete(RoleConfig(model="openai/gpt-4o-mini"), Call(messages))
    """

    remote = True

    def __init__(self) -> None:
        self._profiles: dict[str, Profile] = {}

    def profile(self, model: str) -> Profile:
        if model not in self._profiles:
            self._profiles[model] = profile_for(model, load_litellm())
        return self._profiles[model]

    def style(self, model: str) -> Style:
        return "reasoning" if self.profile(model).reasoning else "chat"

    def status(self, role: str, spec: RoleConfig, *, reach: bool = False,
               timeout: float = 5.0) -> ModelStatus:
        litellm = load_litellm()
        if spec.provider not in litellm.provider_list:
            return ModelStatus(role, spec.model, False,
                               f"unknown provider {spec.provider!r}; use a LiteLLM provider name "
                               "such as openai, deepseek, anthropic, ollama, hosted_vllm, or local")
        profile = self.profile(spec.model)
        try:
            check_role(role, spec, profile)
        except ConfigError as exc:
            return ModelStatus(role, spec.model, False, str(exc), profile.uses())
        missing = _missing_keys(litellm, spec)
        if missing:
            return ModelStatus(role, spec.model, False,
                               f"set {' and '.join(missing)} in the environment", profile.uses())
        detail = "key set" if spec.provider != "ollama" else "ready"
        if not reach:
            return ModelStatus(role, spec.model, True, detail, profile.uses())
        ok, why = probe_reachable(spec, _key(spec), timeout)
        return ModelStatus(role, spec.model, ok, detail if ok else why, profile.uses(),
                           "yes" if ok else "no")

    async def complete(self, spec: RoleConfig, call: Call) -> list[Completion]:
        litellm = load_litellm()
        kwargs = {"model": spec.model, "messages": call.messages, **call.params,
                  "seed": call.seed, "timeout": spec.timeout, "num_retries": 0}
        if call.n > 1:
            kwargs["n"] = call.n
        if spec.api_base:
            kwargs["api_base"] = spec.api_base
        if spec.api_key_env:
            kwargs["api_key"] = os.environ.get(spec.api_key_env)
        started = time.perf_counter()
        try:
            watched = call.stop_when is not None and call.params.get("logprobs")
            if call.n == 1 and (watched or call.on_text is not None):
                return [await stream_completion(litellm, spec.model, kwargs,
                                                call.stop_when if watched else None,
                                                on_text=call.on_text)]
            response = await litellm.acompletion(**kwargs)
            return to_completions(litellm, spec.model, response, time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001 - mapped to a BackendError that says what happened
            error = backend_error(litellm, spec.model, spec.api_base, exc)
            if error is exc:
                raise
            # The provider's exception stays the cause: its headers say how long to wait.
            raise error from exc


def _missing_keys(litellm: Any, spec: RoleConfig) -> list[str]:
    """The environment variables the role needs and lacks (none for a keyless server)."""
    if spec.api_key_env:
        return [] if os.environ.get(spec.api_key_env) else [spec.api_key_env]
    env = litellm.validate_environment(model=spec.model, api_base=spec.api_base)
    missing = [k for k in env.get("missing_keys", []) if not k.endswith(("_API_BASE", "_BASE_URL"))]
    if not missing and not spec.api_base and _key(spec) == "":
        # LiteLLM counts a variable set to "" as a key; a blank key is none
        missing = [f"{spec.provider.upper()}_API_KEY"]
    return missing


def _key(spec: RoleConfig) -> str | None:
    """The key LiteLLM would send for this role (its own env var unless api_key_env says)."""
    name = spec.api_key_env or f"{spec.provider.upper()}_API_KEY"
    return os.environ.get(name)
