"""Options and helpers shared by the commands.

Everything a model or a dataset wrote (answers, questions, ids, run names, error details) is
hostile input to a terminal too: Rich reads ``[...]`` as markup (``[/]`` raises, ``[red]``
recolors, ``[no answer]`` vanishes) and control characters can move the cursor or retitle the
window. Commands print such text only through :func:`text` (Rich) or :func:`printable` (plain).
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import os
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

    from ponder.config import Config, SolveOptions

StoreOpt = Annotated[str | None, typer.Option(
    "--store", envvar="PONDER_STORE",
    help="SQLite file or postgresql:// URL (default: a file in the user data directory).")]
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="A ponder.toml (default: ./ponder.toml if present).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
SettingOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="A strategy setting, KEY=VALUE (repeatable; `ponder strategies` lists them), "
    "e.g. --set beam_width=4.")]

# Ranges every option states itself, so a value outside them is a usage error (exit 2, one
# line naming the option and the range) before anything runs. They match the settings models'.
MAX_SAMPLES = 256
MAX_CONCURRENCY = 256
MAX_COUNT = 1_000_000_000  # --limit: SQLite refuses integers past 2**63 with an OverflowError
MAX_TOKENS = 10**12
MAX_SEED = 2**31 - 1  # a sample's seed is seed + i; llama.cpp takes 32 bits


def number(kind: type[int] | type[float], low: float | None = None, high: float | None = None,
           *, low_open: bool = False) -> dict[str, Any]:
    """Keyword arguments for ``typer.Option``: a number that must lie in a range, said in the
    help (``INTEGER 1<=x<=256``) and in the one-line usage error a value outside it gets.

    Floats must also be finite: ``nan`` passes every comparison (``nan < 0`` is false, and so
    is ``nan > 1``), so a plain range check lets it through.
    """
    rng = _describe_range(low, high, low_open)

    def parse(value: Any) -> Any:
        if isinstance(value, kind) and not isinstance(value, bool):
            parsed = value  # a default, already a number
        else:
            try:
                parsed = kind(str(value).strip())
            except ValueError:
                raise typer.BadParameter(f"{value!r} is not {'an integer' if kind is int else 'a number'}"
                                         f" in the range {rng}.") from None
        if kind is float and not math.isfinite(parsed):
            raise typer.BadParameter(f"{value} is not a finite number in the range {rng}.")
        if ((low is not None and (parsed <= low if low_open else parsed < low))
                or (high is not None and parsed > high)):
            raise typer.BadParameter(f"{value} is not in the range {rng}.")
        return parsed

    return {"parser": parse, "metavar": f"<{kind.__name__}> {rng}"}


def _describe_range(low: float | None, high: float | None, low_open: bool) -> str:
    """``1<=x<=256``, ``x>0``, ``0<x<=600``: a range as click writes it."""
    left = "" if low is None else f"{low}{'<' if low_open else '<='}"
    right = "" if high is None else f"<={high}"
    if low is not None and high is None:
        return f"x{'>' if low_open else '>='}{low}"
    return f"{left}x{right}"


SamplesOpt = Annotated[int | None, typer.Option("--samples", "-n", **number(int, 1, MAX_SAMPLES),
                                                help="Maximum samples (per problem).")]
SeedOpt = Annotated[int | None, typer.Option(**number(int, 0, MAX_SEED), help="Sampling seed.")]
StopRule = Literal["adaptive", "conservative"]
StopRuleOpt = Annotated[StopRule, typer.Option("--stop-rule", help=(
    "adaptive: stop once the leader very probably holds at the full budget; "
    "conservative: only once it cannot be overtaken."))]
StopThresholdOpt = Annotated[float, typer.Option(
    "--stop-threshold", **number(float, 0.5, 1.0),
    help="Adaptive rule: the probability the leader must reach.")]
# Not a fixed choice: plugins register sandboxes (ponder.sandbox.SANDBOXES), whose lookup
# names the known ones when a name is not among them.
SandboxOpt = Annotated[str | None, typer.Option(
    "--sandbox", help="local, e2b, subprocess, or a sandbox a plugin registers.")]
BudgetUsdOpt = Annotated[float | None, typer.Option("--budget-usd", **number(float, 0, low_open=True),
                                                    help="Cost budget in USD per problem.")]
BudgetTokensOpt = Annotated[int | None, typer.Option("--budget-tokens", **number(int, 1, MAX_TOKENS),
                                                     help="Token budget per problem.")]
OutOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write here (default: stdout).")]
NoEarlyStopOpt = Annotated[bool, typer.Option("--no-early-stop", help="Always take every sample.")]
ReasonerOpt = Annotated[str | None, typer.Option(help="Model for the reasoner role.")]
StandardOpt = Annotated[str | None, typer.Option(help="Model for the standard role.")]
DemosOpt = Annotated[str | None, typer.Option("--demos", metavar="RUN", help=(
    "Few-shot exemplars from the verified-correct traces of a stored run: the nearest few "
    "to each question, never the question itself."))]


@dataclass(frozen=True)
class Flag:
    """A flag ``solve`` and ``batch`` both take: its parameter, and how its value reaches the
    run. ``field`` names the ``SolveOptions`` field it fills (its own name unless said);
    ``to_config`` marks a flag that changes the configuration instead (models, sandbox)."""

    name: str
    annotation: Any
    default: Any = None
    field: str | None = None
    convert: Callable[[Any, Config], Any] | None = None
    to_config: bool = False

    @property
    def option(self) -> str:
        """The flag as the user types it: ``--budget-usd``."""
        info = typing.get_args(self.annotation)[1]
        # In Annotated, typer.Option's first name arrives as its ``default``.
        decls = [info.default, *(info.param_decls or ())]
        names = [d for d in decls if isinstance(d, str) and d.startswith("--")]
        return names[0] if names else "--" + self.name.replace("_", "-")


def _demos(run: str | None, config: Config) -> Any:
    from ponder.agents.demos import demos_from_run

    return demos_from_run(config.store, run) if run else None


# The flags `solve` and `batch` share, in the order `--help` lists them. A new shared solve
# option is a SolveOptions field (ponder/config.py) and one line here: both commands take it,
# and it reaches the run through SolveFlags.options (tests/cli/test_shared_flags.py).
SHARED_FLAGS: tuple[Flag, ...] = (
    Flag("samples", SamplesOpt),
    Flag("reasoner", ReasonerOpt, to_config=True),
    Flag("standard", StandardOpt, to_config=True),
    Flag("sandbox", SandboxOpt, to_config=True),
    Flag("no_early_stop", NoEarlyStopOpt, False, field="early_stop",
         convert=lambda value, _: not value),
    Flag("stop_rule", StopRuleOpt, "adaptive"),
    Flag("stop_threshold", StopThresholdOpt, 0.95),
    Flag("budget_tokens", BudgetTokensOpt),
    Flag("budget_usd", BudgetUsdOpt),
    Flag("settings", SettingOpt, convert=lambda pairs, _: strategy_settings(pairs)),
    Flag("seed", SeedOpt),
    Flag("demos", DemosOpt, convert=_demos),
)


@dataclass(frozen=True)
class SolveFlags:
    """The shared flags' values as one command got them."""

    values: dict[str, Any]

    def config(self, config: Config) -> Config:
        """``config`` with the models and sandbox the flags name."""
        given = self.values
        return (config.with_models(reasoner=given["reasoner"], standard=given["standard"])
                .with_sandbox(given["sandbox"]))

    def options(self, config: Config, **more: Any) -> SolveOptions:
        """The solve options the flags ask for (``more`` adds a command's own, e.g. ``plan``),
        built by :func:`ponder.config.options_for`, as every front end builds them."""
        from ponder.config import options_for

        fields = {flag.field or flag.name: (flag.convert(self.values[flag.name], config)
                                            if flag.convert else self.values[flag.name])
                  for flag in SHARED_FLAGS if not flag.to_config}
        return options_for(config, **fields, **more)


def flag_for(field: str) -> str | None:
    """The shared flag that fills a ``SolveOptions`` field (``--budget-usd``), if one does."""
    return next((f.option for f in SHARED_FLAGS if (f.field or f.name) == field), None)


def with_solve_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command every shared flag in place of its ``flags: SolveFlags`` parameter.

    Typer reads a command's parameters from its signature; this one has the command's own
    parameters with the shared flags spliced in where ``flags`` stood, and the call gathers
    their values back into one :class:`SolveFlags`.
    """
    signature = inspect.signature(command)
    hints = typing.get_type_hints(command, include_extras=True)
    params: list[inspect.Parameter] = []
    for param in signature.parameters.values():
        if param.name == "flags":
            params += [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default,
                                         annotation=f.annotation) for f in SHARED_FLAGS]
        else:
            kind = (inspect.Parameter.KEYWORD_ONLY if params and params[-1].kind
                    == inspect.Parameter.KEYWORD_ONLY else param.kind)
            params.append(param.replace(kind=kind, annotation=hints.get(param.name, param.annotation)))
    if not any(p.name == "flags" for p in signature.parameters.values()):
        raise TypeError(f"{command.__name__} has no `flags: SolveFlags` parameter")

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        values = {f.name: kwargs.pop(f.name, f.default) for f in SHARED_FLAGS}
        return command(*args, **kwargs, flags=SolveFlags(values))

    run.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params}
    return run

# C0/C1 controls but tab and newline, and the bidirectional overrides that reorder a line.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def undecodable_argument(args: list[str]) -> str | None:
    """What to tell the user when an argument is not UTF-8 text (Python keeps such bytes as
    lone surrogates, which no store, model or terminal can take), or None when all are."""
    for position, arg in enumerate(args, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError as exc:
            try:
                raw = os.fsencode(arg)  # the bytes as they were given
            except UnicodeEncodeError:
                raw = arg.encode("utf-8", "surrogatepass")
            code = ord(arg[exc.start])
            what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else "a lone surrogate"
            shown = printable(raw.decode("utf-8", "backslashreplace"))
            return (f"argument {position} ({shown[:60]}) is not UTF-8 text ({what}); pass text "
                    "as UTF-8 (check the encoding of the terminal or the script that runs ponder)")
    return None


def config_for(config: Path | None, store: str | Path | None = None, **overrides: Any) -> Any:
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
