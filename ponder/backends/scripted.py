"""The scripted backend: ``scripted/<name>`` models played by functions (the test double).

A script registered with :func:`ponder.scripted.register_script` is a model like any other:
the client calls it through the same seam as a provider, so code under test runs the real
usage accounting, ``n``, retries and cache. A word counts as a token.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from ponder.backends.base import Call, ModelStatus, Style
from ponder.config import RoleConfig
from ponder.errors import BackendError, ConfigError
from ponder.providers import Profile, profile_for
from ponder.responses import Choice, completions
from ponder.scripted import SCRIPTS, Script, run_script
from ponder.types import Completion

LOGPROB = -0.05
"""The log-probability of every scripted token: confident, and the same for every sample."""


class ScriptedBackend:
    """Scripts as models: sample ``first + i`` of a call is ``script(messages, first + i)``.

    ``scripts`` are this backend's own (an instance passed where a backend is taken, e.g. to
    a Ray executor's workers); without them it plays the scripts registered in this process.
    A script that raises is the model failing (a retryable ``BackendError``), as a provider's
    500 would be; an unknown name is a ``BackendError`` that says how to register it.

    >>> register_script("four", cycle("Answer: 4"))
    >>> await ScriptedBackend().complete(RoleConfig(model="scripted/four"), Call(messages))
    >>> ScriptedBackend({"four": cycle("Answer: 4")})      # its own scripts, nothing global
    """

    remote = False

    def __init__(self, scripts: Mapping[str, Script] | None = None):
        self.scripts = dict(scripts) if scripts is not None else None

    def _known(self, name: str) -> bool:
        return name in (self.scripts if self.scripts is not None else SCRIPTS)

    def profile(self, model: str) -> Profile:
        return profile_for(model, None)

    def style(self, model: str) -> Style:
        return "chat"

    def status(self, role: str, spec: RoleConfig, *, reach: bool = False,
               timeout: float = 5.0) -> ModelStatus:
        name = spec.model.split("/", 1)[1]
        if self._known(name):
            return ModelStatus(role, spec.model, True, "scripted test model")
        return ModelStatus(role, spec.model, False, f"no scripted model {name!r}; register it "
                           "with ponder.scripted.register_script")

    async def complete(self, spec: RoleConfig, call: Call) -> list[Completion]:
        started = time.perf_counter()
        texts = await asyncio.to_thread(_run, spec.model, call, self.scripts)
        if call.on_text is not None and call.n == 1:
            for i, word in enumerate(texts[0].split(" ")):  # "generated" word by word
                call.on_text(word if i == 0 else " " + word)
        counts = [len(text.split()) for text in texts]
        logprobs = bool(call.params.get("logprobs"))
        return completions(
            spec.model,
            [Choice(text, "stop", [LOGPROB] * words if logprobs else None)
             for text, words in zip(texts, counts)],
            prompt_tokens=sum(len((m.get("content") or "").split()) for m in call.messages),
            completion_tokens=sum(counts), latency_s=time.perf_counter() - started)


def _run(model: str, call: Call, scripts: Mapping[str, Script] | None) -> list[str]:
    name = model.split("/", 1)[1]
    try:
        return [run_script(name, call.messages, call.first + i, scripts)
                for i in range(call.n)]
    except ConfigError as exc:
        raise BackendError(model, None, str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - whatever the script raised is the model failing
        raise BackendError(model, None, f"the script raised {type(exc).__name__}: {exc}",
                           retryable=True) from exc
