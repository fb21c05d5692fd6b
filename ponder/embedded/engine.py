"""The embedded engine: each GGUF model served by a worker process of its own.

A ``llama_cpp.Llama`` is not thread-safe (two concurrent calls abort the process), and a
crash inside llama.cpp — a kernel built for another CPU, an assertion — takes its process
down. So ``LocalEngine`` runs each model in a child process (:mod:`ponder.embedded.worker`),
calls it one request at a time, and turns a dead worker into a retryable ``BackendError``
that names the model and the signal; the next call starts a fresh worker. The CLI, a batch
or the UI's server survive it. ``isolation="none"`` runs the same code in process, for the
benchmark that measures what the boundary costs. ``shared_engine()`` is the process-wide
engine the embedded backend calls. Imports the catalog, the wire format, ``ponder.errors``
and ``ponder.types`` (the worker's generation code only for ``isolation="none"``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import atexit
import threading
from multiprocessing.connection import Connection
from typing import Any, Literal

from ponder.embedded.catalog import local_model
from ponder.embedded.wire import receive, send
from ponder.errors import BackendError
from ponder.types import StopWhen, TextSink

Isolation = Literal["process", "none"]


class _Worker:
    """One model in a child process; calls are serialised by ``lock``."""

    def __init__(self, name: str, n_threads: int, *, call_timeout: float):
        self.name = name
        self.n_threads = n_threads
        self.call_timeout = call_timeout
        self.lock = threading.Lock()
        self.process: subprocess.Popen | None = None
        self.conn: Connection | None = None
        self.system_info = ""
        self._log: Any = None

    def complete(self, messages: list[dict[str, str]], params: dict[str, Any],
                 stop_when: StopWhen | None, on_text: TextSink | None = None) -> dict[str, Any]:
        with self.lock:
            conn = self._ensure_started()
            try:
                send(conn, {"op": "complete", "messages": messages, "params": params,
                            "watch": stop_when is not None or on_text is not None})
                seen: list[float] = []
                while True:
                    message = self._receive(conn)
                    if message["op"] == "token":
                        if message.get("logprob") is not None:
                            seen.append(float(message["logprob"]))
                        if on_text is not None and message.get("text"):
                            on_text(message["text"])
                        send(conn, {"op": "continue", "stop": bool(stop_when and stop_when(seen))})
                    elif message["op"] == "done":
                        return message["result"]
                    else:
                        raise BackendError(f"local/{self.name}", None, "the embedded engine "
                                           f"refused the request: {message.get('message')}")
            except (EOFError, OSError, TimeoutError) as exc:
                raise self._died(exc) from None

    def _receive(self, conn: Connection) -> dict[str, Any]:
        if not conn.poll(self.call_timeout):
            raise TimeoutError(f"no answer within {self.call_timeout:.0f} s")
        return receive(conn)

    def _ensure_started(self) -> Connection:
        if self.process is not None and self.process.poll() is None and self.conn is not None:
            return self.conn
        self.close()
        spec = local_model(self.name)
        path = str(spec.locate())  # in this process, so a ConfigError says what is missing
        parent, child = socket.socketpair()
        self._log = tempfile.TemporaryFile()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ponder.embedded.worker", str(child.fileno()), path,
                 spec.style, str(spec.n_ctx), str(self.n_threads)],
                pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, stdout=self._log,
                stderr=self._log, start_new_session=True,
            )
        finally:
            child.close()
        self.conn = Connection(parent.detach())
        try:
            hello = self._receive(self.conn)
        except (EOFError, OSError, TimeoutError) as exc:
            raise self._died(exc, starting=True) from None
        if hello["op"] != "ready":
            self.close()
            raise BackendError(f"local/{self.name}", None, "the embedded engine could not "
                               f"load the model: {hello.get('message')}")
        self.system_info = hello.get("system_info", "")
        return self.conn

    def _died(self, exc: BaseException, *, starting: bool = False) -> BackendError:
        """Stop what is left of the worker and say how it ended."""
        process = self.process
        if process is not None and process.poll() is None:
            process.kill()
        code = process.wait(timeout=10) if process is not None else None
        tail = self._log_tail()
        self.close()
        if isinstance(exc, TimeoutError):
            how = f"gave no answer in time ({exc}) and was stopped"
        elif code is not None and code < 0:
            how = f"was killed by {signal.Signals(-code).name}"
        elif code is not None:
            how = f"exited with status {code}"
        else:
            how = "stopped answering"
        when = "while loading the model" if starting else "during a call"
        message = f"the embedded engine process {how} {when}; the next call starts a new one"
        if tail:
            message += f". Its last output: {tail}"
        if code is not None and code < 0 and not isinstance(exc, TimeoutError):
            message += (". If this repeats, llama-cpp-python may be built for another CPU: "
                        "rerun scripts/setup, which builds a portable engine and checks it")
        return BackendError(f"local/{self.name}", None, message, retryable=True)

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        try:
            self._log.seek(0)
            lines = self._log.read().decode(errors="replace").strip().splitlines()
        except (OSError, ValueError):
            return ""
        return " | ".join(lines[-3:])[-500:]

    def close(self) -> None:
        """Stop the worker: closing the connection ends it; one that lingers is killed."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.process is not None:
            try:
                self.process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None


class _InProcess:
    """The same generation code in this process: no crash isolation."""

    def __init__(self, name: str, n_threads: int):
        self.name = name
        self.n_threads = n_threads
        self.lock = threading.Lock()
        self.model: Any = None
        self.process = None

    @property
    def system_info(self) -> str:
        return self.model.system_info if self.model is not None else ""

    def complete(self, messages: list[dict[str, str]], params: dict[str, Any],
                 stop_when: StopWhen | None, on_text: TextSink | None = None) -> dict[str, Any]:
        from ponder.embedded.worker import LoadedModel

        with self.lock:
            if self.model is None:
                spec = local_model(self.name)
                self.model = LoadedModel(str(spec.locate()), spec.style, spec.n_ctx,
                                         self.n_threads)
            return self.model.complete(messages, params, stop_when, on_text)

    def close(self) -> None:
        self.model = None


class LocalEngine:
    """Runs embedded models, each loaded once in its own worker process.

    >>> engine = LocalEngine()
    >>> engine.complete("smollm2-135m", [{"role": "user", "content": "Hi"}], max_tokens=8)
    {'text': ..., 'finish_reason': ..., 'usage': {...}}
    """

    def __init__(self, n_threads: int | None = None, *, isolation: Isolation = "process",
                 call_timeout: float = 600.0):
        # llama.cpp threads spin at barriers: one thread per core *left free* avoids collapse
        # when the sandbox or another process holds a core (2-core machines slow 100x).
        self._n_threads = n_threads or max(1, len(os.sched_getaffinity(0)) - 1)
        self.isolation = isolation
        self._call_timeout = call_timeout
        self._models: dict[str, _Worker | _InProcess] = {}
        self._lock = threading.Lock()

    def _get(self, name: str) -> _Worker | _InProcess:
        local_model(name)  # a ConfigError for an unknown name, before any process starts
        with self._lock:
            if name not in self._models:
                self._models[name] = (
                    _Worker(name, self._n_threads, call_timeout=self._call_timeout)
                    if self.isolation == "process" else _InProcess(name, self._n_threads))
            return self._models[name]

    def complete(
        self,
        name: str,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 256,
        temperature: float = 0.7,
        top_p: float = 0.95,
        stop: list[str] | None = None,
        seed: int | None = None,
        logprobs: bool = False,
        stop_when: StopWhen | None = None,
        on_text: TextSink | None = None,
    ) -> dict[str, Any]:
        """One sampled choice: ``{"text", "finish_reason", "usage"[, "logprobs"]}``.

        The same ``seed``, messages and parameters give the same text on every call.
        """
        params = dict(max_tokens=max_tokens, temperature=temperature, top_p=top_p,
                      stop=stop or None, seed=seed if seed is not None else -1)
        result = self._get(name).complete(messages, params, stop_when, on_text)
        if not logprobs:
            result.pop("logprobs", None)
        return result

    def system_info(self, name: str) -> str:
        """llama.cpp's report of the CPU features the loaded ``local/<name>`` uses."""
        return self._get(name).system_info

    def worker_pid(self, name: str) -> int | None:
        """The process id of ``local/<name>``'s worker, while one runs."""
        process = getattr(self._models.get(name), "process", None)
        return process.pid if process is not None and process.poll() is None else None

    def close(self) -> None:
        """Stop every worker."""
        with self._lock:
            for model in self._models.values():
                model.close()
            self._models.clear()


_SHARED: LocalEngine | None = None
_SHARED_LOCK = threading.Lock()


def shared_engine() -> LocalEngine:
    """The process-wide engine (each model is loaded once, in its own worker process); its
    workers stop when the process exits."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = LocalEngine()
            atexit.register(_SHARED.close)
        return _SHARED
