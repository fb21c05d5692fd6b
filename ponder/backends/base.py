"""What every model backend shares: the protocol, one call's arguments, a role's status.

A backend is a family of models that ponder calls the same way (LiteLLM's providers, the
embedded GGUF models, the scripted test models). :class:`~ponder.models.ModelClient` does
what is common to all of them — roles, caching, coalescing, retries, concurrency limits —
and hands each backend one :class:`Call` at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from ponder.config import RoleConfig
from ponder.providers import Profile
from ponder.types import Completion, StopWhen, TextSink

Style = Literal["chat", "completion", "reasoning"]
Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Call:
    """One backend call: ``n`` samples of one prompt, with sample indices ``first``…

    ``params`` are the sampling parameters in the form the model accepts (see
    :func:`ponder.providers.shape_request`) plus the role's and the caller's own.
    Sample ``first + i`` is seeded with ``seed + i``. ``stop_when``, if given, ends a sample
    once it returns true for the token log-probabilities generated so far; ``on_text``, if
    given (single-sample calls), receives the text as it is generated.

    >>> Call([{"role": "user", "content": "2+2?"}], {"max_tokens": 8}, n=2, first=4, seed=4)
    """

    messages: Messages
    params: dict[str, Any] = field(default_factory=dict)
    n: int = 1
    first: int = 0
    seed: int = 0
    stop_when: StopWhen | None = None
    on_text: TextSink | None = None


@dataclass(frozen=True)
class ModelStatus:
    """Whether a role's model can be used now, and what to do if not."""

    role: str
    model: str
    usable: bool
    detail: str
    capabilities: list[str] = field(default_factory=list)
    reachable: str | None = None


@runtime_checkable
class Backend(Protocol):
    """How ponder calls one family of models, chosen by the model string's prefix.

    ``remote`` backends call a provider over the network: ponder checks a role before its
    first call, merges lone samples of one prompt into one ``n`` request, allows more calls
    at once, and watches a stop rule (with logprobs) one sample per call. ``complete``
    returns one :class:`Completion` per sample and raises ``BackendError`` when the model
    fails (``retryable`` when trying again may help) or ``ConfigError`` for a setup mistake.

    >>> class Echo:
    ...     remote = False
    ...     def profile(self, model): return Profile(model=model)
    ...     def style(self, model): return "chat"
    ...     def status(self, role, spec, *, reach=False, timeout=5.0):
    ...         return ModelStatus(role, spec.model, True, "echoes")
    ...     async def complete(self, spec, call): ...
    >>> register_backend("echo", Echo())  # "echo/anything" now calls it
    """

    remote: bool

    def profile(self, model: str) -> Profile:
        """What ``model`` accepts (see :mod:`ponder.providers`)."""
        ...

    def style(self, model: str) -> Style:
        """How to prompt ``model`` when its role says ``style: auto``."""
        ...

    def status(self, role: str, spec: RoleConfig, *, reach: bool = False,
               timeout: float = 5.0) -> ModelStatus:
        """Whether ``spec`` can be used now; with ``reach``, also whether it answers."""
        ...

    async def complete(self, spec: RoleConfig, call: Call) -> list[Completion]:
        """Sample ``call.n`` completions."""
        ...
