"""An optional SQLite response cache: cached re-runs are free, repeated samples stay distinct.

The key is the full request plus the sample index, so sample 3 of a request is cached
separately from sample 4 of the same request.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

from ponder.errors import ConfigError
from ponder.types import Completion


def request_key(request: dict[str, Any], index: int, seed: int | None = 0) -> str:
    """A stable key for sample ``index`` of ``request`` drawn under the run's ``seed``: a
    re-run with the same seed replays its samples, one with another seed draws new ones.
    ``seed=None`` gives the key caches written before 2026-12-03 used (no seed in it)."""
    body = json.dumps(request, sort_keys=True, default=str)
    drawn = f"#{index}" if seed is None else f"#{index}@{seed}"
    return hashlib.sha256(f"{body}{drawn}".encode()).hexdigest()


class ResponseCache:
    """Completions keyed by request and sample index, in one SQLite file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        try:
            if self.path.exists() and not self.path.is_file():
                raise OSError("not a regular file")
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, body TEXT)")
            self._db.commit()
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(f"cannot open the response cache at {self.path}: {exc}; point "
                              "--cache (or the config's cache) at a file") from None

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        hit = Completion.model_validate_json(row[0])
        return hit.model_copy(update={"cached": True, "usage": hit.usage.model_copy(
            update={"cost_usd": 0.0, "latency_s": 0.0, "calls": 0})})

    def put(self, key: str, completion: Completion) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, body) VALUES (?, ?)",
                (key, completion.model_dump_json()),
            )
            self._db.commit()
