"""ASGI middleware in front of every request the UI answers: no framing, no foreign ``Host``.

The UI has no login, and its Solve page runs models and model-written code, so two browser
attacks matter even on loopback:

- *framing* (clickjacking): another site shows the UI in an invisible frame and steers the
  user's clicks. Every response says ``X-Frame-Options: DENY`` and
  ``Content-Security-Policy: frame-ancestors 'none'``.
- *DNS rebinding*: a page at ``evil.example`` re-points its name at 127.0.0.1, and the
  browser then treats the UI as that page's own origin (Streamlit's websocket accepts an
  ``Origin`` equal to ``Host``). The name stays in the ``Host`` header, so a request whose
  ``Host`` is not one of the UI's own names is refused (403, websocket closed) before it
  reaches Streamlit.

The names allowed: ``localhost`` and ``*.localhost``, any IP literal (a rebinding page always
has a DNS name: a literal address in ``Host`` means the browser was pointed at the server
itself), and the names ``ponder ui --allow-host`` lists, passed in :data:`HOSTS_ENV`.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from typing import Any

HOSTS_ENV = "PONDER_UI_ALLOWED_HOSTS"
FRAME_HEADERS = ((b"x-frame-options", b"DENY"),
                 (b"content-security-policy", b"frame-ancestors 'none'"))
REFUSED = (b"This ponder UI answers only to its own host names; this request named another "
           b"(a DNS-rebinding page, or a name the server was not told about: start it with "
           b"ponder ui --allow-host NAME).\n")


def allowed_hosts(env: dict[str, str] | None = None) -> frozenset[str]:
    """The extra names ``ponder ui --allow-host`` passed (lower-case, comma-separated)."""
    raw = (os.environ if env is None else env).get(HOSTS_ENV, "")
    return frozenset(name.strip().lower().rstrip(".") for name in raw.split(",") if name.strip())


def host_name(header: str) -> str:
    """``Host`` without its port: ``[::1]:8501`` -> ``::1``, ``Example.COM.:80`` -> ``example.com``."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    name = header.rsplit(":", 1)[0] if header.count(":") == 1 else header
    return name.rstrip(".")


def host_is_allowed(header: str | None, extra: Iterable[str] = ()) -> bool:
    """Whether a request naming ``Host: header`` is meant for this server."""
    if not header:
        return False  # HTTP/1.1 requires Host; a browser always sends one
    name = host_name(header)
    if name == "localhost" or name.endswith(".localhost") or name in set(extra):
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostAndFrameGuard:
    """Refuse requests for foreign hosts; add the no-framing headers to every response."""

    def __init__(self, app: Any, hosts: Iterable[str] | None = None) -> None:
        self.app = app
        self.hosts = frozenset(hosts) if hosts is not None else allowed_hosts()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        host = next((v.decode("latin-1") for k, v in scope["headers"] if k.lower() == b"host"),
                    None)
        if not host_is_allowed(host, self.hosts):
            await _refuse(scope, receive, send)
            return

        async def framed(message: dict[str, Any]) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                names = {k.lower() for k, _ in FRAME_HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": [*kept, *FRAME_HEADERS]}
            await send(message)

        await self.app(scope, receive, framed)


async def _refuse(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """403 for HTTP; for a websocket, the handshake is denied (the server answers 403)."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008})
        return
    await send({"type": "http.response.start", "status": 403,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(REFUSED)).encode()), *FRAME_HEADERS]})
    await send({"type": "http.response.body", "body": REFUSED})
