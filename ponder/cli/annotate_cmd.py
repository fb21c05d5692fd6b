"""``ponder annotate``: a person's label on a stored trace or on one of its branches."""

from __future__ import annotations

from typing import Annotated

import typer

from ponder.cli.common import ConfigOpt, JsonOpt, StoreOpt, config_for, print_json, printable


def annotate(
    run: Annotated[str, typer.Argument(metavar="RUN", help="Run name or id (`ponder runs`).")],
    problem: Annotated[str, typer.Argument(metavar="PROBLEM", help="The problem's id.")],
    label: Annotated[str | None, typer.Option("--label", "-l", help=(
        "correct, wrong or unsure."))] = None,
    answer: Annotated[str | None, typer.Option("--answer", help=(
        "The right answer, when the one given was wrong: the sft export grades against it."
    ))] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why, in a sentence.")] = None,
    branch: Annotated[int | None, typer.Option("--branch", min=0, help=(
        "Label this branch (its index, as `ponder trace` shows) instead of the whole trace."
    ))] = None,
    strategy: Annotated[str | None, typer.Option("--strategy", "-s", help=(
        "The strategy whose result to label, when several solved the problem."))] = None,
    author: Annotated[str | None, typer.Option("--author", help=(
        "Who is labelling (default: your login name)."))] = None,
    remove: Annotated[bool, typer.Option("--remove", help=(
        "Take the label back instead of setting one."))] = False,
    as_json: JsonOpt = False, store: StoreOpt = None, config: ConfigOpt = None,
) -> None:
    """Label a stored result as you judged it: correct, wrong or unsure, with an optional
    corrected answer and note. The sft export drops traces labelled wrong (or grades them
    against your answer); the rewards export and the web UI show the label."""
    from ponder.store import Store
    from ponder.store.feedback import FEEDBACK_LABELS

    if not remove and label not in FEEDBACK_LABELS:
        raise typer.BadParameter(f"{label!r}; choose one of {', '.join(FEEDBACK_LABELS)}",
                                 param_hint="--label")
    db = Store(config_for(config, store).store)
    try:
        if remove:
            info = db.require_run(run)
            chosen = db.feedback_target(info.id, problem, strategy, branch)
            gone = db.remove_feedback(info.id, problem, chosen, branch)
            typer.echo("label removed" if gone else "there was no label to remove")
            return
        item = db.annotate(run, problem, str(label), strategy=strategy, branch=branch,
                           answer=answer, note=note, author=author)
    finally:
        db.close()
    if as_json:
        print_json(item.model_dump())
        return
    where = f"branch {item.branch} of " if item.branch is not None else ""
    typer.echo(f"labelled {where}problem {printable(item.problem_id)} ({printable(item.strategy)})"
               f" in run {printable(item.run_id)}: {printable(item.line())}")
