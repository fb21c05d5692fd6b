"""Options and helpers shared by the commands.

Everything a model or a dataset wrote (answers, questions, ids, run names, error details) is
hostile input to a terminal too: Rich reads ``[...]`` as markup (``[/]`` raises, ``[red]``
recolors, ``[no answer]`` vanishes) and control characters can move the cursor or retitle the
window. Commands print such text only through :func:`text` (Rich) or :func:`printable` (plain).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

StoreOpt = Annotated[Path | None, typer.Option(
    "--store", envvar="PONDER_STORE", help="SQLite store (default: the user data directory).")]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="A ponder.toml (default: ./ponder.toml if present).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
SettingOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="A strategy setting, KEY=VALUE (repeatable; `ponder strategies` lists them), "
    "e.g. --set beam_width=4.")]

# C0/C1 controls but tab and newline, and the bidirectional overrides that reorder a line.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def config_for(config: Path | None, store: Path | None = None, **overrides: Any) -> Any:
    """Load the configuration at the edge, with CLI flags taking precedence."""
    from ponder.cli.telemetry_setup import install
    from ponder.config import load_config

    loaded = load_config(config, store=store, **overrides)
    install(loaded)  # an OTLP exporter, only when one is configured
    return loaded


def strategy_settings(pairs: list[str] | None) -> dict[str, Any]:
    """``["beam_width=4", "escalate_role=standard"]`` as a dict; values read as JSON when they
    parse (numbers, true/false), else kept as strings. The strategy validates them."""
    settings: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r}: write KEY=VALUE", param_hint="--set")
        try:
            settings[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            settings[key.strip()] = value
    return settings


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def printable(value: object) -> str:
    """``value`` as a string safe to write to a terminal: control characters become visible
    escapes (``\\x1b``), so output cannot move the cursor, recolor or rewrite a line."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                            else f"\\u{ord(m.group()):04x}", str(value))


def text(value: object, style: str = "") -> Text:
    """``value`` as Rich text that is printed as exactly its characters, never as markup."""
    from rich.text import Text

    return Text(printable(value), style=style)


def console(*, stderr: bool = False) -> Console:
    """A Rich console that treats strings as plain text (no markup, no emoji codes, no
    highlighting): styled parts are built with :func:`text`."""
    from rich.console import Console

    return Console(stderr=stderr, markup=False, emoji=False, highlight=False)
