"""Model backends, chosen by the provider prefix of a model string.

>>> backend_for("local/gemma-3-270m")        # the embedded engine
>>> backend_for("deepseek/deepseek-reasoner")  # LiteLLM, which knows every provider name
>>> register_backend("echo", EchoBackend())   # "echo/..." models now call it

The built-in backends are registered through the same :func:`register_backend` a user's
backend uses. ``"*"`` is the backend for every prefix not registered on its own: LiteLLM.
:data:`BACKENDS` is a :class:`ponder.registries.Registry` (``BACKENDS.scoped()`` in tests).
Part of the core: imports nothing above it; ``litellm`` only in :mod:`ponder.backends.litellm`.
"""

from __future__ import annotations

from ponder.backends.base import Backend, Call, Messages, ModelStatus, StopWhen, Style
from ponder.backends.embedded import EmbeddedBackend
from ponder.backends.litellm import LiteLLMBackend
from ponder.backends.scripted import ScriptedBackend
from ponder.errors import ConfigError
from ponder.registries import Registry

__all__ = [
    "ANY_PREFIX",
    "BACKENDS",
    "Backend",
    "Call",
    "EmbeddedBackend",
    "LiteLLMBackend",
    "Messages",
    "ModelStatus",
    "ScriptedBackend",
    "StopWhen",
    "Style",
    "backend_for",
    "register_backend",
]

ANY_PREFIX = "*"
BACKENDS: Registry[str, Backend] = Registry("model backends")
"""Model backends by provider prefix; ``BACKENDS.scoped()`` undoes registrations (tests)."""


def register_backend(prefix: str, backend: Backend) -> None:
    """Call ``backend`` for every model string ``<prefix>/...`` (``"*"``: every other one)."""
    if not prefix or "/" in prefix:
        raise ConfigError(f"backend prefix {prefix!r} must be a provider name without '/', "
                          "e.g. 'echo' for models 'echo/...'")
    if not isinstance(backend, Backend):
        raise ConfigError(f"{type(backend).__name__} is not a model backend: give it `remote`, "
                          "`profile`, `style`, `status` and `complete` (see ponder.backends.Backend)")
    BACKENDS[prefix] = backend


def backend_for(model: str) -> Backend:
    """The backend that serves ``model`` (``provider/name``)."""
    return BACKENDS.get(model.split("/", 1)[0]) or BACKENDS[ANY_PREFIX]


register_backend(ANY_PREFIX, LiteLLMBackend())
register_backend("local", EmbeddedBackend())
register_backend("scripted", ScriptedBackend())
