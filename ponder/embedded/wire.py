"""The message format between the engine and its worker processes: JSON over a socket.

Owns the protocol and nothing else; imports only the standard library. One model per worker::

    worker -> parent  {"op": "ready", "system_info": ...} | {"op": "error", "message": ...}
    parent -> worker  {"op": "complete", "messages": [...], "params": {...}, "watch": bool}
    worker -> parent  {"op": "token", "logprob": x, "text": piece}  (only when watching;
    parent -> worker  {"op": "continue", "stop": bool}               the parent answers each)
    worker -> parent  {"op": "done", "result": {...}} | {"op": "error", "message": ...}
"""

from __future__ import annotations

import json
from multiprocessing.connection import Connection
from typing import Any


def send(conn: Connection, message: dict[str, Any]) -> None:
    """Send one message."""
    conn.send_bytes(json.dumps(message).encode())


def receive(conn: Connection) -> dict[str, Any]:
    """Wait for one message (``EOFError`` once the other side has closed)."""
    return json.loads(conn.recv_bytes())
