"""Help and listings that read as prose at any terminal width.

Docstrings break lines where the source is narrow; a terminal must not. :func:`prose`
joins a paragraph's lines so Rich wraps it at the terminal's width, and :class:`ProseGroup`
applies it to every command's help, and shows flags (``--help``, ``--json``) as taking no
value instead of as ``<bool>``.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup


def prose(text: str | None) -> str:
    """``text`` with each paragraph's line breaks joined (paragraphs stay apart).

    >>> prose("stopping once\\n    decided.\\n\\nNext.")
    'stopping once decided.\\n\\nNext.'
    """
    paragraphs = (text or "").strip().split("\n\n")
    return "\n\n".join(p if p.startswith("\b") else " ".join(p.split()) for p in paragraphs)


def _tidy(command: Any, ctx: Any) -> None:
    """Join ``command``'s help into prose and blank its flags' value column (and so on down
    its subcommands)."""
    if getattr(command, "_ponder_tidy", False):
        return
    command._ponder_tidy = True
    if command.help:
        command.help = prose(command.help)
    for param in command.get_params(ctx):
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""  # a flag takes no value: no "<bool>" beside it
        if getattr(param, "help", None):
            param.help = prose(param.help)
    for sub in getattr(command, "commands", {}).values():
        _tidy(sub, ctx)


class ProseGroup(TyperGroup):
    """The root command: its help and every subcommand's read as prose."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _tidy(command, ctx)
        return command

    def format_help(self, ctx: Any, formatter: Any) -> None:
        _tidy(self, ctx)
        super().format_help(ctx, formatter)
