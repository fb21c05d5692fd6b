"""Provider capability profiles: what each model accepts, decided before any call.

A :class:`Profile` starts from LiteLLM's own knowledge (``get_supported_openai_params``,
``supports_reasoning``, the model map's output limit) and applies :data:`OVERRIDES`, a
small table of provider rules LiteLLM gets wrong. :func:`shape_request` then builds a
request that the provider will accept: unsupported parameters are not sent, the token
limit goes under the name the provider wants, and temperature follows the provider's
rules. What that costs a strategy is said in :func:`degradations`, never left silent.

This module never imports ``litellm``: the LiteLLM backend (:mod:`ponder.backends.litellm`,
the only module that does) hands it to :func:`profile_for`; the embedded and scripted
backends build their profiles without it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlparse

from ponder.config import RoleConfig
from ponder.errors import ConfigError

# Default output budgets when a role sets no ``max_tokens``: reasoning models think for
# hundreds to thousands of tokens before any answer, so they get their provider's output
# limit up to 32k; other models up to 4k; the embedded models 256.
REASONING_MAX_TOKENS = 32768
CHAT_MAX_TOKENS = 4096
EMBEDDED_MAX_TOKENS = 256


@dataclass(frozen=True)
class Override:
    """A provider rule LiteLLM's tables miss, with the reference it comes from."""

    pattern: str
    changes: dict[str, Any]
    why: str


OVERRIDES: list[Override] = [
    Override(r"^deepseek/deepseek-reasoner$", {"logprobs": False, "temperature": False,
                                              "top_p": False, "reasoning": True},
             "DeepSeek API reference: deepseek-reasoner rejects logprobs/top_logprobs with a "
             "400 and ignores temperature and top_p"),
    Override(r"^(openai|azure)/o[134](-mini|-pro)?($|-)", {
        "logprobs": False, "stop": False, "temperature": False, "top_p": False,
        "max_tokens_param": "max_completion_tokens", "reasoning": True},
             "OpenAI reasoning guide: o-series models reject temperature other than 1, top_p, "
             "logprobs and stop, and take max_completion_tokens"),
    Override(r"^anthropic/", {"logprobs": False, "n": False},
             "Anthropic messages API: no logprobs, one completion per request"),
    Override(r"(qwen3|qwq|deepseek-r1|-r1\b|/r1\b|r1-distill|thinking)",
             {"reasoning": True},
             "thinking models served by vLLM/Ollama/llama.cpp write <think> blocks inline "
             "before the answer"),
]

_LOCAL = ("local", "scripted")
# The hosts each provider's key belongs to (a key is never sent to another provider's host).
PROVIDER_HOSTS = {
    "openai": "api.openai.com", "deepseek": "api.deepseek.com", "anthropic": "api.anthropic.com",
    "gemini": "generativelanguage.googleapis.com", "mistral": "api.mistral.ai",
    "groq": "api.groq.com", "together_ai": "api.together.xyz", "fireworks_ai": "api.fireworks.ai",
    "openrouter": "openrouter.ai", "xai": "api.x.ai",
}
DEFAULT_BASES = {
    "openai": "https://api.openai.com/v1", "deepseek": "https://api.deepseek.com",
    "anthropic": "https://api.anthropic.com", "ollama": "http://localhost:11434",
}


@dataclass(frozen=True)
class Profile:
    """What one model accepts and how ponder will call it.

    >>> Profile(model="deepseek/deepseek-reasoner", logprobs=False, reasoning=True).uses()
    """

    model: str
    reasoning: bool = False
    logprobs: bool = True
    stop: bool = True
    n: bool = True
    temperature: bool = True
    top_p: bool = True
    max_tokens_param: str = "max_tokens"
    thinking: str | None = None  # the provider's thinking control: "thinking" or "reasoning_effort"
    max_output_tokens: int | None = None
    why: list[str] = field(default_factory=list)

    @property
    def provider(self) -> str:
        return self.model.split("/", 1)[0]

    def default_max_tokens(self) -> int:
        """The output budget of a role that sets no ``max_tokens``."""
        if self.provider in _LOCAL:
            return EMBEDDED_MAX_TOKENS
        cap = REASONING_MAX_TOKENS if self.reasoning else CHAT_MAX_TOKENS
        return min(self.max_output_tokens or cap, cap)

    def uses(self) -> list[str]:
        """The capabilities ponder will use, in words (``ponder models`` shows them)."""
        out = ["reasoning model" if self.reasoning else "chat model"]
        out.append("logprobs" if self.logprobs else "no logprobs (confidence off)")
        out.append(f"n per request" if self.n else "one sample per request")
        out.append("stop" if self.stop else "no stop")
        out.append("temperature" if self.temperature else "temperature fixed")
        out.append(self.max_tokens_param)
        if self.thinking:
            out.append(f"thinking via {self.thinking}")
        return out


def profile_for(model: str, litellm: Any) -> Profile:
    """The profile of ``model`` from LiteLLM's tables plus :data:`OVERRIDES`."""
    provider = model.split("/", 1)[0]
    if provider in _LOCAL:
        return Profile(model=model, why=["embedded engine: every sampling parameter"])
    try:
        params = set(litellm.get_supported_openai_params(model=model) or [])
    except Exception:
        params = set()
    try:
        reasoning = bool(litellm.supports_reasoning(model=model))
    except Exception:
        reasoning = False
    try:
        limit = litellm.get_model_info(model).get("max_output_tokens")
    except Exception:
        limit = None
    known = bool(params)
    thinking = ("thinking" if provider == "anthropic" and "thinking" in params
                else "reasoning_effort" if "reasoning_effort" in params and reasoning else None)
    profile = Profile(
        model=model, reasoning=reasoning,
        logprobs="logprobs" in params or not known, stop="stop" in params or not known,
        n="n" in params, temperature="temperature" in params or not known,
        top_p="top_p" in params or not known, thinking=thinking,
        max_output_tokens=int(limit) if limit else None,
        why=["LiteLLM's parameter tables" if known else "unknown to LiteLLM: OpenAI defaults"],
    )
    for rule in OVERRIDES:
        if re.search(rule.pattern, model, re.I):
            profile = replace(profile, **rule.changes, why=[*profile.why, rule.why])
    return profile


def thinking_on(spec: RoleConfig, profile: Profile) -> bool:
    """Whether this role turns on a provider's extended thinking (Anthropic-style)."""
    explicit = (spec.params.get("thinking") or {}).get("type") == "enabled"
    return profile.thinking == "thinking" and bool(explicit or spec.thinking_budget
                                                    or spec.reasoning_effort)


def check_role(name: str, spec: RoleConfig, profile: Profile) -> None:
    """Refuse role options the model cannot honour (a ``ConfigError`` before any call)."""
    if spec.thinking_budget and profile.thinking != "thinking":
        raise ConfigError(
            f"roles.{name}.thinking_budget: {spec.model} has no thinking budget control"
            + (" (use roles.{name}.reasoning_effort)" if profile.thinking else "")
            + "; remove it")
    if spec.reasoning_effort and profile.thinking is None:
        raise ConfigError(f"roles.{name}.reasoning_effort: {spec.model} takes no reasoning "
                          "effort; remove it")
    limit = spec.max_tokens or profile.default_max_tokens()
    if spec.thinking_budget and spec.thinking_budget >= limit:
        raise ConfigError(f"roles.{name}.max_tokens ({limit}) must be larger than "
                          f"roles.{name}.thinking_budget ({spec.thinking_budget}): the answer "
                          "comes after the thinking, inside the same limit")
    check_key_host(spec)


def check_key_host(spec: RoleConfig) -> None:
    """Refuse to send a provider's own key to another known provider's host."""
    if not spec.api_base or spec.api_key_env:
        return
    host = (urlparse(spec.api_base).hostname or "").lower()
    for provider, known in PROVIDER_HOSTS.items():
        if provider != spec.provider and (host == known or host.endswith("." + known)):
            raise ConfigError(
                f"{spec.model}: api_base {spec.api_base} is {provider}'s host, so the "
                f"{spec.provider} key would be sent to {provider}; fix the role's api_base "
                "or name the key to send with api_key_env")


def shape_request(spec: RoleConfig, profile: Profile, *, temperature: float | None,
                  max_tokens: int | None, stop: list[str] | None, logprobs: bool) -> dict[str, Any]:
    """The sampling parameters of one request, in the form this provider accepts."""
    thinking = thinking_on(spec, profile)
    request: dict[str, Any] = {}
    if profile.temperature and not thinking:
        request["temperature"] = spec.temperature if temperature is None else temperature
    elif thinking:
        request["temperature"] = 1.0  # Anthropic: "may only be set to 1 when thinking is enabled"
    if profile.top_p and not thinking and spec.top_p is not None:
        request["top_p"] = spec.top_p
    request[profile.max_tokens_param] = max_tokens or spec.max_tokens or profile.default_max_tokens()
    if stop and profile.stop:
        request["stop"] = stop
    if logprobs and profile.logprobs:
        request["logprobs"] = True
    if spec.thinking_budget and profile.thinking == "thinking":
        request["thinking"] = {"type": "enabled", "budget_tokens": spec.thinking_budget}
    if spec.reasoning_effort and profile.thinking:
        request["reasoning_effort"] = spec.reasoning_effort
    return request


def degradations(role: str, spec: RoleConfig, profile: Profile, *, use_logprobs: bool) -> list[str]:
    """What a strategy loses with this role's model, in words for the result and trace."""
    notes = []
    if use_logprobs and not profile.logprobs:
        notes.append(f"confidence weighting off for role {role}: {spec.model} returns no "
                     "log-probabilities (it rejects the logprobs parameter)")
    if not profile.temperature or thinking_on(spec, profile):
        notes.append(f"role {role}: {spec.model} samples at its fixed temperature; "
                     f"roles.{role}.temperature ({spec.temperature}) is not sent")
    return notes


def models_url(spec: RoleConfig) -> tuple[str, dict[str, str]] | None:
    """The provider's model-list URL and its auth headers' shape (key filled in by the caller)."""
    base = (spec.api_base or DEFAULT_BASES.get(spec.provider) or "").rstrip("/")
    if not base:
        return None
    if spec.provider == "anthropic":
        return (base if base.endswith("/v1") else base + "/v1") + "/models", {
            "x-api-key": "{key}", "anthropic-version": "2023-06-01"}
    if spec.provider == "ollama":
        return base + "/api/tags", {}
    return base + "/models", {"authorization": "Bearer {key}"}


def probe_reachable(spec: RoleConfig, key: str | None, timeout: float = 5.0) -> tuple[bool, str]:
    """One model-list request (free, no tokens): does the provider answer, and take the key?"""
    import httpx

    check_key_host(spec)
    target = models_url(spec)
    if target is None:
        return False, f"{spec.model}: no api_base to check; set the role's api_base"
    url, shape = target
    headers = {k: v.format(key=key) for k, v in shape.items()} if key else {}
    try:
        response = httpx.get(url, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        return False, f"no answer from {url} within {timeout:g}s"
    except httpx.HTTPError as exc:
        return False, f"cannot reach {url} ({type(exc).__name__}): is the server running?"
    if response.status_code in (401, 403):
        return False, f"{url} rejected the key (HTTP {response.status_code}); check it"
    if response.status_code >= 400:
        return False, f"{url} answered HTTP {response.status_code}; check api_base"
    return True, f"answered in {response.elapsed.total_seconds():.2f}s"
