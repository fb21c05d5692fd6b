"""``ponder serve``: the OpenAI-compatible reasoning endpoint."""

from __future__ import annotations

from typing import Annotated, Literal

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
        min=1, max=1024, help="Requests run at once; more get 429 with Retry-After.")] = 8,
    timeout: Annotated[float, typer.Option(
        min=1, max=86400, help="Seconds a request may run before a 504.")] = 600.0,
    allow_model: Annotated[list[str] | None, typer.Option(
        "--allow-model", help="Models a request may name beyond the configured roles' "
                              "(fnmatch pattern, e.g. 'openai/*'; repeatable).")] = None,
    grace: Annotated[int, typer.Option(
        min=0, max=3600, help="Seconds in-flight requests get at shutdown.")] = 30,
    content: Annotated[Literal["solution", "answer"], typer.Option(
        help="What message.content holds: 'solution' (the counted work, the verdict unless "
             "verified, then 'The answer is N.' and '#### N') or 'answer' (the bare answer). "
             "A request may choose with extra_body.ponder.content.")] = "solution",
    max_samples: Annotated[int, typer.Option(
        min=1, max=256, help="Most samples one request may ask for (more: 400).")] = 64,
    max_budget_usd: Annotated[float | None, typer.Option(
        min=0.0001, help="Most dollars one request may spend; also the budget of requests "
                         "that set none (above it: 400).")] = None,
    max_body_mb: Annotated[float, typer.Option(
        min=0.01, max=1024, help="Largest request body in MB (more: 413).")] = 4.0,
    max_connections: Annotated[int, typer.Option(
        min=2, max=100000, help="Open connections at once (beyond it: 503).")] = 256,
    log_level: Annotated[Literal["debug", "info", "warning", "error"], typer.Option(
        help="debug, info, warning or error.")] = "info",
    store: StoreOpt = None, config: ConfigOpt = None,
) -> None:
    """Serve strategies as OpenAI chat models: model 'verified', 'self-consistency@8' or
    'pot:openai/gpt-4.1-mini' at http://HOST:PORT/v1; every request is a run in the store."""
    import logging

    from ponder.serve import ServeSettings, check_bind, serve as run_server
    from ponder.store import redacted

    settings = ServeSettings(api_keys=tuple(k for k in api_key or () if k.strip()),
                             max_concurrent=max_concurrent, timeout_s=timeout,
                             allowed_models=tuple(allow_model or ()), shutdown_grace_s=grace,
                             content=content, max_samples=max_samples,
                             max_budget_usd=max_budget_usd,
                             max_body_bytes=int(max_body_mb * 1024 * 1024),
                             max_connections=max_connections)
    check_bind(host, settings)  # before loading models: a refused bind says so at once
    cfg = config_for(config, store)
    logging.basicConfig(level=log_level.upper(), format="%(message)s")
    typer.echo(f"ponder serve: http://{host}:{port}/v1 · store {redacted(cfg.store)} · "
               f"{'API key required' if settings.api_keys else 'no API key (loopback only)'}",
               err=True)
    run_server(cfg, settings, host=host, port=port, log_level=log_level.lower())
