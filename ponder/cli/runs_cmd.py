"""``ponder runs``: the runs in the store, newest first, with accuracy per strategy."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ponder.cli.common import (MAX_COUNT, ConfigOpt, JsonOpt, StoreOpt, config_for, console,
                               number, print_json, text)


def runs(
    limit: Annotated[int, typer.Option("--limit", **number(int, 1, MAX_COUNT), help=(
        "How many runs, newest first."))] = 20,
    wide: Annotated[bool, typer.Option("--wide", help=(
        "Also show kind, dataset and results."))] = False,
    as_json: JsonOpt = False, store: StoreOpt = None, config: ConfigOpt = None,
) -> None:
    """List the runs in the store, newest first, with accuracy per strategy.

    Ids and names are never cut (they are what `ponder report` and `ponder trace` take):
    where the table does not fit the terminal, each run is printed as a few lines instead.
    """
    from ponder.store import Store

    db = Store(config_for(config, store).store)
    rows = [_run_row(db, run) for run in db.list_runs(limit=limit)]
    if as_json:
        print_json(rows)
        return
    out = console()
    if not rows:
        out.print("no runs yet; start one with `ponder batch FILE`")
        return
    table = _runs_table(rows, wide=wide, width=out.width)
    if table is not None:
        out.print(table)
        return
    from rich.padding import Padding

    for r in rows:  # too narrow for the table: one block per run, nothing cut
        out.print(text(r["id"], "bold"), text(f"  {r['name']}" if r["name"] else ""), sep="")
        facts = [r["created"], r["kind"], _status(r), f"{r['results']} results"]
        facts += [r["dataset"]] if r["dataset"] else []
        facts += [_clipped(r["question"])] if r["question"] else []
        for line in [" · ".join(facts), *_accuracy_lines(r)]:
            out.print(Padding(text(line), (0, 0, 0, 2)))


def _clipped(question: str, width: int = 40) -> str:
    """A served run's question, on one line of at most ``width`` characters."""
    line = " ".join(question.split())
    return line if len(line) <= width else line[:width - 1] + "…"


def _status(row: dict[str, Any]) -> str:
    return row["status"] + (f" ({row['stopped']})" if row["stopped"] else "")


def _accuracy_lines(row: dict[str, Any]) -> list[str]:
    """``cot 40% (4/10)`` per strategy; a run that compared strategies is never blended."""
    return [f"{s['strategy']} {s['accuracy']:.0%} ({s['correct']}/{s['scored']})" if s["scored"]
            else f"{s['strategy']} unscored" for s in row["by_strategy"]] or ["-"]


def _runs_table(rows: list[dict[str, Any]], *, wide: bool, width: int) -> Any:
    """The runs as a table, or None where it cannot fit ``width`` without cutting a run's
    name, id or date (those never wrap; other cells wrap between words, never inside one)."""
    from rich.table import Table
    from rich.text import Text

    cells = [[Text.assemble(text(r["name"] + "\n") if r["name"] else "", text(r["id"], "dim"),
                            text("\n" + _clipped(r["question"])) if r["question"] else ""),
              text(r["created"])]
             + ([text(r["kind"]), text(r["dataset"] or "-"), text(r["results"])] if wide else [])
             + [text(_status(r)), text("\n".join(_accuracy_lines(r)))] for r in rows]
    names = ["run", "created", *(["kind", "dataset", "results"] if wide else []),
             "status", "accuracy"]
    mins = [max(len(part) for row in cells for part in
                (row[i].plain.splitlines() if i < 2 else row[i].plain.split())) for i in range(2)]
    mins += [max(len(w) for w in [name, *(w for row in cells for w in row[i].plain.split())])
             for i, name in enumerate(names) if i >= 2]
    if sum(mins) + 2 * len(names) > width:
        return None
    table = Table(box=None, padding=(0, 2, 0, 0), pad_edge=False, header_style="bold")
    for i, name in enumerate(names):
        table.add_column(name, no_wrap=i < 2, min_width=mins[i],
                         justify="right" if name == "results" else "left")
    for row in cells:
        table.add_row(*row)
    return table


def _run_row(db: Any, run: Any) -> dict[str, Any]:
    import datetime

    summary = db.summary(run.id)
    scored = sum(s.scored for s in summary)
    correct = sum(s.correct for s in summary)
    created = datetime.datetime.fromtimestamp(run.created_at).strftime("%Y-%m-%d %H:%M")
    return {"name": run.name, "id": run.id, "kind": run.kind, "status": run.status,
            "stopped": run.meta.get("stopped"), "strategies": run.strategies,
            "dataset": run.dataset, "question": run.meta.get("question"),
            "client": run.meta.get("client"), "results": sum(s.problems for s in summary),
            "scored": scored, "accuracy": correct / scored if scored else 0.0, "created": created,
            "by_strategy": [{"strategy": s.strategy, "results": s.problems, "scored": s.scored,
                             "correct": s.correct, "accuracy": s.accuracy} for s in summary]}
