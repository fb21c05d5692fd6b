"""Merge concurrent single-sample requests for the same prompt into one ``n`` request.

A strategy fans out k branches that each ask for one sample of the same prompt; a provider
that supports ``n`` bills that prompt once if they travel as one request. Branches arrive
within a few milliseconds of each other, so the first waits ``window_s`` for the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Group(Generic[T]):
    def __init__(self) -> None:
        self.indices: list[int] = []
        self.done: asyncio.Future[dict[int, T]] = asyncio.get_running_loop().create_future()


class Coalescer(Generic[T]):
    """Calls ``run(indices)`` once for all sample indices that joined under the same key.

    >>> coalescer = Coalescer(window_s=0.02)
    >>> await coalescer.join("prompt-key", 3, sample_many)   # sample 3, maybe batched
    """

    def __init__(self, window_s: float = 0.02):
        self.window_s = window_s
        self._open: dict[str, _Group[T]] = {}

    async def join(self, key: str, index: int,
                   run: Callable[[list[int]], Awaitable[list[T]]]) -> T:
        group = self._open.get(key)
        if group is not None:
            group.indices.append(index)
            return (await asyncio.shield(group.done))[index]
        group = self._open[key] = _Group()
        group.indices.append(index)
        try:
            await asyncio.sleep(self.window_s)
            indices = sorted(group.indices)
            del self._open[key]
            results = await run(indices)
        except asyncio.CancelledError:
            if self._open.get(key) is group:
                del self._open[key]
            group.done.cancel()
            raise
        except Exception as exc:
            if len(group.indices) > 1:  # the others raise it too; alone, nobody else would read it
                group.done.set_exception(exc)
            raise
        group.done.set_result(dict(zip(indices, results)))
        return results[indices.index(index)]
