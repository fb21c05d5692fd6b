"""Run page: accuracy per strategy, accuracy against tokens and cost, and the problems."""

from __future__ import annotations

import time
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from ponder.store import RunInfo, StrategySummary
from ponder.ui import data, escape, matrix, widgets

OUTCOMES = {"all": None, "correct": "correct", "wrong": "wrong", "no answer": "no_answer"}
PROBLEM_COLUMNS = {
    "problem": st.column_config.TextColumn(pinned=True, width=140),
    "outcome": st.column_config.TextColumn(pinned=True, width=90),
    "verdict": st.column_config.TextColumn(width=240, help=widgets.VERDICT_COLUMN_HELP),
    "question": st.column_config.TextColumn(width=260),
    "feedback": st.column_config.TextColumn(width="medium",
                                            help="What a person labelled this trace."),
    "confidence": st.column_config.NumberColumn(format="%.2f"),
    "cost ($)": st.column_config.NumberColumn(format="$%.4f"),
    "model time (s)": st.column_config.NumberColumn(format="%.1f",
                                                    help="Summed model-call latency."),
}


def header(path: str, run: RunInfo) -> list[str]:
    """What the run was: kind, status, when, dataset, strategies, models and its times."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(run.created_at))
    md = escape.markdown
    st.markdown(f"**{md(run.name or run.id)}** · {md(run.kind)} · status **{md(run.status)}** · "
                f"{when}" + (f" · dataset {md(run.dataset)}" if run.dataset else ""))
    used, _ = data.run_extras(path, (run.id,))
    names = used.get(run.id) or [m for m in widgets.models_of(run).split(", ") if m]
    models = ", ".join(names)
    st.caption(f"strategies: {md(', '.join(run.strategies) or '–')}"
               + (f" · models: {md(models)}" if models else ""))
    return names


def summary_frame(rows: list[StrategySummary]) -> pd.DataFrame:
    """One row per strategy, with per-problem tokens and cost for the charts."""
    return pd.DataFrame([{
        "strategy": s.strategy, "problems": s.problems, "correct": s.correct,
        "no answer": s.no_answer, "accuracy": s.accuracy if s.scored else None,
        "tokens": s.total_tokens, "tokens / problem": s.total_tokens / max(1, s.problems),
        "cost ($)": s.cost_usd, "cost / problem ($)": s.cost_usd / max(1, s.problems),
        "model time (s)": s.latency_s, "time / problem (s)": s.latency_s / max(1, s.problems),
    } for s in rows])


def tradeoff_chart(frame: pd.DataFrame, x: str) -> alt.Chart:
    """Accuracy against ``x``, one point per strategy told apart by colour and shape.

    Named in the legend below, not by text beside each point: labels of close points
    overlapped, and those at the right edge were clipped.
    """
    names = list(frame["strategy"])
    return alt.Chart(frame).mark_point(size=160, filled=True, opacity=0.9).encode(
        x=alt.X(x, type="quantitative", scale=alt.Scale(zero=True, nice=True)),
        y=alt.Y("accuracy", type="quantitative", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        color=alt.Color("strategy:N", scale=widgets.strategy_scale(names),
                        legend=alt.Legend(orient="bottom", columns=3, labelLimit=240)),
        shape=alt.Shape("strategy:N", scale=alt.Scale(domain=names)),
        tooltip=["strategy", alt.Tooltip("accuracy:Q", format=".0%"), x],
    )


def free_caption(models: list[str]) -> str:
    """Why cost is $0, truthfully: embedded models are free; a remote one priced at $0 is
    not "embedded" (its provider reported no price, or LiteLLM knows none)."""
    remote = [m for m in models if not m.startswith("local/")]
    if models and not remote:
        return ("Every model in this run was free (embedded), so cost is $0; model time is "
                "charted instead.")
    named = f" ({', '.join(remote)})" if remote else ""
    return (f"No cost was recorded for this run's models{named}: the provider reported no "
            "price, or none is known for them. Model time is charted instead.")


def strategies(run: RunInfo, rows: list[StrategySummary], models: list[str]) -> None:
    """Accuracy metrics, the summary table and the trade-off charts."""
    if not rows:
        st.info("No results stored for this run yet.")
        return
    cols = st.columns(min(len(rows), 6))
    for col, s in zip(cols, rows, strict=False):
        value = widgets.percent(s.correct, s.scored) if s.scored else "unscored"
        col.metric(escape.markdown(s.strategy), value, help=f"{s.correct}/{s.scored} correct, "
                   f"{s.no_answer} without an answer, {s.total_tokens:,} tokens")
    frame = summary_frame(rows)
    st.dataframe(frame, hide_index=True, width="stretch", column_config={
        "strategy": st.column_config.TextColumn(pinned=True),
        "accuracy": widgets.accuracy_column(),
        "tokens / problem": st.column_config.NumberColumn(format="%.0f"),
        "cost ($)": st.column_config.NumberColumn(format="$%.4f"),
        "cost / problem ($)": st.column_config.NumberColumn(format="$%.5f"),
        "model time (s)": st.column_config.NumberColumn(format="%.1f"),
        "time / problem (s)": None,
    })
    scored = frame[frame["accuracy"].notna()]
    if scored.empty:
        st.caption("No problem had a reference answer, so there is no accuracy to chart.")
        return
    left, right = st.columns(2)
    left.subheader("Accuracy against tokens")
    left.altair_chart(tradeoff_chart(scored, "tokens / problem"), width="stretch", height=300)
    if scored["cost ($)"].sum() > 0:
        right.subheader("Accuracy against cost")
        right.altair_chart(tradeoff_chart(scored, "cost / problem ($)"), width="stretch",
                           height=300)
    else:
        right.subheader("Accuracy against time")
        right.altair_chart(tradeoff_chart(scored, "time / problem (s)"), width="stretch",
                           height=300)
        right.caption(escape.markdown(free_caption(models)))


def problem_frame(rows: list[dict[str, Any]], verdicts: dict[tuple[str, str, str], str]
                  | None = None, labels: dict[tuple[str, str, str], Any] | None = None,
                  run_id: str = "") -> pd.DataFrame:
    """Display rows for the problem table: key columns first, blank columns left out."""
    def outcome(r: dict[str, Any]) -> str:
        if r["answer"] is None:
            return "no answer"
        return {1: "correct", 0: "wrong"}.get(r["correct"], "unscored")

    verdicts, labels = verdicts or {}, labels or {}
    frame = pd.DataFrame([{
        "problem": r["problem_id"], "outcome": outcome(r),
        "verdict": verdicts.get((run_id, r["problem_id"], r["strategy"]), ""),
        "strategy": r["strategy"], "answer": r["answer"], "reference": r["reference"],
        "question": (r["question"] or "")[:160],
        "feedback": widgets.feedback_text(labels.get((run_id, r["problem_id"], r["strategy"]))),
        "tokens": r["tokens"], "cost ($)": r["cost_usd"], "model time (s)": r["latency_s"],
        "samples": r["samples_used"], "stopped": r["stopped"],
    } for r in rows])
    return widgets.drop_blank(frame, keep=("problem", "outcome", "verdict"))


def problems(path: str, run: RunInfo) -> None:
    """A filterable, paginated table of problems; selecting one opens its trace."""
    st.subheader("Problems")
    cols = st.columns([2, 1])
    outcome = cols[0].segmented_control("Outcome", list(OUTCOMES), default="all",
                                        key="run_outcome") or "all"
    strategy = None
    if len(run.strategies) > 1:
        choice = cols[1].selectbox("Strategy", ["all", *run.strategies], key="run_strategy")
        strategy = None if choice == "all" else choice
    status = OUTCOMES[outcome]
    total, _ = data.results_page(path, run.id, strategy, status, 1, 0)
    if not total:
        st.caption("No problem matches.")
        return
    limit, offset = widgets.pager(total, key="run_page")
    total, rows = data.results_page(path, run.id, strategy, status, limit, offset)
    st.caption(f"{total} result(s). Select a row to open its trace.")
    keys = tuple((run.id, r["problem_id"], r["strategy"]) for r in rows)
    frame = problem_frame(rows, data.verdict_lines(path, keys), data.trace_labels(path, (run.id,)),
                          run.id)
    picked = st.dataframe(frame, hide_index=True, on_select="rerun",
                          selection_mode="single-row", key="run_problems", width="stretch",
                          column_config=PROBLEM_COLUMNS)
    if picked and picked.selection.rows:
        row = rows[picked.selection.rows[0]]
        st.switch_page("trace_page.py", query_params={
            "run": run.id, "problem": row["problem_id"], "strategy": row["strategy"]})


def main() -> None:
    crumbs = st.container()
    st.title("Run")
    path = widgets.store_or_stop()
    run = widgets.pick_run(path, key="run_pick")
    if run is None:
        st.info("No runs yet.")
        return
    with crumbs:
        widgets.breadcrumbs(run)
    models = header(path, run)
    strategies(run, data.summaries(path, run.id), models)
    if len(run.strategies) > 1 or run.kind == "batch":
        matrix.show(path, run)
    problems(path, run)


if __name__ == "__main__":  # Streamlit runs page files as __main__
    main()
