"""Store writes off the event loop: one writer thread per server, in order, per run.

SQLite waits up to its busy timeout for a store another process holds, and a full disk or a
slow one stalls a write: on the event loop that froze every request, ``/health`` included.
The served runs therefore write through :class:`RunStore`, which queues each write for the
writer thread and returns at once; :meth:`StoreWriter.flush` awaits a run's writes so far
and raises the first one that failed (after which that run's later writes are skipped: they
would only wait out the same lock again).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from ponder.store import Store

log = logging.getLogger("ponder.serve")
_WRITES = ("create_run", "add_problem", "add_event", "save_result", "update_run")


class StoreWriter:
    """The thread that performs the served runs' store writes.

    >>> writer = StoreWriter(store)
    >>> writer.submit("run-1", "update_run", "run-1", status="done")
    >>> await writer.flush("run-1")
    """

    def __init__(self, store: Store):
        self.store = store
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._failed: dict[str, BaseException] = {}
        self._thread = threading.Thread(target=self._work, name="ponder-store-writer",
                                        daemon=True)
        self._thread.start()

    def for_run(self, run_id: str) -> RunStore:
        return RunStore(self, run_id)

    def submit(self, run_id: str, method: str, /, *args: Any, **kwargs: Any) -> None:
        self._queue.put((run_id, getattr(self.store, method), args, kwargs))

    def record_end(self, run_id: str, status: str, error: str | None) -> None:
        """Close a run's record, even after one of its writes failed (best effort: a store
        that refuses this too is logged, the request's error already says why)."""
        self._queue.put((run_id, "end", (status, error), {}))

    def stop(self) -> None:
        self._queue.put((None, "stop", (), {}))

    async def flush(self, run_id: str) -> None:
        """Wait until the run's writes queued so far are done; raise the first that failed."""
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._queue.put((run_id, done, (), {}))
        await asyncio.wrap_future(done)

    def flush_sync(self, timeout_s: float | None = None) -> None:
        """Wait for every queued write (shutdown); errors were logged as they happened."""
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._queue.put((None, done, (), {}))
        try:
            done.result(timeout_s)
        except (concurrent.futures.TimeoutError, Exception) as exc:  # noqa: BLE001
            log.warning("store writes still pending at shutdown: %s", exc)

    def forget(self, run_id: str) -> None:
        """Drop a finished run's remembered failure."""
        self._queue.put((run_id, None, (), {}))

    def _work(self) -> None:
        while True:
            run_id, action, args, kwargs = self._queue.get()
            if action == "stop":
                return
            if action is None:
                self._failed.pop(run_id, None)
            elif action == "end":
                self._end(run_id, *args)
            elif isinstance(action, concurrent.futures.Future):
                self._resolve(run_id, action)
            elif run_id not in self._failed:
                self._write(run_id, action, args, kwargs)

    def _resolve(self, run_id: str | None, done: concurrent.futures.Future[None]) -> None:
        error = self._failed.get(run_id) if run_id is not None else None
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)

    def _write(self, run_id: str, write: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        try:
            write(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - kept for flush() to raise in the request
            log.warning("store write %s for run %s failed: %s", write.__name__, run_id, exc)
            self._failed[run_id] = exc


    def _end(self, run_id: str, status: str, error: str | None) -> None:
        try:
            self.store.update_run(run_id, status=status, meta={"error": error} if error else None)
        except Exception as exc:  # noqa: BLE001 - see record_end
            log.warning("could not record run %s as %s: %s", run_id, status, exc)


class RunStore:
    """The store as one served run sees it: writes are queued, reads go straight through."""

    def __init__(self, writer: StoreWriter, run_id: str):
        self._writer, self._run_id = writer, run_id

    def __getattr__(self, name: str) -> Any:
        if name in _WRITES:
            return lambda *args, **kwargs: self._writer.submit(self._run_id, name, *args,
                                                               **kwargs)
        return getattr(self._writer.store, name)
