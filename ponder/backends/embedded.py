"""The embedded backend: ``local/<name>`` GGUF models, run by :mod:`ponder.embedded.engine` workers.

No network and no key. Each model runs in a worker process of its own, one request at a
time; a stop rule travels with the call into the engine, which asks it token by token.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ponder.backends.base import Call, ModelStatus, Style
from ponder.config import RoleConfig
from ponder.embedded import local_model, shared_engine, weights_status
from ponder.providers import Profile, profile_for
from ponder.responses import Choice, completions
from ponder.types import Completion


class EmbeddedBackend:
    """The embedded GGUF models (see :data:`ponder.embedded.LOCAL_MODELS`).

    Sample ``first + i`` of a call is seeded with ``seed + i``, so a sample is the same text
    whichever call asks for it.

    >>> await EmbeddedBackend().complete(RoleConfig(model="local/smollm2-135m"), Call(messages))
    """

    remote = False

    def profile(self, model: str) -> Profile:
        return profile_for(model, None)

    def style(self, model: str) -> Style:
        return local_model(_name(model)).style

    def status(self, role: str, spec: RoleConfig, *, reach: bool = False,
               timeout: float = 5.0) -> ModelStatus:
        ok, detail = weights_status(_name(spec.model))
        return ModelStatus(role, spec.model, ok, f"weights at {detail}" if ok else detail,
                           self.profile(spec.model).uses(), "own worker process" if ok else None)

    async def complete(self, spec: RoleConfig, call: Call) -> list[Completion]:
        started = time.perf_counter()
        outs = await asyncio.to_thread(self._sample, _name(spec.model), call)
        return completions(
            spec.model,
            [Choice(out["text"], out["finish_reason"], out.get("logprobs")) for out in outs],
            prompt_tokens=outs[0]["usage"]["prompt_tokens"],
            completion_tokens=sum(out["usage"]["completion_tokens"] for out in outs),
            latency_s=time.perf_counter() - started)

    @staticmethod
    def _sample(name: str, call: Call) -> list[dict[str, Any]]:
        """The call's samples, one after another (the engine serialises per model anyway)."""
        params = call.params
        return [shared_engine().complete(
            name, call.messages,
            max_tokens=int(params.get("max_tokens") or 256),
            temperature=float(params.get("temperature", 0.7)),
            top_p=float(params.get("top_p") or 0.95),
            stop=params.get("stop"),
            seed=call.seed + i,
            logprobs=bool(params.get("logprobs")),
            stop_when=call.stop_when,
            on_text=call.on_text if call.n == 1 else None,
        ) for i in range(call.n)]


def _name(model: str) -> str:
    return model.split("/", 1)[1]
