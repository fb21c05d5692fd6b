"""The embedded engine's worker: one llama.cpp model in its own process.

A crash inside llama.cpp (a bad kernel for this CPU, an assertion) kills only this process;
the parent :class:`ponder.embedded.engine.LocalEngine` turns that into a ``BackendError``
naming the model and the signal, and starts a fresh worker on the next call. ``LoadedModel``
is the generation code itself, also used in process (``LocalEngine(isolation="none")``) by
the benchmark that measures what the process boundary costs. The messages are
:mod:`ponder.embedded.wire`'s. Imports the catalog, the wire format and ``ponder.types``
(llama_cpp only once a model loads); never the engine.
"""

from __future__ import annotations

import codecs
import math
import os
import sys
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from ponder.embedded.catalog import PromptStyle, completion_prompt
from ponder.embedded.wire import receive, send
from ponder.types import StopWhen, TextSink


class LoadedModel:
    """A loaded llama.cpp model that returns one sampled choice per call.

    Sampling is reproducible: the same seed, prompt and parameters give the same text on
    every call and in every process. llama-cpp-python reuses the KV cache of a cached prompt
    prefix, which evaluates the prompt in another batch shape than a fresh call does (the
    whole prompt at once, or only its last token), and the logits differ slightly with the
    batch shape — enough to change a sampled token on some CPUs. So every call evaluates its
    prompt the same way: all but the last token as one pass (kept when exactly that prefix is
    already cached, as for repeated samples of one prompt), then the last token alone.
    """

    def __init__(self, path: str, style: PromptStyle, n_ctx: int, n_threads: int):
        import llama_cpp

        _silence(llama_cpp)
        self.style = style
        self.llm = llama_cpp.Llama(model_path=path, n_ctx=n_ctx, n_threads=n_threads,
                                   verbose=False)
        self.system_info = llama_cpp.llama_print_system_info().decode(errors="replace").strip()
        self._logprobs: list[float] = []
        self._stop_when: StopWhen | None = None
        self._on_text: TextSink | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._wrap_generate()

    def _wrap_generate(self) -> None:
        import numpy as np

        llm, generate = self.llm, self.llm.generate

        def generate_recording(tokens: Any, *args: Any, **kwargs: Any):
            tokens = list(tokens)
            self._prefill(tokens)
            # Token log-probs from the logits that produced each sampled token, without
            # logits_all (which computes full-vocabulary logits for every prompt token).
            for token in generate(tokens, *args, **kwargs):
                logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm._n_vocab,))
                top = float(logits.max())
                lse = top + math.log(float(np.exp(logits - top).sum()))
                self._logprobs.append(float(logits[token]) - lse)
                if self._on_text is not None:
                    self._on_text(self._decoder.decode(llm.detokenize([token])))
                if self._stop_when is not None and self._stop_when(self._logprobs):
                    return
                yield token

        llm.generate = generate_recording

    def _prefill(self, tokens: list[int]) -> None:
        """Leave exactly ``tokens[:-1]`` evaluated in the KV cache, in one fixed batch shape.

        ``generate`` then reuses that prefix and evaluates the last token on its own.
        """
        head = tokens[:-1]
        cached = self.llm._input_ids  # the tokens whose keys and values are cached
        if head and len(cached) >= len(head) and cached[: len(head)].tolist() == head:
            return
        self.llm.reset()
        if head:
            self.llm.eval(head)

    def complete(self, messages: list[dict[str, str]], params: dict[str, Any],
                 stop_when: StopWhen | None = None,
                 on_text: TextSink | None = None) -> dict[str, Any]:
        """One choice: ``{"text", "finish_reason", "usage", "logprobs", "engine_s"}``.

        ``engine_s`` is the time spent in llama.cpp, so a caller can tell it from transport.
        ``on_text`` receives each generated token's text as it is sampled (a stop sequence
        is cut from the returned text afterwards, so the pieces may run past it).
        """
        started = time.perf_counter()
        self._logprobs, self._stop_when, self._on_text = [], stop_when, on_text
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            if self.style == "chat":
                out = self.llm.create_chat_completion(messages=messages, **params)
            else:
                out = self.llm.create_completion(prompt=completion_prompt(messages), **params)
        finally:
            self._stop_when = self._on_text = None
        choice = out["choices"][0]
        text = choice["text"] if "text" in choice else choice["message"]["content"] or ""
        finish = choice.get("finish_reason") or "stop"
        logprobs = list(self._logprobs)
        if stop_when is not None and stop_when(logprobs):
            finish = "low_confidence"
        usage = {k: int(out["usage"][k]) for k in ("prompt_tokens", "completion_tokens")}
        return {"text": text, "finish_reason": finish, "usage": usage,
                "logprobs": logprobs[: max(usage["completion_tokens"], 0)],
                "engine_s": time.perf_counter() - started}


_LOG_CALLBACK: Any = None


def _silence(llama_cpp: Any) -> None:
    """Route llama.cpp's own logging (which ignores ``verbose=False``) to nowhere."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is None:
        import ctypes

        _LOG_CALLBACK = llama_cpp.llama_log_callback(lambda level, text, data: None)
        llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))


def _watch_parent() -> None:
    """Exit when the parent process goes away (kill -9 of ponder must not leave a worker)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def serve(conn: Connection, model_args: tuple[str, PromptStyle, int, int]) -> None:
    """Load the model and answer requests until the parent closes the connection."""
    try:
        model = LoadedModel(*model_args)
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        send(conn, {"op": "error", "message": f"{type(exc).__name__}: {exc}"})
        return
    send(conn, {"op": "ready", "system_info": model.system_info})
    while True:
        try:
            request = receive(conn)
        except (EOFError, OSError):
            return
        watcher = _RemoteWatch(conn) if request.get("watch") else None
        try:
            result = model.complete(request["messages"], request["params"],
                                    watcher.stop_when if watcher else None,
                                    watcher.on_text if watcher else None)
        except Exception as exc:  # noqa: BLE001 - a bad request must not end the worker
            send(conn, {"op": "error", "message": f"{type(exc).__name__}: {exc}"})
            continue
        send(conn, {"op": "done", "result": result})


class _RemoteWatch:
    """The parent's stop rule and text sink, answered token by token over the connection:
    each token's text is sent with its log-probability, and the parent says whether to stop."""

    def __init__(self, conn: Connection):
        self.conn, self.piece, self.asked = conn, "", {}

    def on_text(self, piece: str) -> None:
        self.piece += piece

    def stop_when(self, logprobs: list[float]) -> bool:
        n = len(logprobs)
        if n not in self.asked:
            send(self.conn, {"op": "token", "logprob": logprobs[-1] if logprobs else None,
                             "text": self.piece})
            self.piece = ""
            self.asked[n] = bool(receive(self.conn).get("stop"))
        return self.asked[n]


def main(argv: list[str]) -> int:
    """``python -m ponder.embedded.worker FD GGUF_PATH STYLE N_CTX N_THREADS``.

    ``LocalEngine`` starts it with the weights already located, so a model registered with
    ``register_local_model`` in the parent runs here too.
    """
    fd, path, style, n_ctx, n_threads = argv
    _watch_parent()
    conn = Connection(int(fd))
    try:
        serve(conn, (path, style, int(n_ctx), int(n_threads)))
    finally:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
