"""Pieces every sandbox backend shares: the protocol, the runner, output caps, result building.

A program runs under a small *runner* (``RUNNER``) that reads the source from an inherited file
descriptor, defines ``answer(obj)`` and executes the program as ``__main__``. ``answer`` writes
JSON to a second descriptor that only the launcher reads, so nothing the program prints can
become a value.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import re
import signal
import tempfile
import threading
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from ponder.config import SandboxConfig
from ponder.types import ExecResult

OOM_EXIT = 86
"""Exit code the runner uses when the program died of ``MemoryError``."""

OUTPUT_KILL_FACTOR = 4
"""A program that writes more than this many times ``max_output_bytes`` is stopped."""

PIPE_GRACE_S = 2.0
"""How long to wait for output pipes to drain after the program is gone."""

T = TypeVar("T")


@runtime_checkable
class Sandbox(Protocol):
    """Runs untrusted Python source and reports what happened.

    >>> sandbox = make_sandbox(SandboxConfig())          # doctest: +SKIP
    >>> sandbox.run("answer(6 * 7)").value                 # doctest: +SKIP
    42
    """

    name: str

    async def arun(
        self, code: str, *, stdin: str | None = None, timeout_s: float | None = None
    ) -> ExecResult: ...

    def run(
        self, code: str, *, stdin: str | None = None, timeout_s: float | None = None
    ) -> ExecResult: ...

    async def aclose(self) -> None: ...


RUNNER = r'''
def _ponder_main(src_fd, val_fd, cap, nproc, *paths):
    import os, sys, resource
    src_fd, val_fd, cap, nproc = int(src_fd), int(val_fd), int(cap), int(nproc)
    if nproc:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    with open(src_fd, "rb") as f:
        source = f.read()
    top = min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 1024)
    fd = val_fd
    while fd in (0, 1, 2, val_fd):
        fd = top // 2 + int.from_bytes(os.urandom(2), "little") % (top - top // 2)
    os.dup2(val_fd, fd, inheritable=False)
    os.close(val_fd)
    state = {"fd": fd}

    def plain(obj):
        for attr in ("tolist", "item"):
            method = getattr(obj, attr, None)
            if callable(method):
                return method()
        return list(obj) if isinstance(obj, (set, frozenset)) else str(obj)

    def answer(value):
        """Report the program's result to the verifier (JSON); only the first call counts."""
        import json
        if "fd" not in state:
            return
        data = json.dumps(value, default=plain).encode() + b"\n"
        if len(data) > cap:
            raise ValueError(f"answer() value is {len(data)} bytes; the limit is {cap}")
        out = state.pop("fd")
        while data:
            data = data[os.write(out, data):]
        os.close(out)

    def report(exc):
        import linecache, traceback
        text = source.decode("utf-8", "replace")
        linecache.cache["<program>"] = (len(text), None, text.splitlines(True), "<program>")
        tb = exc.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != "<program>":
            tb = tb.tb_next
        traceback.print_exception(type(exc), exc, tb)

    sys.path.extend(paths)
    sys.argv[:] = [""]
    sys.stdout.reconfigure(line_buffering=True)
    env = sys.modules["__main__"].__dict__
    for name in [n for n in env if not n.startswith("__")]:
        del env[name]
    env["answer"] = answer
    try:
        # compiled as text, as Sandbox.run received it: a coding line in it has no say
        exec(compile(source.decode("utf-8", "surrogatepass"), "<program>", "exec"), env)
    except SystemExit:
        raise
    except BaseException as exc:
        oom = isinstance(exc, MemoryError)
        if oom:
            env.clear()
        report(exc)
        sys.exit(OOM_EXIT if oom else 1)

import sys as _sys
_ponder_main(*_sys.argv[1:])
'''.replace("OOM_EXIT", str(OOM_EXIT))


def runner_args(src_fd: int, val_fd: int, cap: int, nproc: int, paths: list[str]) -> list[str]:
    """The ``-c`` arguments that start ``RUNNER`` (``nproc`` 0 leaves RLIMIT_NPROC alone)."""
    return ["-c", RUNNER, str(src_fd), str(val_fd), str(cap), str(nproc), *paths]


def data_fd(data: bytes) -> int:
    """An anonymous readable file holding ``data``, positioned at its start."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("ponder")
    else:  # pragma: no cover - non-Linux
        with tempfile.TemporaryFile() as fh:
            fd = os.dup(fh.fileno())
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def parse_value(raw: Captured, cap: int) -> tuple[Any, str]:
    """The value the program passed to ``answer()``, and a note when it is unusable."""
    if not raw.total:
        return None, ""
    if raw.total > cap:
        return None, f"answer() value exceeded {cap} bytes and was dropped"
    line = raw.data.split(b"\n", 1)[0]
    try:
        return plain_json(json.loads(line)), ""
    except ValueError:
        return None, "the answer() channel held malformed data; value dropped"
    except RecursionError:
        return None, "answer() value was nested too deeply; value dropped"


_SURROGATE = re.compile("[\ud800-\udfff]")


def plain_json(value: Any) -> Any:
    """``value`` (as ``json.loads`` gives it) made storable anywhere: strict JSON, valid UTF-8.

    A program can send escapes JSON accepts but UTF-8 and strict JSON do not: lone surrogates
    (``answer("\\udc80")``) become U+FFFD, and NaN and the infinities become the strings
    ``str()`` gives them, so every later ``model_dump_json`` or store write succeeds.
    """
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list):
        return [plain_json(item) for item in value]
    if isinstance(value, dict):
        return {plain_json(key): plain_json(item) for key, item in value.items()}
    return value


@dataclass
class Captured:
    """Bytes kept from one stream (at most the cap) and how many were written in all."""

    data: bytes = b""
    total: int = 0


async def read_capped(
    fd: int, cap: int, limit: int, on_limit: Callable[[], None] = lambda: None
) -> Captured:
    """Read ``fd`` to EOF keeping ``cap`` bytes; past ``limit`` bytes call ``on_limit`` and stop."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", 0)
    )
    kept, total = bytearray(), 0
    try:
        while chunk := await reader.read(65536):
            total += len(chunk)
            kept += chunk[: max(0, cap - len(kept))]
            if total > limit:
                on_limit()
                break
    finally:
        transport.close()
    return Captured(bytes(kept), total)


@dataclass
class Outcome:
    """What the supervisor saw of one finished process."""

    returncode: int | None
    timed_out: bool
    overflow: bool
    stdout: Captured
    stderr: Captured
    value: Captured
    duration_s: float
    oom_killed: bool = False


def _signal_of(returncode: int | None) -> int | None:
    """The signal that ended the process (bwrap reports it as 128 + n, Popen as -n)."""
    if returncode is None:
        return None
    if returncode < 0:
        return -returncode
    return returncode - 128 if 128 < returncode < 128 + 65 else None


def classify(o: Outcome, *, timeout_s: float, cap: int) -> tuple[str, str]:
    """The ``ExecResult`` status and message for an outcome."""
    sig = _signal_of(o.returncode)
    if o.overflow:
        return "output_limit", f"output exceeded {OUTPUT_KILL_FACTOR * cap} bytes; program stopped"
    if o.timed_out:
        return "timeout", f"wall-clock limit of {timeout_s:g}s exceeded; program killed"
    if o.returncode == 0:
        return "ok", ""
    if o.returncode == OOM_EXIT or o.oom_killed:
        return "oom", "the program ran out of memory (memory limit reached)"
    if sig == signal.SIGXCPU:
        return "timeout", "CPU time limit exceeded"
    if sig is not None:
        return "error", f"killed by signal {signal.Signals(sig).name}"
    return "error", f"exited with code {o.returncode}"


def build_result(o: Outcome, *, timeout_s: float, cap: int) -> ExecResult:
    """Turn a supervised outcome into the structured ``ExecResult``."""
    status, message = classify(o, timeout_s=timeout_s, cap=cap)
    if status == "error" and o.returncode == 1 and o.stderr.data.strip():
        message = o.stderr.data.decode("utf-8", "replace").strip().splitlines()[-1][:300]
    value, note = parse_value(o.value, cap)
    truncated = o.stdout.total > cap or o.stderr.total > cap
    return ExecResult(
        status=status,  # type: ignore[arg-type]
        stdout=o.stdout.data.decode("utf-8", "replace"),
        stderr=o.stderr.data.decode("utf-8", "replace"),
        truncated=truncated,
        exit_code=o.returncode,
        duration_s=round(o.duration_s, 4),
        value=value,
        message="; ".join(m for m in (message, note) if m),
    )


class BoundedSandbox:
    """Base for backends: ``cfg.concurrency`` runs at a time, a sync ``run`` and ``aclose``.

    Subclasses implement ``_execute``; the semaphore is made per event loop so one instance
    can serve several ``asyncio.run`` calls in turn.
    """

    name = "base"

    def __init__(self, cfg: SandboxConfig):
        self.cfg = cfg
        self._sem = asyncio.Semaphore(cfg.concurrency)
        self._sem_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._lock = threading.Lock()
        self._threads = threading.BoundedSemaphore(cfg.concurrency)  # bounds sync callers

    def _semaphore(self) -> asyncio.Semaphore:
        """This loop's semaphore (an asyncio primitive cannot be shared between loops)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._sem_loop is None or self._sem_loop() is not loop:
                self._sem, self._sem_loop = asyncio.Semaphore(self.cfg.concurrency), weakref.ref(loop)
            return self._sem

    async def arun(
        self, code: str, *, stdin: str | None = None, timeout_s: float | None = None
    ) -> ExecResult:
        """Run ``code`` once, waiting for a free slot first."""
        async with self._semaphore():
            return await self._execute(code, stdin, timeout_s or self.cfg.timeout_s)

    def run(
        self, code: str, *, stdin: str | None = None, timeout_s: float | None = None
    ) -> ExecResult:
        """Blocking ``arun``; works inside a running event loop too (via a worker thread).

        Calls from several threads are bounded by ``cfg.concurrency`` as well.
        """
        with self._threads:
            return run_sync(lambda: self.arun(code, stdin=stdin, timeout_s=timeout_s))

    async def aclose(self) -> None:
        """Release what the backend holds (nothing for process backends)."""

    async def _execute(self, code: str, stdin: str | None, timeout_s: float) -> ExecResult:
        raise NotImplementedError


def run_sync(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from sync code, even when a loop already runs here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())
    box: list[T] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            box.append(asyncio.run(make()))
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=work, name="ponder-sandbox-run")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return box[0]

