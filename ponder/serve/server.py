"""Starting the endpoint under uvicorn: in the foreground (the CLI) or in a background thread
(tests, benchmarks, notebooks), with the bind rule and graceful shutdown in one place."""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from typing import Any

from ponder.config import Config
from ponder.errors import ConfigError
from ponder.serve.runner import Runner, ServeSettings


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, settings: ServeSettings) -> None:
    """Refuse to listen beyond this machine without an API key."""
    if not settings.api_keys and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {host} without an API key: anyone who can reach it could "
            "spend your model budget. Pass --api-key (or set PONDER_SERVE_API_KEY), or bind "
            "to 127.0.0.1")


def _uvicorn_config(config: Config, settings: ServeSettings, host: str, port: int,
                    runner: Runner | None, log_level: str) -> Any:
    import uvicorn

    from ponder.serve.app import create_app
    from ponder.serve.limits import head_timeout_protocol

    check_bind(host, settings)
    app = create_app(config, settings, runner=runner)
    # The app writes its own structured access log (ponder.serve.access). The h11 protocol
    # with a deadline on each request head: uvicorn has none, so a client that opens a
    # connection and sends half a header would hold it for ever. ``limit_concurrency`` caps
    # connections (beyond it uvicorn answers 503); a head may be at most 64 KiB.
    return uvicorn.Config(app, host=host, port=port, access_log=False, log_level=log_level,
                          timeout_graceful_shutdown=settings.shutdown_grace_s, lifespan="on",
                          http=head_timeout_protocol(settings.head_timeout_s),
                          limit_concurrency=settings.max_connections, timeout_keep_alive=5,
                          h11_max_incomplete_event_size=64 * 1024)


def serve(config: Config, settings: ServeSettings, *, host: str = "127.0.0.1", port: int = 8000,
          log_level: str = "info") -> None:
    """Serve until SIGINT/SIGTERM; in-flight requests get ``shutdown_grace_s`` to finish."""
    import uvicorn

    logging.getLogger("ponder.serve").setLevel(log_level.upper())
    uvicorn.Server(_uvicorn_config(config, settings, host, port, None, log_level)).run()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class BackgroundServer:
    """The endpoint on 127.0.0.1 in a thread, for tests and benchmarks.

    >>> with BackgroundServer(config, ServeSettings()) as server:
    ...     openai.OpenAI(base_url=server.base_url, api_key="-").models.list()
    """

    def __init__(self, config: Config, settings: ServeSettings | None = None, *,
                 host: str = "127.0.0.1", port: int | None = None,
                 runner: Runner | None = None, log_level: str = "warning"):
        import uvicorn

        settings = settings or ServeSettings()
        self.runner = runner or Runner(config, settings)
        self.host, self.port = host, port or free_port(host)
        self.server = uvicorn.Server(_uvicorn_config(config, settings, self.host, self.port,
                                                     self.runner, log_level))
        self._thread = threading.Thread(target=self.server.run, name="ponder-serve", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self, timeout_s: float = 120.0) -> BackgroundServer:
        """Start serving; waits for startup (which imports LiteLLM and the graph builders)."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"ponder serve did not start on {self.host}:{self.port}")
            time.sleep(0.02)
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout_s)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
