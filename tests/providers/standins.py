"""Local stand-ins of real providers' chat APIs, on 127.0.0.1, recording every request.

Response shapes, error texts and parameter rules follow each provider's API reference:
DeepSeek's ``deepseek-reasoner`` returns ``reasoning_content`` and rejects ``logprobs``;
OpenAI's o-series reject ``stop``/``temperature``/``top_p``/``logprobs`` and count hidden
reasoning in ``completion_tokens_details``; Anthropic's messages API returns ``thinking``
blocks and refuses a temperature other than 1 with thinking on; a vLLM server running a
thinking model puts ``<think>`` inline and ignores nothing it does not know.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Reply = tuple[int, dict[str, str], bytes]


@dataclass
class Stream:
    """A server-sent-events reply written event by event, ``delay`` seconds apart; the
    stand-in counts the events it managed to send before the client hung up."""

    events: list[dict[str, Any]]
    delay: float = 0.0


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Reply:
    return status, {"content-type": "application/json", **(headers or {})}, json.dumps(body).encode()


def openai_error(status: int, message: str, param: str | None = None,
                 kind: str = "invalid_request_error", headers: dict[str, str] | None = None) -> Reply:
    return _json(status, {"error": {"message": message, "type": kind, "param": param,
                                    "code": "unsupported_parameter" if param else None}}, headers)


@dataclass
class StandIn:
    """A provider imitation: ``answer(path, body)`` makes each reply; requests are recorded."""

    answer: Callable[[str, dict[str, Any], StandIn], Reply]
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    queue: list[Reply] = field(default_factory=list)  # replies served first, in order
    port: int = 0
    streamed: list[int] = field(default_factory=list)  # events sent, per streamed reply

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self) -> ThreadingHTTPServer:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return None

            def _stream(self, reply: Stream) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("connection", "close")
                self.end_headers()
                sent = 0
                try:
                    for event in reply.events:
                        self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
                        self.wfile.flush()
                        sent += 1
                        time.sleep(reply.delay)
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client closed the stream: a real server stops generating here
                standin.streamed.append(sent)
                self.close_connection = True

            def _reply(self, reply: Reply | Stream) -> None:
                if isinstance(reply, Stream):
                    self._stream(reply)
                    return
                status, headers, body = reply
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                standin.paths.append(self.path)
                standin.headers.append({k.lower(): v for k, v in self.headers.items()})
                self._reply(_json(200, {"object": "list", "data": [{"id": "m", "object": "model"}]}))

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                standin.requests.append(body)
                standin.paths.append(self.path)
                standin.headers.append({k.lower(): v for k, v in self.headers.items()})
                reply = standin.queue.pop(0) if standin.queue else standin.answer(self.path, body, standin)
                self._reply(reply)

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # a provider accepts a burst of parallel requests

        server = Server(("127.0.0.1", 0), Handler)
        self.port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


def chat_reply(model: str, contents: list[tuple[str, str | None]], *, prompt_tokens: int = 20,
               completion_tokens: int = 50, reasoning_tokens: int | None = None,
               finish_reason: str = "stop") -> Reply:
    """An OpenAI-shaped ``chat.completion`` with one choice per ``(content, reasoning)``."""
    choices = []
    for i, (content, reasoning) in enumerate(contents):
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if reasoning is not None:
            message["reasoning_content"] = reasoning
        choices.append({"index": i, "message": message, "finish_reason": finish_reason,
                        "logprobs": None})
    usage: dict[str, Any] = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                             "total_tokens": prompt_tokens + completion_tokens}
    if reasoning_tokens is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning_tokens}
    return _json(200, {"id": "chatcmpl-1", "object": "chat.completion", "created": 1,
                       "model": model, "choices": choices, "usage": usage})


def deepseek_reasoner(answer: str = "Answer: 42", reasoning: str = "6 times 7 is 42") -> StandIn:
    """``deepseek-reasoner``: reasoning_content, n ignored, logprobs refused with a 400."""

    def reply(path: str, body: dict[str, Any], _s: StandIn) -> Reply:
        if body.get("logprobs") or body.get("top_logprobs"):
            # DeepSeek's reasoning-model guide: logprobs/top_logprobs "will trigger an error".
            return openai_error(400, "deepseek-reasoner does not support the parameter `logprobs`",
                                "logprobs")
        limit = int(body.get("max_tokens") or 4096)
        if limit < 300:  # it thinks ~300 tokens before answering
            return chat_reply("deepseek-reasoner", [("", reasoning)], completion_tokens=limit,
                              reasoning_tokens=limit, finish_reason="length")
        return chat_reply("deepseek-reasoner", [(answer, reasoning)], completion_tokens=400,
                          reasoning_tokens=300)

    return StandIn(reply)


def openai_o_series(answer: str = "Answer: 42") -> StandIn:
    """o4-mini: rejects stop/temperature≠1/top_p/logprobs and ``max_tokens``; honours ``n``."""

    def reply(path: str, body: dict[str, Any], _s: StandIn) -> Reply:
        for param in ("stop", "logprobs", "top_p", "max_tokens"):
            if body.get(param) is not None and body.get(param) is not False:
                return openai_error(400, f"Unsupported parameter: '{param}' is not supported "
                                         "with this model.", param)
        if body.get("temperature") not in (None, 1, 1.0):
            return openai_error(400, "Unsupported value: 'temperature' does not support "
                                f"{body['temperature']} with this model. Only the default (1) "
                                "value is supported.", "temperature")
        n = int(body.get("n") or 1)
        limit = int(body.get("max_completion_tokens") or 100000)
        if limit < 200:
            return chat_reply("o4-mini", [("", None)] * n, completion_tokens=limit * n,
                              reasoning_tokens=limit * n, finish_reason="length")
        return chat_reply("o4-mini", [(answer, None)] * n, completion_tokens=250 * n,
                          reasoning_tokens=200 * n)

    return StandIn(reply)


def anthropic_thinking(answer: str = "Answer: 42", thought: str = "6*7=42") -> StandIn:
    """Anthropic messages API: thinking blocks; temperature must be 1 with thinking on."""

    def reply(path: str, body: dict[str, Any], _s: StandIn) -> Reply:
        thinking = (body.get("thinking") or {}).get("type") == "enabled"
        if thinking and body.get("temperature") not in (None, 1, 1.0):
            return _json(400, {"type": "error", "error": {
                "type": "invalid_request_error",
                "message": "`temperature` may only be set to 1 when thinking is enabled."}})
        if thinking and body["thinking"]["budget_tokens"] >= body["max_tokens"]:
            return _json(400, {"type": "error", "error": {
                "type": "invalid_request_error",
                "message": "`max_tokens` must be greater than `thinking.budget_tokens`."}})
        content = ([{"type": "thinking", "thinking": thought, "signature": "sig"}] if thinking else [])
        content.append({"type": "text", "text": answer})
        return _json(200, {"id": "msg_1", "type": "message", "role": "assistant",
                           "model": body.get("model"), "content": content,
                           "stop_reason": "end_turn", "stop_sequence": None,
                           "usage": {"input_tokens": 30, "output_tokens": 120}})

    return StandIn(reply)


def vllm_thinking(text: str = "<think>6 times 7</think>\nAnswer: 42") -> StandIn:
    """A vLLM server with a thinking model: inline ``<think>``; ``n`` honoured; logprobs given."""

    def reply(path: str, body: dict[str, Any], _s: StandIn) -> Reply:
        n = int(body.get("n") or 1)
        status, headers, raw = chat_reply("Qwen/Qwen3-8B", [(text, None)] * n,
                                          completion_tokens=30 * n)
        if body.get("logprobs"):
            data = json.loads(raw)
            for choice in data["choices"]:
                choice["logprobs"] = {"content": [
                    {"token": "t", "logprob": -0.1, "bytes": None, "top_logprobs": []}] * 20}
            raw = json.dumps(data).encode()
        return status, headers, raw

    return StandIn(reply)


def token_stream(model: str, tokens: list[tuple[str, float]], *, prompt_tokens: int = 20,
                 delay: float = 0.0) -> Stream:
    """An OpenAI-shaped ``chat.completion.chunk`` stream: one event per ``(token, logprob)``,
    then the finish reason and, as ``stream_options.include_usage`` asks, the usage."""

    def chunk(delta: dict[str, Any], logprob: dict[str, Any] | None, finish: str | None) -> dict:
        return {"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1,
                "model": model, "choices": [{"index": 0, "delta": delta, "logprobs": logprob,
                                             "finish_reason": finish}]}

    events = [chunk({"role": "assistant", "content": token} if i == 0 else {"content": token},
                    {"content": [{"token": token, "logprob": lp, "bytes": None,
                                  "top_logprobs": []}]}, None)
              for i, (token, lp) in enumerate(tokens)]
    events.append(chunk({}, None, "stop"))
    events.append({"id": "chatcmpl-s", "object": "chat.completion.chunk", "created": 1,
                   "model": model, "choices": [],
                   "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": len(tokens),
                             "total_tokens": prompt_tokens + len(tokens)}})
    return Stream(events, delay)
