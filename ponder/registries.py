"""Registries: the named tables users plug into — model backends, sandboxes, scripted and
embedded models, strategies — each a :class:`Registry` that a test can scope.

A registry is a dict with a :meth:`Registry.scoped` context manager: what is registered
inside the block is gone after it, and what it replaced comes back, as ``dspy.context``
scopes DSPy's settings, so no test has to reset a global by hand. :func:`scoped` scopes
several at once; ``ponder.graphs.registry.scoped()`` scopes every registry ponder has.

The scope is process-wide (a snapshot put back on exit), not per thread or task: it is for
tests and scripts, not for two concurrent runs that want different registries.

>>> with SCRIPTS.scoped():
...     register_script("echo", lambda messages, index: "Answer: 4")
>>> "echo" in SCRIPTS
False
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Registry(dict[K, V], Generic[K, V]):
    """A named, scopable table: ``what`` says what it holds (for messages and reprs)."""

    def __init__(self, what: str, items: Mapping[K, V] | None = None):
        super().__init__()
        self.update(items or {})
        self.what = what

    @contextlib.contextmanager
    def scoped(self) -> Iterator[Registry[K, V]]:
        """Undo on exit whatever is registered, replaced or removed inside the block."""
        saved = dict(self)
        try:
            yield self
        finally:
            self.clear()
            self.update(saved)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}: {', '.join(map(str, self)) or 'empty'})"


@contextlib.contextmanager
def scoped(*registries: Registry[Any, Any]) -> Iterator[None]:
    """Scope every registry given (see :meth:`Registry.scoped`)."""
    with contextlib.ExitStack() as stack:
        for registry in registries:
            stack.enter_context(registry.scoped())
        yield
