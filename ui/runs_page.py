"""Runs page: every solve and batch run, filterable, one page of rows at a time."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from ponder.config import RunConfig
from ponder.ui import data, widgets

def filters(path: str) -> tuple[str | None, str | None, str | None]:
    """Kind, strategy and free text to filter runs by."""
    # The strategies the store's runs used (this page reads the store, not the registry).
    strategies = sorted({s for run in data.recent_runs(path) for s in run.strategies})
    cols = st.columns([1, 1, 2])
    kind = cols[0].selectbox("Kind", ["all", "solve", "batch", "serve"], key="runs_kind")
    strategy = cols[1].selectbox("Strategy", ["all", *strategies], key="runs_strategy")
    text = cols[2].text_input("Search", placeholder="run id, name, dataset or question text",
                              key="runs_text")
    return (None if kind == "all" else kind, None if strategy == "all" else strategy,
            text.strip() or None)


def by_strategy(scores: dict[str, tuple[int, int]]) -> str:
    """``verified 67% · cot 33%``: accuracy of each strategy, never blended into one."""
    return " · ".join(f"{name} {widgets.percent(c, n)}" if n else f"{name} unscored"
                      for name, (c, n) in scores.items())


def table(rows: list[dict[str, Any]], models: dict[str, list[str]],
          scores: dict[str, dict[str, tuple[int, int]]],
          verdicts: tuple[dict[str, str], dict[str, str]] = ({}, {})) -> pd.DataFrame:
    """One display row per run, key columns first; a run with several strategies gets no
    blended accuracy, and a column blank on every row is left out."""
    out = []
    for r in rows:
        used = models.get(r["id"]) or RunConfig.read(json.loads(r["config"] or "{}")).models
        per = scores.get(r["id"], {})
        blended = len(per) <= 1 and r["scored"]
        out.append({
            "run": r["name"] or r["id"],
            "what": r["dataset"] or r["question"] or "",
            "verdict": verdicts[0].get(r["id"], ""),
            "accuracy": (r["correct"] / r["scored"]) if blended else None,
            "accuracy by strategy": by_strategy(per),
            "kind": r["kind"],
            "status": r["status"],
            "tokens": r["tokens"],
            "cost ($)": r["cost_usd"],
            "wall (s)": (r["finished_at"] - r["created_at"]) if r["finished_at"] else None,
            "model time (s)": r["latency_s"],
            "problems": r["problems"],
            "no answer": r["no_answer"],
            "feedback": verdicts[1].get(r["id"], ""),
            "created": datetime.fromtimestamp(r["created_at"]),
            "strategies": ", ".join(json.loads(r["strategies"] or "[]")),
            "models": ", ".join(used),
        })
    return widgets.drop_blank(pd.DataFrame(out), keep=("run", "what", "verdict"))


COLUMNS = {
    # Pinned: what the run is (they stay while the rest scrolls inside the table); the
    # verdict comes next, on screen at 1280 px without scrolling.
    "run": st.column_config.TextColumn(pinned=True, width=150),
    "what": st.column_config.TextColumn(
        pinned=True, width=210, help="The dataset of a batch, or the question of a solve."),
    "verdict": st.column_config.TextColumn(width=240, help=widgets.VERDICT_COLUMN_HELP),
    "kind": st.column_config.TextColumn(width="small"),
    "status": st.column_config.TextColumn(width="small"),
    "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss"),
    "accuracy": widgets.accuracy_column(
        width="small",
        help="Share of scored problems answered correctly (a run of one strategy only)."),
    "accuracy by strategy": st.column_config.TextColumn(width=220),
    "tokens": st.column_config.NumberColumn(width="small"),
    "cost ($)": st.column_config.NumberColumn(format="$%.4f", width="small"),
    "wall (s)": st.column_config.NumberColumn(
        format="%.1f", width="small", help="Clock time from the run's start to its last result."),
    "model time (s)": st.column_config.NumberColumn(
        format="%.1f", width="small",
        help="Every model call's latency added up; parallel calls each count."),
    "problems": st.column_config.NumberColumn(width="small"),
    "no answer": st.column_config.NumberColumn(width="small"),
    "feedback": st.column_config.TextColumn(width="medium",
                                            help="What people labelled (ponder annotate)."),
}


def open_selected(rows: list[dict[str, Any]], selection: Any) -> None:
    """Go to the picked run: the Run page for a batch, the Trace page for a single solve."""
    picked = selection.selection.rows if selection else []
    if not picked:
        return
    row = rows[picked[0]]
    if row["kind"] == "batch" or row["problems"] > 1:
        st.switch_page("run_page.py", query_params={"run": row["id"]})
    st.switch_page("trace_page.py", query_params={"run": row["id"]})


def main() -> None:
    st.title("Runs")
    with st.container(horizontal=True, gap="medium"):
        st.page_link("search_page.py", label="Search results across runs",
                     icon=":material/search:")
        st.page_link("compare_page.py", label="Compare two runs",
                     icon=":material/compare_arrows:")
    path = widgets.store_or_stop()
    kind, strategy, text = filters(path)
    total, _ = data.runs_page(path, kind, strategy, text, 1, 0)
    if not total:
        st.info("No run matches these filters.")
        return
    limit, offset = widgets.pager(total, key="runs_page", page_size=25, param="page")
    total, rows = data.runs_page(path, kind, strategy, text, limit, offset)
    st.caption(f"{total} run(s). Select a row to open it.")
    ids = tuple(r["id"] for r in rows)
    models, scores = data.run_extras(path, ids)
    frame = table(rows, models, scores, data.run_verdicts(path, ids))
    selection = st.dataframe(frame, column_config=COLUMNS, hide_index=True,
                             on_select="rerun", selection_mode="single-row", key="runs_table",
                             width="stretch")
    open_selected(rows, selection)


if __name__ == "__main__":  # Streamlit runs page files as __main__
    main()
