"""The problem × strategy matrix of a batch run: every cell an outcome and its tokens.

Selecting a cell opens that problem's trace under that strategy. Pure functions build the
table (tested without a browser); :func:`show` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from ponder.store import RunInfo
from ponder.ui import data, widgets

MARKS = {"correct": "✓ correct", "wrong": "✗ wrong", "no answer": "∅ no answer",
         "truncated": "✂ truncated", "unscored": "• unscored", "pending": "… pending"}
COLORS = {"correct": "#c8e6c9", "wrong": "#ffcdd2", "no answer": "#eceff1",
          "truncated": "#ffe0b2", "unscored": "#e3f2fd", "pending": "#ffffff"}
FIXED = ["#", "problem", "question"]


def outcome(cell: dict[str, Any] | None) -> str:
    """correct, wrong, no answer, truncated (cut off before answering), unscored or pending."""
    if cell is None or cell.get("strategy") is None:
        return "pending"
    if cell["answer"] is None:
        return "truncated" if cell.get("stopped") == "truncated" else "no answer"
    return {1: "correct", 0: "wrong"}.get(cell["correct"], "unscored")


def cell_text(cell: dict[str, Any] | None, verdict: str = "") -> str:
    """What a cell reads: ``✓ correct · verified (executed check), confidence 0.90 ·
    1,234 tok`` (the verdict badge's text as the trace header shows it)."""
    what = outcome(cell)
    if what == "pending" or cell is None:
        return MARKS[what]
    return f"{MARKS[what]} · " + (f"{verdict} · " if verdict else "") \
        + f"{int(cell['tokens'] or 0):,} tok"


@dataclass
class Matrix:
    """The table to draw, and for each row the problem id it shows."""

    frame: pd.DataFrame
    problems: list[str]
    strategies: list[str]


def build(cells: list[dict[str, Any]], strategies: list[str],
          verdicts: dict[tuple[str, str], str] | None = None) -> Matrix:
    """One row per problem (in position order), one column per strategy; ``verdicts``: the
    badge text by (problem, strategy)."""
    verdicts = verdicts or {}
    by_problem: dict[str, dict[str, Any]] = {}
    for cell in cells:
        row = by_problem.setdefault(cell["problem_id"], {"position": cell["position"],
                                                         "question": cell["question"],
                                                         "cells": {}})
        if cell["strategy"] is not None:
            row["cells"][cell["strategy"]] = cell
    seen = [s for c in cells if (s := c["strategy"]) is not None]
    columns = list(dict.fromkeys([*strategies, *seen]))
    rows = []
    for problem_id, row in by_problem.items():
        line = {"#": (row["position"] or 0) + 1, "problem": problem_id,
                "question": (row["question"] or "")[:120]}
        for strategy in columns:
            line[strategy] = cell_text(row["cells"].get(strategy),
                                       verdicts.get((problem_id, strategy), ""))
        rows.append(line)
    frame = pd.DataFrame(rows, columns=FIXED + columns)
    return Matrix(frame=frame, problems=list(by_problem), strategies=columns)


def target(matrix: Matrix, run_id: str, cell: tuple[int, str]) -> dict[str, str] | None:
    """The trace page's query for a selected cell, or None for a cell that is no strategy's."""
    row, column = cell
    if column not in matrix.strategies or not 0 <= row < len(matrix.problems):
        return None
    return {"run": run_id, "problem": matrix.problems[row], "strategy": column}


def _paint(value: object) -> str:
    for what, mark in MARKS.items():
        if isinstance(value, str) and value.startswith(mark):
            return f"background-color: {COLORS[what]}"
    return ""


def column_config(matrix: Matrix) -> dict[str, Any]:
    """Key columns pinned (the row number and problem stay in view while the strategies
    scroll inside the table); each strategy's column wide enough for its cell's text."""
    config: dict[str, Any] = {
        "#": st.column_config.NumberColumn(width=40, pinned=True),
        "problem": st.column_config.TextColumn(width=120, pinned=True),
        "question": st.column_config.TextColumn(width=200)}
    for name in matrix.strategies:
        config[name] = st.column_config.TextColumn(width=380)
    return config


def show(path: str, run: RunInfo) -> None:
    """The matrix, a page of problems at a time; a selected cell opens its trace."""
    st.subheader("Problems × strategies")
    total, _ = data.outcome_cells(path, run.id, 1, 0)
    if not total:
        st.caption("This run has no problems stored.")
        return
    limit, offset = widgets.pager(total, key="matrix_page", page_size=50)
    _, cells = data.outcome_cells(path, run.id, limit, offset)
    keys = tuple((run.id, c["problem_id"], c["strategy"]) for c in cells if c["strategy"])
    lines = data.verdict_lines(path, keys)
    matrix = build(cells, run.strategies, {(p, s): v for (_, p, s), v in lines.items()})
    st.caption("Select a cell to open that problem's trace under that strategy. "
               "✂ truncated: the model ran out of tokens before answering.")
    styled = matrix.frame.style.map(_paint, subset=matrix.strategies)
    picked = st.dataframe(styled, hide_index=True, on_select="rerun",
                          selection_mode="single-cell", key="run_matrix", width="stretch",
                          column_config=column_config(matrix))
    chosen = picked.selection.cells if picked else []
    if chosen:
        query = target(matrix, run.id, tuple(chosen[0]))
        if query:
            st.switch_page("trace_page.py", query_params=query)
