"""ponder's web UI server: ``ponder ui`` runs ``streamlit run`` on this file.

Streamlit finds the ``st.App`` below and serves ``main.py`` (the pages) through it, with
one addition: every page it serves names the server's root as the backend. Without that,
Streamlit's page script guesses the backend from the URL and, on a deep link such as
``/run?run=...``, first asks ``/run/_stcore/health`` and ``/run/_stcore/host-config``:
two 404s on every page load before it falls back to ``/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st
from starlette.middleware import Middleware

from ponder.ui.guard import HostAndFrameGuard

PIN_BACKEND = (b"<script>window.__streamlit={BACKEND_BASE_URL:"
               b"window.location.origin+'/'};</script>")
Scope = dict[str, Any]


class PinBackendToRoot:
    """ASGI middleware: insert :data:`PIN_BACKEND` at the top of each HTML page served."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not _is_page(scope["path"]):
            await self.app(scope, receive, send)
            return
        # Ask for the page uncompressed, so the script can be inserted into it.
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
        start: dict[str, Any] = {}
        body = bytearray()

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            page = _inject(bytes(body), start)
            heads = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            heads.append((b"content-length", str(len(page)).encode()))
            await send({**start, "headers": heads})
            await send({"type": "http.response.body", "body": page})

        await self.app({**scope, "headers": headers}, receive, capture)


def _is_page(path: str) -> bool:
    """A path the app answers with its HTML page (not an asset, not a ``_stcore`` call)."""
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return "_stcore" not in path and "/static/" not in path and "." not in last


def _inject(body: bytes, start: dict[str, Any]) -> bytes:
    kinds = [v for k, v in start.get("headers", []) if k.lower() == b"content-type"]
    if not kinds or not kinds[0].startswith(b"text/html") or b"<head>" not in body:
        return body
    return body.replace(b"<head>", b"<head>" + PIN_BACKEND, 1)


# The guard is outermost: a foreign Host is refused before anything else runs, and its
# no-framing headers go on every response, pages and assets alike.
app = st.App(Path(__file__).with_name("main.py"),
             middleware=[Middleware(HostAndFrameGuard), Middleware(PinBackendToRoot)])
