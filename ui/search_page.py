"""Search page: results across every run, filtered by verdict, correctness, strategy, model,
cost and tokens, text in the question or answer, and people's labels; a row opens its trace."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
import streamlit as st

from ponder.store.search import Correctness, ResultQuery
from ponder.ui import data, widgets
from ponder.verdict import VerdictLabel

VERDICTS: list[VerdictLabel] = ["verified", "unverified", "refuted", "split", "truncated",
                                "budget", "no_answer"]
CORRECTNESS: dict[str, Correctness] = {"correct": "correct", "wrong": "wrong", "unscored": "unscored",
               "no answer": "no_answer"}
LABELS = {"any label or none": None, "labelled (any)": "any", "not labelled": "none",
          "correct": "correct", "wrong": "wrong", "unsure": "unsure"}
COLUMNS = {
    "run": st.column_config.TextColumn(pinned=True, width=150),
    "problem": st.column_config.TextColumn(pinned=True, width=120),
    "verdict": st.column_config.TextColumn(width=240, help=widgets.VERDICT_COLUMN_HELP),
    "outcome": st.column_config.TextColumn(width=90),
    "question": st.column_config.TextColumn(width=280),
    "feedback": st.column_config.TextColumn(width="medium"),
    "cost ($)": st.column_config.NumberColumn(format="$%.4f", width="small"),
    "tokens": st.column_config.NumberColumn(width="small"),
    "created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
}


def _range(label: str, key: str, *, step: float) -> tuple[float | None, float | None]:
    """A from–to pair of number inputs, empty meaning unbounded."""
    cols = st.columns(2)
    low = cols[0].number_input(f"{label} from", min_value=0.0, value=None, step=step,
                               key=f"{key}_min", placeholder="any")
    high = cols[1].number_input(f"{label} to", min_value=0.0, value=None, step=step,
                                key=f"{key}_max", placeholder="any")
    return low, high


def filters(path: str) -> ResultQuery:
    """The filter widgets, as a query."""
    strategies = sorted({s for run in data.recent_runs(path) for s in run.strategies})
    text = st.text_input("Text in the question, answer or problem id", key="search_text",
                         placeholder="e.g. apples, or 42")
    cols = st.columns(4)
    verdicts = cols[0].multiselect("Verdict", VERDICTS, key="search_verdict",
                                   placeholder="any verdict")
    correctness = cols[1].multiselect("Correctness", list(CORRECTNESS), key="search_correct",
                                      placeholder="any outcome")
    chosen = cols[2].multiselect("Strategy", strategies, key="search_strategy",
                                 placeholder="any strategy")
    label = cols[3].selectbox("Feedback", list(LABELS), key="search_label")
    lower = st.columns([2, 2, 2])
    model = lower[0].selectbox("Model", ["any model", *data.result_models(path)],
                              key="search_model")
    with lower[1]:
        min_cost, max_cost = _range("Cost ($)", "search_cost", step=0.001)
    with lower[2]:
        min_tokens, max_tokens = _range("Tokens", "search_tokens", step=100.0)
    return ResultQuery(
        verdicts=verdicts, correctness=[CORRECTNESS[c] for c in correctness],
        strategies=chosen, model=None if model == "any model" else model,
        min_cost=min_cost, max_cost=max_cost,
        min_tokens=int(min_tokens) if min_tokens is not None else None,
        max_tokens=int(max_tokens) if max_tokens is not None else None,
        text=text.strip() or None, label=LABELS[label])  # type: ignore[arg-type]


def outcome(row: dict[str, Any]) -> str:
    if row["answer"] is None:
        return "no answer"
    return {1: "correct", 0: "wrong"}.get(row["correct"], "unscored")


def frame(path: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """One display row per result: the verdict badge's text, as its trace shows it."""
    keys = tuple((r["run_id"], r["problem_id"], r["strategy"]) for r in rows)
    lines = data.verdict_lines(path, keys)
    labels = data.trace_labels(path, tuple(dict.fromkeys(r["run_id"] for r in rows)))
    out = pd.DataFrame([{
        "run": r["run_name"] or r["run_id"], "problem": r["problem_id"],
        "verdict": lines.get(key, r["verdict"]), "outcome": outcome(r),
        "answer": r["answer"], "reference": r["reference"], "strategy": r["strategy"],
        "question": (r["question"] or "")[:160], "feedback": widgets.feedback_text(labels.get(key)),
        "tokens": r["tokens"], "cost ($)": r["cost_usd"],
        "created": datetime.fromtimestamp(r["created_at"]),
    } for r, key in zip(rows, keys, strict=True)])
    return widgets.drop_blank(out, keep=("run", "problem", "verdict"))


def main() -> None:
    st.title("Search results")
    path = widgets.store_or_stop()
    query = filters(path)
    total, _ = data.search(path, query.model_dump_json(), 1, 0)
    if not total:
        st.info("No result matches these filters.")
        return
    limit, offset = widgets.pager(total, key="search_page", page_size=50)
    total, rows = data.search(path, query.model_dump_json(), limit, offset)
    st.caption(f"{total:,} matching result(s), newest first. Select a row to open its trace.")
    picked = st.dataframe(frame(path, rows), hide_index=True, on_select="rerun",
                          selection_mode="single-row", key="search_table", width="stretch",
                          column_config=COLUMNS)
    if picked and picked.selection.rows:
        row = rows[picked.selection.rows[0]]
        st.switch_page("trace_page.py", query_params={
            "run": row["run_id"], "problem": row["problem_id"], "strategy": row["strategy"]})


if __name__ == "__main__":  # Streamlit runs page files as __main__
    main()
