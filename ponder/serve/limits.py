"""What the endpoint accepts before any work: body size, read time, JSON depth, clean text,
and a connection that must finish its request head in time.

Everything here runs before admission, so a hostile or broken client costs a bounded read
and an OpenAI-format error — never a slot, a stored run or an unbounded buffer.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import h11
from starlette.requests import ClientDisconnect, Request
from uvicorn.protocols.http.h11_impl import H11Protocol

from ponder.sandbox.base import plain_json
from ponder.serve.protocol import ServeError


async def read_json(request: Request, *, max_bytes: int, max_depth: int,
                    timeout_s: float) -> Any:
    """The request body as clean JSON: at most ``max_bytes`` (413), read within ``timeout_s``
    (408), nested at most ``max_depth`` (400); lone surrogates become U+FFFD."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    try:
        async with asyncio.timeout(timeout_s):
            raw = await _read_capped(request, max_bytes)
    except TimeoutError:
        raise ServeError(408, f"the request body did not arrive within {timeout_s:g}s; send "
                         "the whole body at once", code="request_timeout") from None
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ServeError(400, "the request body is not valid JSON") from None
    except RecursionError:
        raise _too_deep(max_depth) from None
    if depth(body, max_depth) > max_depth:
        raise _too_deep(max_depth)
    return plain_json(body)


async def _read_capped(request: Request, max_bytes: int) -> bytes:
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise _too_large(max_bytes)
            chunks.append(chunk)
    except ClientDisconnect:
        raise ServeError(400, "the client closed the connection before the body arrived") from None
    return b"".join(chunks)


def depth(value: Any, limit: int) -> int:
    """How deeply ``value`` nests (a scalar is 0), counted without recursion and only up to
    one past ``limit``."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            level += 1
            deepest = max(deepest, level)
            if deepest > limit:
                return deepest
            stack.extend((child, level) for child in
                         (item.values() if isinstance(item, dict) else item))
    return deepest


def _too_large(max_bytes: int) -> ServeError:
    return ServeError(413, f"the request body is larger than this server's limit of "
                      f"{max_bytes} bytes (--max-body-mb); send a shorter question",
                      code="request_too_large")


def _too_deep(max_depth: int) -> ServeError:
    return ServeError(400, f"the request JSON nests deeper than {max_depth} levels; a chat "
                      "request needs only a few", code="json_too_deep")


def head_timeout_protocol(timeout_s: float) -> type[H11Protocol]:
    """uvicorn's h11 protocol, closing a connection whose request head (request line and
    headers) is not complete ``timeout_s`` after it began; uvicorn itself waits forever for
    a new connection's first bytes and for a head that stops half-way."""

    class HeadTimeoutH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.conn.their_state is h11.IDLE:  # the next request's head is still coming
                if self._head_timer is None:
                    self._arm()
            else:
                self._disarm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._head_timer = self.loop.call_later(timeout_s, self._expire)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _expire(self) -> None:
            self._head_timer = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                self.transport.close()

    return HeadTimeoutH11Protocol
