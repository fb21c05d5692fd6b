"""Compare page: two runs side by side — what was configured differently, accuracy, tokens
and cost per strategy, and the problems whose outcome flipped (question, both answers)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import altair as alt
import pandas as pd
import streamlit as st

from ponder.store import RunInfo, StrategySummary
from ponder.ui import data, escape, widgets


def pick(path: str, side: str, default: int) -> RunInfo | None:
    """Run ``a`` or ``b``: from ``?a=``/``?b=`` or a picker; an unknown id is an error."""
    runs = data.recent_runs(path)
    wanted = st.query_params.get(side)
    current = data.run_info(path, wanted) if wanted else None
    if wanted and current is None:
        widgets.not_found(f"Run {escape.markdown(wanted)} not found in this store.")
    options = runs if current is None or any(r.id == current.id for r in runs) else [current, *runs]
    if not options:
        return None
    ids = [r.id for r in options]
    index = ids.index(current.id) if current else min(default, len(ids) - 1)
    labels = {r.id: widgets.run_label(r) for r in options}
    chosen = st.selectbox(f"Run {side.upper()}", ids, index=index,
                          format_func=labels.__getitem__, key=f"compare_{side}")
    if chosen != wanted:
        st.query_params[side] = chosen
    return next(r for r in options if r.id == chosen)


RUN_FIELDS = ("kind", "strategies", "dataset")
VOLATILE_META = {"error", "pid", "host", "lease", "started_at", "finished_at", "line"}


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested settings as ``{"options.samples": "4", "roles.reasoner.model": "..."}``."""
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for key, item in value.items():
            out |= flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return out
    return {prefix: value if isinstance(value, str) else json.dumps(value, default=str)}


def settings_of(run: RunInfo) -> dict[str, str]:
    """Everything recorded about how a run was configured, flattened: its kind, strategies
    and dataset, every role and option (samples, stop rule, seed, strategy settings...), and
    where it came from (``meta``)."""
    out = {name: flatten(getattr(run, name))[""] for name in RUN_FIELDS}
    out |= {k: v for k, v in flatten(run.config).items() if k}
    out |= {k: v for k, v in flatten(run.meta, "meta").items()
            if "." in k and k.split(".", 2)[1] not in VOLATILE_META}
    return out


def config_diff(a: RunInfo, b: RunInfo) -> pd.DataFrame:
    """The settings that differ between two runs: one row each, A's value and B's."""
    left, right = settings_of(a), settings_of(b)
    rows = [{"setting": key, "A": left.get(key, "–"), "B": right.get(key, "–")}
            for key in sorted(set(left) | set(right)) if left.get(key) != right.get(key)]
    return pd.DataFrame(rows, columns=["setting", "A", "B"])


def differences(a: RunInfo, b: RunInfo) -> None:
    """The configuration diff, above everything else: why two runs might differ."""
    st.subheader("What was configured differently")
    frame = config_diff(a, b)
    if frame.empty:
        st.caption("Both runs were configured the same way (same strategies, roles, models "
                   "and options).")
        return
    st.dataframe(frame, hide_index=True, width="stretch", column_config={
        "setting": st.column_config.TextColumn(pinned=True, width=260),
        "A": st.column_config.TextColumn(width="large"),
        "B": st.column_config.TextColumn(width="large")})


COMPARE_COLUMNS = ["strategy", "accuracy A", "accuracy B", "Δ accuracy (pts)", "tokens A",
                   "tokens B", "cost A ($)", "cost B ($)", "problems A", "problems B"]


def table(a: list[StrategySummary], b: list[StrategySummary]) -> pd.DataFrame:
    """One row per strategy in either run: accuracy, tokens and cost of A and B, and Δ."""
    left, right = {s.strategy: s for s in a}, {s.strategy: s for s in b}
    rows = []
    for name in dict.fromkeys([*left, *right]):
        x, y = left.get(name), right.get(name)
        acc_a = x.accuracy if x and x.scored else None
        acc_b = y.accuracy if y and y.scored else None
        rows.append({
            "strategy": name, "accuracy A": acc_a, "accuracy B": acc_b,
            "Δ accuracy (pts)": (round(100 * (acc_b - acc_a), 1)
                                 if acc_a is not None and acc_b is not None else None),
            "tokens A": x.total_tokens if x else None, "tokens B": y.total_tokens if y else None,
            "cost A ($)": x.cost_usd if x else None, "cost B ($)": y.cost_usd if y else None,
            "problems A": x.problems if x else 0, "problems B": y.problems if y else 0,
        })
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)  # the columns even with no results


def accuracy_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Accuracy per strategy, A and B as adjacent bars, each with its percentage.

    Strategies label one shared axis, written level (a faceted chart stacked them rotated
    into one another).
    """
    long = frame.melt(id_vars="strategy", value_vars=["accuracy A", "accuracy B"],
                      var_name="run", value_name="accuracy").dropna()
    long["run"] = long["run"].str[-1]
    base = alt.Chart(long).encode(
        x=alt.X("accuracy:Q", axis=alt.Axis(format="%", values=[0, 0.25, 0.5, 0.75, 1]),
                scale=alt.Scale(domain=[0, 1.12])),
        y=alt.Y("strategy:N", title=None, sort=list(dict.fromkeys(long["strategy"])),
                axis=alt.Axis(labelLimit=260)),
        yOffset=alt.YOffset("run:N", sort=["A", "B"]),
        tooltip=["strategy", "run", alt.Tooltip("accuracy:Q", format=".0%")])
    bars = base.mark_bar().encode(
        color=alt.Color("run:N", scale=alt.Scale(domain=["A", "B"], range=["#1e88e5", "#fb8c00"]),
                        legend=alt.Legend(orient="top", title=None)))
    labels = base.mark_text(align="left", dx=4, fontSize=11).encode(
        text=alt.Text("accuracy:Q", format=".0%"))
    return (bars + labels).properties(height=alt.Step(16))


def trace_link(run_id: str, problem_id: str, strategy: str) -> str:
    """The trace page of one result; ids are URL-encoded (an id may hold ``&``, ``#``, ``?``)."""
    return "./trace?" + urlencode({"run": run_id, "problem": problem_id, "strategy": strategy})


def flip_frame(a: RunInfo, b: RunInfo, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The flipped problems as table rows, each linked to its trace in both runs."""
    return pd.DataFrame([{
        "problem": r["problem_id"],
        "flip": "fixed in B" if r["correct_b"] == 1 else "broken in B",
        "answer A": r["answer_a"], "answer B": r["answer_b"], "reference": r["reference"],
        "trace A": trace_link(a.id, r["problem_id"], r["strategy"]),
        "trace B": trace_link(b.id, r["problem_id"], r["strategy"]),
        "question": r.get("question") or "", "strategy": r["strategy"],
    } for r in rows])


def flips(path: str, a: RunInfo, b: RunInfo) -> None:
    """The problems right in one run and wrong in the other, each linked to both traces."""
    common, rows = data.comparison(path, a.id, b.id)
    st.subheader("Problems that flipped")
    if not common:
        st.info("These runs share no (problem, strategy) results, so nothing can flip.")
        return
    fixed = sum(1 for r in rows if r["correct_b"] == 1)
    st.caption(f"{common} result(s) in both runs; {fixed} fixed in B, {len(rows) - fixed} "
               "broken in B.")
    if not rows:
        return
    st.dataframe(flip_frame(a, b, rows), hide_index=True, width="stretch", column_config={
        "problem": st.column_config.TextColumn(pinned=True, width=120),
        "flip": st.column_config.TextColumn(pinned=True, width=100),
        "question": st.column_config.TextColumn(width=320),
        "trace A": st.column_config.LinkColumn(display_text="open A"),
        "trace B": st.column_config.LinkColumn(display_text="open B")})


def main() -> None:
    st.title("Compare runs")
    path = widgets.store_or_stop()
    cols = st.columns(2)
    with cols[0]:
        a = pick(path, "a", 1)
    with cols[1]:
        b = pick(path, "b", 0)
    if a is None or b is None:
        st.info("No runs yet.")
        return
    if a.id == b.id:
        st.info("Pick two different runs.")
        return
    differences(a, b)
    frame = table(data.summaries(path, a.id), data.summaries(path, b.id))
    st.subheader("Per strategy")
    st.dataframe(frame, hide_index=True, width="stretch", column_config={
        "accuracy A": st.column_config.NumberColumn(format="percent"),
        "accuracy B": st.column_config.NumberColumn(format="percent"),
        "cost A ($)": st.column_config.NumberColumn(format="$%.4f"),
        "cost B ($)": st.column_config.NumberColumn(format="$%.4f")})
    if frame[["accuracy A", "accuracy B"]].notna().any().any():
        st.altair_chart(accuracy_chart(frame), width="stretch")
    flips(path, a, b)


if __name__ == "__main__":  # Streamlit runs page files as __main__
    main()
