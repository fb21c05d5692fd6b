"""``ponder serve``: the OpenAI-compatible reasoning endpoint."""

from __future__ import annotations

from typing import Annotated

import typer

from ponder.cli.common import ConfigOpt, StoreOpt, config_for


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on; beyond loopback needs an API key.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    api_key: Annotated[list[str] | None, typer.Option(
        "--api-key", envvar="PONDER_SERVE_API_KEY",
        help="Bearer key clients must send (repeat for several; the variable takes them "
             "space-separated).")] = None,
    max_concurrent: Annotated[int, typer.Option(
        min=1, help="Requests run at once; more get 429 with Retry-After.")] = 8,
    timeout: Annotated[float, typer.Option(help="Seconds a request may run before a 504.")] = 600.0,
    allow_model: Annotated[list[str] | None, typer.Option(
        "--allow-model", help="Models a request may name beyond the configured roles' "
                              "(fnmatch pattern, e.g. 'openai/*'; repeatable).")] = None,
    grace: Annotated[int, typer.Option(help="Seconds in-flight requests get at shutdown.")] = 30,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    store: StoreOpt = None, config: ConfigOpt = None,
) -> None:
    """Serve strategies as OpenAI chat models: model 'verified', 'self-consistency@8' or
    'pot:openai/gpt-4.1-mini' at http://HOST:PORT/v1; every request is a run in the store."""
    import logging

    from ponder.serve import ServeSettings, check_bind, serve as run_server

    settings = ServeSettings(api_keys=tuple(k for k in api_key or () if k.strip()),
                             max_concurrent=max_concurrent, timeout_s=timeout,
                             allowed_models=tuple(allow_model or ()), shutdown_grace_s=grace)
    check_bind(host, settings)  # before loading models: a refused bind says so at once
    cfg = config_for(config, store)
    logging.basicConfig(level=log_level.upper(), format="%(message)s")
    typer.echo(f"ponder serve: http://{host}:{port}/v1 · store {cfg.store} · "
               f"{'API key required' if settings.api_keys else 'no API key (loopback only)'}",
               err=True)
    run_server(cfg, settings, host=host, port=port, log_level=log_level.lower())
