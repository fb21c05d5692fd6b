"""Pieces the pages share: the store check, a pager, run pickers and number formats."""

from __future__ import annotations

import math
import time
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from ponder.config import RunConfig
from ponder.errors import PonderError
from ponder.store import RunInfo
from ponder.store.feedback import Feedback
from ponder.types import Usage
from ponder.verdict import ResultVerdict
from ponder.ui import data, escape

MAKE_ONE = 'ponder solve "What is 17 + 25?"'


def store_or_stop() -> str:
    """The store path if it holds runs; otherwise say how to make one and stop the page."""
    settings = data.settings()
    if settings.error:
        st.error(f"The configuration could not be read: {escape.markdown(settings.error)}")
        st.stop()
    path = settings.store
    try:
        state = data.store_state(path)
    except PonderError as exc:
        st.error(escape.markdown(exc))
        st.stop()
    if state == "ok":
        return str(path)
    what = "There is no store" if state == "missing" else "The store has no runs yet"
    st.info(f"{what} at {escape.markdown(path)}.\n\n"
            "Make one by solving a question, then reload this page:")
    st.code(f"{MAKE_ONE} --store {path}", language="bash")
    st.markdown("…or run a batch (`ponder batch problems.jsonl`), or use the **Solve** page. "
                "Point the UI at another store with `ponder ui --store PATH`.")
    st.page_link("solve_page.py", label="Solve a question here", icon=":material/play_arrow:")
    st.stop()


def pager(total: int, *, key: str, page_size: int = 50,
          param: str | None = None) -> tuple[int, int]:
    """A page number input; returns (limit, offset) for the store query.

    With ``param``, the page is also read from and kept in the URL (``?page=3``).
    """
    pages = max(1, math.ceil(total / page_size))
    if pages == 1:
        return page_size, 0
    linked = st.query_params.get(param, "") if param else ""
    if linked.isdigit() and int(linked) >= 1 and key not in st.session_state:
        st.session_state[key] = int(linked)
    # No max_value: Streamlit resets a widget whose range changes, and a running batch grows.
    page = min(pages, int(st.number_input(f"Page (of {pages})", min_value=1, step=1, key=key,
                                          **({} if key in st.session_state else {"value": 1}))))
    if param and (page > 1 or linked):
        st.query_params[param] = str(page)
    offset = (page - 1) * page_size
    st.caption(f"rows {offset + 1}–{min(total, offset + page_size)} of {total}")
    return page_size, offset


def run_label(run: RunInfo) -> str:
    """How a run is named in pickers: name or id, kind, strategies, date."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created_at))
    return f"{run.name or run.id} · {run.kind} · {', '.join(run.strategies)} · {when}"


def not_found(message: str, *, run_id: str | None = None) -> None:
    """Say what the URL named that is not there, link back, and stop the page."""
    st.error(message)
    cols = st.columns(3)
    cols[0].page_link("runs_page.py", label="All runs", icon=":material/list:")
    if run_id is not None:
        cols[1].page_link("run_page.py", label="This run", icon=":material/monitoring:",
                          query_params={"run": run_id})
        cols[2].page_link("trace_page.py", label="This run's traces",
                          icon=":material/account_tree:", query_params={"run": run_id})
    st.stop()


def breadcrumbs(run: RunInfo, problem: str | None = None, strategy: str | None = None) -> None:
    """``Runs › run › problem › strategy``: every level but the last a link to its page."""
    md = escape.markdown
    levels = [("runs_page.py", "Runs", None),
              ("run_page.py", md(run.name or run.id), {"run": run.id})]
    if problem is not None:
        levels.append(("trace_page.py", f"problem {md(problem)}", {"run": run.id,
                                                                   "problem": problem}))
    if problem is not None and strategy is not None:
        levels.append(("trace_page.py", md(strategy), {"run": run.id, "problem": problem,
                                                       "strategy": strategy}))
    with st.container(horizontal=True, gap="small", vertical_alignment="center",
                      key="breadcrumbs"):
        for i, (page, label, query) in enumerate(levels):
            if i:
                st.markdown("›", width="content")
            if i == len(levels) - 1:
                st.markdown(f"**{label}**", width="content")
            else:
                st.page_link(page, label=label, query_params=query)


def pick_run(path: str, *, key: str) -> RunInfo | None:
    """The run named by ``?run=`` or chosen from the newest runs; keeps the URL in step.

    A ``?run=`` that names no stored run stops the page with "run X not found".
    """
    runs = data.recent_runs(path)
    wanted = st.query_params.get("run")
    current = data.run_info(path, wanted) if wanted else None
    if wanted and current is None:
        not_found(f"Run {escape.markdown(wanted)} not found in this store.")
    options = runs if current is None or any(r.id == current.id for r in runs) else [current, *runs]
    if not options:
        return None
    ids = [r.id for r in options]
    default = ids.index(current.id) if current else 0
    labels = {r.id: run_label(r) for r in options}
    chosen = st.selectbox("Run", ids, index=default, format_func=labels.__getitem__, key=key)
    if chosen != wanted:
        st.query_params["run"] = chosen
    return next(r for r in options if r.id == chosen)


def models_of(run: RunInfo, stored: object = None) -> str:
    """The models a run used: from a stored result's role map, else the run's config (either
    shape a run's config was recorded in: :class:`ponder.config.RunConfig` reads both)."""
    roles = stored if isinstance(stored, dict) and stored else run.config.get("roles")
    return ", ".join(RunConfig.read({"roles": roles}).models)


def usage_metrics(usage: Usage, *, wall: float | None = None) -> None:
    """Tokens, cost, wall time and summed model time as a row of metrics.

    Model time adds up every call's latency, so parallel branches count once each: it can
    exceed the wall-clock time the solve took, and the two are labelled apart.
    """
    cols = st.columns(5)
    cols[0].metric("Tokens", f"{usage.total_tokens:,}",
                   help=f"{usage.prompt_tokens:,} prompt + {usage.completion_tokens:,} completion"
                   + (f" ({usage.reasoning_tokens:,} reasoning)" if usage.reasoning_tokens else ""))
    cols[1].metric("Cost", dollars(usage.cost_usd))
    cols[2].metric("Wall time", f"{wall:.2f}s" if wall else "–",
                   help="Clock time from the first step's start to the last step's end.")
    cols[3].metric("Model time (summed)", f"{usage.latency_s:.2f}s",
                   help="Every model call's latency added up; calls made in parallel each "
                   "count, so this can exceed the wall time.")
    cols[4].metric("Calls", usage.calls)


STRATEGY_PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
                    "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]
"""Categorical colours far apart in hue and lightness (no two blues next to each other)."""


def strategy_scale(names: list[str]) -> alt.Scale:
    """One clearly different colour per strategy, in the order given."""
    return alt.Scale(domain=names, range=[STRATEGY_PALETTE[i % len(STRATEGY_PALETTE)]
                                          for i in range(len(names))])


def accuracy_column(**options: object) -> Any:
    """An accuracy bar (0–100%) in one neutral colour: the theme's primary colour is red,
    which read as "bad" for 83%."""
    return st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="percent",
                                           color="blue", **options)


def dollars(value: float | None) -> str:
    """$0.0123, or $0 for free (embedded) models."""
    if not value:
        return "$0"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"


VERDICT_COLORS = {"verified": "green", "refuted": "red", "split": "orange", "unverified": "gray",
                  "truncated": "orange", "budget": "orange", "no_answer": "gray"}
FEEDBACK_COLORS = {"correct": "green", "wrong": "red", "unsure": "orange"}


def verdict_badge(verdict: ResultVerdict) -> str:
    """The verdict as one coloured badge reading exactly :meth:`ResultVerdict.line`, the
    text the CLI prints and the tables show (it holds no text from a model)."""
    return f":{VERDICT_COLORS[verdict.label]}-badge[{escape.markdown(verdict.line())}]"


def feedback_text(item: Feedback | None) -> str:
    """A label as a table cell: ``wrong → 42 (ana)``, or empty."""
    return item.line() if item is not None else ""


def feedback_badge(item: Feedback) -> str:
    """A person's label as a badge, with the corrected answer and who gave it."""
    return (f":{FEEDBACK_COLORS[item.label]}-badge[human: {escape.markdown(item.label)}]"
            + (f" → **{escape.markdown(item.answer)}**" if item.answer else "")
            + f" · {escape.markdown(item.author)}")


VERDICT_COLUMN_HELP = ("The verdict badge: verified, unverified, refuted, split, truncated, "
                       "budget or no answer; the kind of check behind it; the confidence.")


def drop_blank(frame: pd.DataFrame, keep: tuple[str, ...] = ()) -> pd.DataFrame:
    """``frame`` without the columns that are blank (None, NaN or "") on every row: a column
    that never says anything only pushes the others off screen. ``keep`` stays regardless."""
    if frame.empty:
        return frame
    blank = [c for c in frame.columns if c not in keep
             and frame[c].map(lambda v: v is None or v == "" or v != v).all()]
    return frame.drop(columns=blank)
