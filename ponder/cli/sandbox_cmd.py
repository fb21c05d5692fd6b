"""``ponder sandbox``: check which sandboxes work here, and run a file in one.

Mounted by the main CLI as ``ponder sandbox``; also runnable alone as
``python -m ponder.cli.sandbox_cmd``. Heavy imports wait until a command runs.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, Optional

import typer

from ponder.cli.common import number, printable

if TYPE_CHECKING:
    from ponder.config import SandboxConfig
    from ponder.types import ExecResult

app = typer.Typer(
    help="Check the code sandboxes (bubblewrap, E2B, subprocess) and run programs in them.",
    no_args_is_help=True,
)
_CONFIG_KEY = "ponder.sandbox.config"
MAX_PROGRAM_BYTES = 1024 * 1024
MAX_TIMEOUT_S = 600  # SandboxConfig's own limit
_FIX_ENCODING = "save it as UTF-8, or declare its encoding in a first-line comment: # -*- coding: latin-1 -*-"


@app.callback()
def _options(
    ctx: typer.Context,
    config: Optional[Path] = typer.Option(  # noqa: UP007 - typer needs Optional on 3.11
        None, "--config", help="ponder.toml to read (default: ./ponder.toml if present)."
    ),
) -> None:
    """Check the code sandboxes and run programs in them."""
    ctx.meta[_CONFIG_KEY] = config


def _sandbox_config(ctx: typer.Context, **overrides: Any) -> SandboxConfig:
    """The ``[sandbox]`` config from ``--config``, with command-line overrides on top."""
    from ponder.config import load_config
    from ponder.errors import ConfigError

    wanted = {k: v for k, v in overrides.items() if v is not None}
    try:
        return load_config(ctx.meta.get(_CONFIG_KEY), sandbox=wanted or None).sandbox
    except ConfigError as exc:
        typer.echo(f"error: {printable(exc)}", err=True)
        raise typer.Exit(2) from None


@app.command()
def check(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
) -> None:
    """Say which sandbox backends can run here and how to fix the ones that cannot."""
    from ponder.sandbox import check_backends

    cfg = _sandbox_config(ctx)
    checks = check_backends(cfg)
    if as_json:
        typer.echo("[" + ", ".join(c.model_dump_json() for c in checks) + "]")
    else:
        for c in checks:
            mark = "ok  " if c.ok else "FAIL"
            chosen = " (configured)" if c.name == cfg.backend else ""
            typer.echo(f"{mark} {c.name}{chosen}: {c.detail}")
            if c.fix:
                typer.echo(f"     fix: {c.fix}")
    chosen_ok = any(c.ok for c in checks if c.name == cfg.backend)
    raise typer.Exit(0 if chosen_ok else 1)


@app.command()
def run(
    ctx: typer.Context,
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="Python file to run."),
    sandbox: Optional[str] = typer.Option(  # noqa: UP007
        None, "--sandbox",
        help="Backend: local (default), e2b or subprocess (no isolation)."
    ),
    timeout: Optional[float] = typer.Option(  # noqa: UP007
        None, "--timeout", **number(float, 0, MAX_TIMEOUT_S, low_open=True),
        help="Wall-clock limit, seconds."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole result as JSON."),
) -> None:
    """Run FILE in a sandbox; exit 0 when it finished with status ok, 1 otherwise."""
    cfg = _sandbox_config(ctx, backend=sandbox, timeout_s=timeout)
    result = _execute(cfg, _read_source(file))
    if as_json:
        typer.echo(result.model_dump_json())
    else:
        _print_human(result)
    raise typer.Exit(0 if result.status == "ok" else 1)


def _read_source(path: Path) -> str:
    """The text of a Python file, decoded as Python would (UTF-8 unless a coding line says
    otherwise); an undecodable file exits 2 with what to do instead of a traceback."""
    import io
    import tokenize

    from ponder.bounded_read import read_bounded
    from ponder.errors import PonderError

    try:
        data = read_bounded(path, MAX_PROGRAM_BYTES, what="the program",
                            hint="a program to run is source code, not data")
    except PonderError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror or exc}")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if not str(exc.msg).startswith("invalid or missing"):  # unknown encoding, bad BOM
            _fail(f"{path}: {exc.msg}; {_FIX_ENCODING}")
        encoding = "utf-8"  # the first lines are not UTF-8: the decode below says where
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        _fail(f"{path} is not valid {exc.encoding} text (byte 0x{data[exc.start]:02x} at offset "
              f"{exc.start}); {_FIX_ENCODING}")  # fmt: skip


def _fail(problem: str) -> NoReturn:
    typer.echo(f"error: {printable(problem)}", err=True)
    raise typer.Exit(2)


def _execute(cfg: SandboxConfig, code: str) -> ExecResult:
    """Run ``code`` once; a backend that cannot start becomes a ``sandbox_error`` result."""
    from ponder.errors import SandboxUnavailable
    from ponder.sandbox import make_sandbox
    from ponder.types import ExecResult

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            box = make_sandbox(cfg)
        except SandboxUnavailable as exc:
            return ExecResult(status="sandbox_error", message=str(exc))
    for warning in caught:
        typer.echo(f"warning: {warning.message}", err=True)
    return box.run(code)


def _print_human(result: ExecResult) -> None:
    """The program's own output, then one status line on stderr."""
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    line = f"[{result.status}] exit={result.exit_code} {result.duration_s:.3f}s"
    if result.truncated:
        line += " (output truncated)"
    if result.value is not None:
        line += f" value={result.value!r}"
    if result.message:
        line += f" — {result.message}"
    typer.echo(line, err=True)


if __name__ == "__main__":
    app()
