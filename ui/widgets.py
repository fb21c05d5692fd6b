"""Pieces the pages share: the store check, a pager, run pickers and number formats."""

from __future__ import annotations

import math
import time

import streamlit as st

from ponder.errors import PonderError
from ponder.store import RunInfo
from ponder.types import Usage
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


def pager(total: int, *, key: str, page_size: int = 50) -> tuple[int, int]:
    """A page number input; returns (limit, offset) for the store query."""
    pages = max(1, math.ceil(total / page_size))
    if pages == 1:
        return page_size, 0
    # No max_value: Streamlit resets a widget whose range changes, and a running batch grows.
    page = min(pages, int(st.number_input(f"Page (of {pages})", min_value=1, value=1, step=1,
                                          key=key)))
    offset = (page - 1) * page_size
    st.caption(f"rows {offset + 1}–{min(total, offset + page_size)} of {total}")
    return page_size, offset


def run_label(run: RunInfo) -> str:
    """How a run is named in pickers: name or id, kind, strategies, date."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created_at))
    return f"{run.name or run.id} · {run.kind} · {', '.join(run.strategies)} · {when}"


def pick_run(path: str, *, key: str) -> RunInfo | None:
    """The run named by ``?run=`` or chosen from the newest runs; keeps the URL in step."""
    runs = data.recent_runs(path)
    wanted = st.query_params.get("run")
    current = data.run_info(path, wanted) if wanted else None
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
    """The models a run used: from a stored result's role map, else the run's config."""
    roles = stored if isinstance(stored, dict) and stored else run.config.get("roles") or {}
    return ", ".join(sorted({str(m) for m in roles.values()})) if isinstance(roles, dict) else ""


def usage_metrics(usage: Usage, *, latency: float | None = None) -> None:
    """Tokens, cost and time as a row of metrics."""
    cols = st.columns(4)
    cols[0].metric("Tokens", f"{usage.total_tokens:,}",
                   help=f"{usage.prompt_tokens:,} prompt + {usage.completion_tokens:,} completion"
                   + (f" ({usage.reasoning_tokens:,} reasoning)" if usage.reasoning_tokens else ""))
    cols[1].metric("Cost", dollars(usage.cost_usd))
    cols[2].metric("Latency", f"{usage.latency_s if latency is None else latency:.2f}s")
    cols[3].metric("Calls", usage.calls)


def dollars(value: float | None) -> str:
    """$0.0123, or $0 for free (embedded) models."""
    if not value:
        return "$0"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "–"
