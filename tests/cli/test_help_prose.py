"""``ponder --help`` and ``ponder strategies`` read as prose at any terminal width: no line
breaks where a docstring had them, flags shown without a ``<bool>`` value."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ponder.cli import app
from ponder.cli.help_text import prose


def run(args: list[str], width: int) -> str:
    result = CliRunner().invoke(app, args, env={"COLUMNS": str(width), "TERM": "dumb"})
    assert result.exit_code == 0, result.output
    return result.output


def test_prose_joins_lines_and_keeps_paragraphs() -> None:
    assert prose("one\n   two\n\nthree\nfour") == "one two\n\nthree four"
    assert prose(None) == ""


@pytest.mark.parametrize("args", [["--help"], ["export", "--help"], ["sandbox", "--help"]])
def test_help_wraps_at_the_terminal_not_at_the_docstring(args: list[str]) -> None:
    wide = run(args, 250)
    assert "<bool>" not in wide
    assert "--help " in wide and "Show this message and exit." in wide
    if args == ["--help"]:
        # the docstring breaks after "and the"; a wide terminal shows the sentence whole
        assert "and the capabilities ponder will use with it." in wide
        assert "whether they run code, and their own settings" in wide
    narrow = run(args, 60)
    assert max(len(line) for line in narrow.splitlines()) <= 60


def test_strategies_print_each_summary_as_one_wrapped_paragraph() -> None:
    from ponder.graphs.registry import STRATEGIES

    wide = run(["strategies"], 400)
    lines = wide.splitlines()
    for spec in STRATEGIES.values():
        whole = f"{spec.name}  {prose(spec.summary)}"
        assert whole in lines, whole
    narrow = run(["strategies"], 70)
    assert max(len(line) for line in narrow.splitlines()) <= 70
