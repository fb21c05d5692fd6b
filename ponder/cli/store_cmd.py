"""``ponder store``: move runs between stores (SQLite <-> PostgreSQL) and check one.

Mounted by the main CLI as ``ponder store``. A store is a SQLite file path or a
``postgresql://`` URL, the same as ``--store`` takes.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from ponder.cli.common import JsonOpt, StoreOpt, config_for, printable

app = typer.Typer(help="Copy runs between stores and check a store's integrity.",
                  no_args_is_help=True)


def _open(location: str):  # noqa: ANN202 - a Store, imported when a command runs
    from ponder.store import Store

    return Store(config_for(None, location).store)


@app.command("copy")
def copy(
    source: Annotated[str, typer.Argument(help="The store to read: a path or postgresql:// URL.")],
    target: Annotated[str, typer.Argument(help="The store to write: a path or postgresql:// URL.")],
    as_json: JsonOpt = False,
) -> None:
    """Copy every run (problems, results, branches, events, feedback) from SOURCE to TARGET.

    Rows TARGET already has are kept, so running it again copies nothing twice.
    """
    from ponder.store.transfer import COPIED_TABLES, copy_store

    counts = copy_store(_open(source), _open(target))
    if as_json:
        typer.echo(json.dumps(counts.model_dump()))
        return
    for table in COPIED_TABLES:
        typer.echo(f"{table:<9} {counts.written[table]:>8} copied  {counts.read[table]:>8} read")


@app.command("check")
def check(store: StoreOpt = None, as_json: JsonOpt = False) -> None:
    """Check that every problem, result, branch, event and label has its parent run."""
    from ponder.store import Store
    from ponder.store.transfer import check_store

    location = config_for(None, store).store
    problems = check_store(Store(location))
    if as_json:
        typer.echo(json.dumps({"store": str(location), "problems": problems}))
    else:
        for line in problems:
            typer.echo(printable(line))
        typer.echo(f"{printable(location)}: " + (f"{len(problems)} rows without their parent"
                                                 if problems else "every row has its parent"))
    if problems:
        raise typer.Exit(1)
