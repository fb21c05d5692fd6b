"""A scripted model for tests and examples: a local function plays the model.

Registered functions are reached as ``scripted/<name>`` through
:class:`ponder.backends.scripted.ScriptedBackend`, a backend like any other, so code under
test runs the real model client (usage, ``n``, retries, cache).

>>> register_script("echo", lambda messages, index: "Answer: 4")
>>> # RoleConfig(model="scripted/echo")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from ponder.registries import Registry

Script = Callable[[list[dict[str, str]], int], str]
"""``(messages, sample_index) -> text``; the text may contain ``<think>`` blocks."""

SCRIPTS: Registry[str, Script] = Registry("scripted models")
"""Scripted models by name; ``SCRIPTS.scoped()`` undoes registrations (tests)."""


def register_script(name: str, script: Script) -> str:
    """Register ``script`` and return its model string (``scripted/<name>``)."""
    SCRIPTS[name] = script
    return f"scripted/{name}"


def cycle(*texts: str) -> Script:
    """A script that answers ``texts[i % len(texts)]`` for sample ``i``."""
    return lambda messages, index: texts[index % len(texts)]


def run_script(name: str, messages: list[dict[str, str]], index: int,
               scripts: Mapping[str, Script] | None = None) -> str:
    """Run the script called ``name`` (in ``scripts``, else the registered ones) for one
    sample."""
    try:
        script = (scripts if scripts is not None else SCRIPTS)[name]
    except KeyError:
        from ponder.errors import ConfigError

        raise ConfigError(
            f"no scripted model {name!r}; register it with ponder.scripted.register_script"
        ) from None
    return script(messages, index)
