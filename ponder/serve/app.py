"""The ASGI app: ``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /health``.

Each chat request is admitted (or refused with 429), planned, recorded as a run and driven
while a watcher listens for the client going away: a disconnect cancels the run's graph,
which cancels its outstanding model calls, and the run is stored as ``cancelled``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ponder.config import Config
from ponder.serve.content import content_of, reasoning_of
from ponder.serve.limits import read_json
from ponder.serve.protocol import (ChatRequest, ServeError, chunk_body, completion_body,
                                   extension, parse_request, progress_line, usage_body)
from ponder.serve.runner import Plan, Runner, ServeSettings
from ponder.types import Result

access_log = logging.getLogger("ponder.serve.access")
log = logging.getLogger("ponder.serve")
RUN_HEADER = "x-ponder-run-id"
DISCONNECTED = "client disconnected"


def create_app(config: Config, settings: ServeSettings | None = None, *,
               runner: Runner | None = None) -> Starlette:
    """The endpoint for ``config``; ``runner`` lets a test or benchmark share one.

    >>> app = create_app(load_config(), ServeSettings(api_keys=("sk-local",)))
    """
    runner = runner or Runner(config, settings or ServeSettings())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(runner.warm)
        yield
        runner.close()  # runs uvicorn's grace period could not finish

    app = Starlette(routes=[
        Route("/health", _health, methods=["GET"]),
        Route("/v1/models", _models, methods=["GET"]),
        Route("/v1/chat/completions", _chat, methods=["POST"]),
    ], lifespan=lifespan)
    app.add_middleware(_Guard, keys=runner.settings.api_keys)
    app.state.runner = runner
    return app


async def _health(request: Request) -> Response:
    runner: Runner = request.app.state.runner
    return JSONResponse(runner.health())


async def _models(request: Request) -> Response:
    """The strategies, then each strategy with each configured model."""
    runner: Runner = request.app.state.runner
    models = sorted({r.model for r in runner.config.roles.values()})
    names = runner.strategies() + [f"{s}:{m}" for s in runner.strategies() for m in models]
    return JSONResponse({"object": "list", "data": [
        {"id": n, "object": "model", "created": 0, "owned_by": "ponder"} for n in names]})


async def _chat(request: Request) -> Response:
    runner: Runner = request.app.state.runner
    limits = runner.settings
    try:
        body = await read_json(request, max_bytes=limits.max_body_bytes,
                               max_depth=limits.max_json_depth, timeout_s=limits.body_timeout_s)
        chat = parse_request(body)
        plan = runner.plan(chat)
        slot = runner.admit()
    except ServeError as exc:
        return error_response(exc)
    # From here on the slot is this request's until the finally below, or the stream's.
    started, handed_over, run_id = time.monotonic(), False, None
    try:
        run_id = await runner.open(plan, _meta(request, chat, plan))
        request.scope.setdefault("state", {})["run_id"] = run_id
        if chat.stream:
            handed_over = True
            return RunStream(runner, plan, chat, run_id, slot)
        return await _complete(request, runner, plan, chat, run_id)
    except ServeError as exc:
        return error_response(exc, run_id)
    except Exception as exc:  # noqa: BLE001 - a client gets an OpenAI error, never a bare 500
        log.exception("request for run %s failed", run_id)
        return error_response(ServeError(500, f"the server failed: {type(exc).__name__}: {exc}; "
                                         "its log has the traceback", type="server_error",
                                         code="internal_error"), run_id)
    finally:
        if not handed_over:
            runner.release(slot, time.monotonic() - started)


def _meta(request: Request, chat: ChatRequest, plan: Plan) -> dict[str, Any]:
    """What the run record keeps of the request: who asked, and the question, so ``ponder
    runs`` and the UI list a served run by what it was asked, as they list a solve."""
    question = plan.problem.question
    return {"client": request.client.host if request.client else None, "user": chat.user,
            "stream": chat.stream, "content": plan.content,
            "question": question if len(question) <= 200 else question[:199] + "…"}


async def _complete(request: Request, runner: Runner, plan: Plan, chat: ChatRequest,
                    run_id: str) -> Response:
    result = await _until_disconnect(request.receive, runner.execute(plan, run_id))
    if result is None:  # the client is gone; nobody reads this
        return Response(status_code=499, headers={RUN_HEADER: run_id})
    body = completion_body(result, content=content_of(result, plan.content, plan.response_format),
                           reasoning=reasoning_of(result), created=int(time.time()),
                           ponder=_extension(result, chat, plan))
    return JSONResponse(body, headers={RUN_HEADER: run_id})


def _extension(result: Result, chat: ChatRequest, plan: Plan) -> dict[str, Any]:
    return extension(result, ignored=chat.ignored(), content=plan.content)


async def _until_disconnect(receive: Receive, work: Any) -> Any:
    """Await ``work``; if the client disconnects first, cancel it and return ``None``."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(receive))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            task.cancel(DISCONNECTED)
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return None
        return task.result()
    except asyncio.CancelledError:  # the server itself is cancelling this request
        task.cancel("server shut down")
        with contextlib.suppress(asyncio.CancelledError, ServeError):
            await task
        raise
    finally:
        watcher.cancel()


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class RunStream(Response):
    """Server-sent events: progress as reasoning deltas, the answer, usage, ``[DONE]``.

    Streams and listens at once, so a client that hangs up cancels the run even while no
    event is due.
    """

    media_type = "text/event-stream"

    def __init__(self, runner: Runner, plan: Plan, chat: ChatRequest, run_id: str, slot: int):
        # Not Response.__init__: it would render an empty body and send content-length: 0.
        self.status_code, self.background = 200, None
        self.init_headers({RUN_HEADER: run_id, "cache-control": "no-cache"})
        self.runner, self.plan, self.chat, self.run_id = runner, plan, chat, run_id
        self.slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.monotonic()
        try:
            await send({"type": "http.response.start", "status": 200,
                        "headers": self.raw_headers})
            await _until_disconnect(receive, self._events(send))
        finally:
            self.runner.release(self.slot, time.monotonic() - started)

    async def _events(self, send: Send) -> None:
        created, model = int(time.time()), self.plan.strategy

        async def emit(data: dict[str, Any] | str) -> None:
            text = data if isinstance(data, str) else json.dumps(data)
            await send({"type": "http.response.body", "body": f"data: {text}\n\n".encode(),
                        "more_body": True})

        async def delta(fields: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
            await emit(chunk_body(self.run_id, model=model, created=created, delta=fields,
                                  finish_reason=finish, **extra))

        async def on_progress(event: dict[str, Any]) -> None:
            line = progress_line(event)
            if line:
                await delta({"reasoning_content": line})

        await delta({"role": "assistant", "content": ""})
        try:
            result = await self.runner.execute(self.plan, self.run_id, on_progress)
        except ServeError as exc:
            await emit(exc.body())
        else:
            reasoning = reasoning_of(result)
            if reasoning:
                await delta({"reasoning_content": "[ponder] the counted work:\n" + reasoning})
            await delta({"content": content_of(result, self.plan.content,
                                               self.plan.response_format)})
            await delta({}, "stop", ponder=_extension(result, self.chat, self.plan))
            if self.chat.include_usage:
                await emit(chunk_body(self.run_id, model=model, created=created,
                                      usage=usage_body(result.usage)))
        await emit("[DONE]")
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def error_response(exc: ServeError, run_id: str | None = None) -> Response:
    headers = dict(exc.headers)
    run_id = run_id or exc.run_id
    if run_id:
        headers[RUN_HEADER] = run_id
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


class _Guard:
    """Bearer-key check (``/health`` stays open) and one JSON access-log line per request."""

    def __init__(self, app: Any, keys: tuple[str, ...]):
        self.app, self.keys = app, [k.encode() for k in keys]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.monotonic(), {"code": 0}

        async def record(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            if self.keys and scope["path"] != "/health" and not self._authorized(scope):
                await _unauthorized(scope, receive, record)
            else:
                await self.app(scope, receive, record)
        finally:
            _log_access(scope, status["code"], time.monotonic() - started)

    def _authorized(self, scope: Scope) -> bool:
        header = dict(scope["headers"]).get(b"authorization", b"")
        scheme, _, token = header.partition(b" ")
        return scheme.lower() == b"bearer" and any(
            hmac.compare_digest(token.strip(), key) for key in self.keys)


async def _unauthorized(scope: Scope, receive: Receive, send: Send) -> None:
    exc = ServeError(401, "missing or invalid API key; send 'Authorization: Bearer <key>' with "
                     "a key the server was started with (--api-key or PONDER_SERVE_API_KEY)",
                     type="invalid_request_error", code="invalid_api_key")
    response = error_response(exc)
    response.headers["www-authenticate"] = "Bearer"
    await response(scope, receive, send)


def _log_access(scope: Scope, status: int, took_s: float) -> None:
    client = scope.get("client") or ("", 0)
    access_log.info(json.dumps({
        "event": "request", "ts": round(time.time(), 3), "method": scope.get("method"), "path": scope.get("path"),
        "status": status, "duration_ms": round(took_s * 1000, 1), "client": client[0],
        "run_id": (scope.get("state") or {}).get("run_id"),
    }))
