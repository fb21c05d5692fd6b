"""Run leases: one process at a time solves a batch run.

A lease is a row in the store's ``leases`` table (run, owner token, pid, host, heartbeat).
A second ``ponder batch`` on a run that is leased is refused with a message naming the
holder, so two processes never solve (and pay for) the same items. A lease whose holder
is gone is taken over: on the same host a dead (or zombie) pid frees it at once, so the
same command resumes right after ``kill -9``; from another host, a heartbeat older than
:data:`STALE_AFTER_S` does.

>>> with store.leased(run.id):   # refuses (StoreError) while another process holds it
...     solve_everything()
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from ponder.errors import StoreError

HEARTBEAT_S = 5.0
"""How often the holder refreshes its lease."""
STALE_AFTER_S = 60.0
"""A lease not refreshed for this long is free, whoever held it."""
QUIET_AFTER_S = 30 * 60.0
"""A ``running`` run with no lease (a solve from the API, CLI, UI or server: only batches
take one) that has written nothing for this long, no trace event and no result, is reported
``interrupted``. Every node writes an event when it ends, so a live solve is never quiet
this long unless one model call outlasts it; the margin is wide on purpose: calling a live
run interrupted misleads more than showing a dead one as running for a while."""


HOST_ENV = "PONDER_HOST_ID"
"""Names this host in leases instead of its hostname (containers that share one name)."""


def host_id() -> str:
    """This host as leases name it: ``PONDER_HOST_ID``, else the hostname."""
    return os.environ.get(HOST_ENV) or socket.gethostname()


class Lease(BaseModel):
    """Who holds a run: a process (pid on host) and the token of its lease."""

    run_id: str
    token: str
    pid: int
    host: str
    started_at: float
    heartbeat: float

    def alive(self, now: float | None = None) -> bool:
        """Whether the holder still runs: a fresh heartbeat, and a live pid on this host."""
        if (now or time.time()) - self.heartbeat > STALE_AFTER_S:
            return False
        return self.host != host_id() or _pid_alive(self.pid)

    def describe(self) -> str:
        age = max(0.0, time.time() - self.heartbeat)
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started_at))
        return f"pid {self.pid} on {self.host} (since {since}, last heartbeat {age:.0f}s ago)"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    try:  # a killed child its parent has not reaped yet still answers kill(pid, 0)
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def reported_status(status: str, lease: Lease | None, last_write: float,
                    now: float | None = None) -> str:
    """The status to show for a run: a ``running`` one whose holder is gone reads
    ``interrupted`` (resuming it is safe); the stored status is left as it is.

    Gone means: its lease's holder is dead (:meth:`Lease.alive`), or, without a lease, it
    wrote nothing for :data:`QUIET_AFTER_S` (``last_write``: its newest event or result, or
    its creation). A lease decides alone when there is one: a batch can sit quiet for long
    behind a slow model while its heartbeat proves it alive.
    """
    if status != "running":
        return status
    if lease is not None:
        return status if lease.alive(now) else "interrupted"
    return "interrupted" if (now or time.time()) - last_write > QUIET_AFTER_S else status


class StoreLeases:
    """Lease bookkeeping; mixed into :class:`ponder.store.Store` (which owns the schema)."""

    _db: sqlite3.Connection
    _lock: threading.RLock

    def _exec(self, sql: str, args: tuple = ()) -> sqlite3.Cursor: ...  # from Store

    def _rows(self, sql: str, args: tuple = ()) -> list[dict[str, Any]]: ...  # from Store

    def _transaction(self) -> contextlib.AbstractContextManager[None]: ...  # from Store

    def lease(self, run_id: str) -> Lease | None:
        """The lease on a run, live or stale; ``None`` if nobody took one."""
        rows = self._rows("SELECT * FROM leases WHERE run_id = ?", (run_id,))
        return Lease(**rows[0]) if rows else None

    def run_status(self, run_id: str, status: str, created_at: float) -> str:
        """:func:`reported_status` of a run, looking up its lease and last write."""
        if status != "running":
            return status
        lease = self.lease(run_id)
        if lease is not None:
            return reported_status(status, lease, created_at)
        (last,) = self._exec(
            "SELECT MAX(?, COALESCE((SELECT MAX(ended_at) FROM events WHERE run_id = ?), 0),"
            " COALESCE((SELECT MAX(created_at) FROM results WHERE run_id = ?), 0))",
            (created_at, run_id, run_id)).fetchone()
        return reported_status(status, None, last)

    def acquire_lease(self, run_id: str, *, what: str = "run") -> Lease:
        """Take the run for this process, or raise ``StoreError`` naming its live holder."""
        now = time.time()
        mine = Lease(run_id=run_id, token=uuid.uuid4().hex, pid=os.getpid(),
                     host=host_id(), started_at=now, heartbeat=now)
        with self._transaction():
            held = self.lease(run_id)
            if held is not None and held.alive(now):
                raise StoreError(
                    f"{what} is being solved by another process: {held.describe()}. Wait for it "
                    f"to finish (or stop it: kill {held.pid}), then rerun this command to resume; "
                    "or pick another --run name")
            self._exec("INSERT OR REPLACE INTO leases (run_id, token, pid, host, started_at,"
                       " heartbeat) VALUES (?,?,?,?,?,?)",
                       (run_id, mine.token, mine.pid, mine.host, mine.started_at, mine.heartbeat))
        return mine

    def renew_lease(self, lease: Lease) -> bool:
        """Refresh the heartbeat; False if the lease was lost (taken over as stale)."""
        cur = self._exec("UPDATE leases SET heartbeat = ? WHERE run_id = ? AND token = ?",
                         (time.time(), lease.run_id, lease.token))
        return cur.rowcount == 1

    def release_lease(self, lease: Lease) -> None:
        self._exec("DELETE FROM leases WHERE run_id = ? AND token = ?", (lease.run_id, lease.token))

    @contextlib.contextmanager
    def leased(self, run_id: str, *, what: str = "run") -> Iterator[Lease]:
        """Hold the run's lease, renewed every :data:`HEARTBEAT_S` by a thread, while inside."""
        lease = self.acquire_lease(run_id, what=what)
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(HEARTBEAT_S):
                with contextlib.suppress(StoreError):  # a full disk: the pid still proves us alive
                    self.renew_lease(lease)

        thread = threading.Thread(target=beat, name=f"lease-{run_id}", daemon=True)
        thread.start()
        try:
            yield lease
        finally:
            stop.set()
            thread.join()
            with contextlib.suppress(StoreError):  # unreleased, it is stale once we exit
                self.release_lease(lease)
