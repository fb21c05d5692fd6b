"""Solve page: ask a question, pick a strategy and models, watch branches and the vote live."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ponder.config import Config, SolveOptions, load_config
from ponder.errors import PonderError
from ponder.ui import data, escape, panels, widgets
from ponder.ui.live import LiveSolve, stream_solve

DEFAULT_SAMPLES = 4


@dataclass
class Request:
    """What the form asked for."""

    question: str
    strategy: str
    samples: int
    reasoner: str
    standard: str
    plan: bool
    early_stop: bool


def strategy_names() -> list[str]:
    """Registered strategies, with the config's plugins (the registry's import is the slow
    part, and Python does it once per server)."""
    from ponder.graphs.registry import load_plugins, strategy_names as names

    settings = data.settings()
    load_plugins(load_config(settings.config_path, store=settings.store).plugins)
    return names()


def form(config: Config) -> Request | None:
    """The question form; returns the request when submitted."""
    names = strategy_names()
    with st.form("solve_form"):
        question = st.text_area("Question", placeholder="What is 17 + 25?", key="solve_question")
        cols = st.columns([2, 1, 1])
        strategy = cols[0].selectbox("Strategy", names, key="solve_strategy",
                                     index=names.index(config.strategy)
                                     if config.strategy in names else 0)
        samples = cols[1].number_input("Samples", min_value=1, max_value=64,
                                       value=min(DEFAULT_SAMPLES, config.samples),
                                       key="solve_samples")
        with cols[2]:
            plan = st.checkbox("Plan first", key="solve_plan")
            early_stop = st.checkbox("Stop early", value=True, key="solve_early")
        cols = st.columns(2)
        reasoner = cols[0].text_input("Reasoner model", value=config.role("reasoner").model,
                                      key="solve_reasoner",
                                      help="Any LiteLLM model string, e.g. openai/o4-mini or "
                                      "deepseek/deepseek-reasoner; local/… runs embedded.")
        standard = cols[1].text_input("Standard model", value=config.role("standard").model,
                                      key="solve_standard")
        submitted = st.form_submit_button("Solve", type="primary")
    if not submitted:
        return None
    if not question.strip():
        st.warning("Type a question first.")
        return None
    return Request(question.strip(), strategy, int(samples), reasoner.strip(), standard.strip(),
                   plan, early_stop)


def prepare(config: Config, request: Request) -> tuple[Config, SolveOptions]:
    """The config and options for the request (the run's own checks say what else is wrong)."""
    config = config.with_models(reasoner=request.reasoner, standard=request.standard)
    options = SolveOptions(samples=request.samples, plan=request.plan,
                           early_stop=request.early_stop)
    return config, options


class LiveView:
    """Placeholders redrawn after every progress event."""

    def __init__(self) -> None:
        top = st.columns(3)
        self.leader, self.count, self.started = top[0].empty(), top[1].empty(), top[2].empty()
        left, right = st.columns(2)
        left.markdown("**Branches as they finish**")
        self.branches = left.empty()
        right.markdown("**Vote**")
        self.votes = right.empty()

    def update(self, live: LiveSolve) -> None:
        leader = live.current_leader()
        self.leader.metric("Vote leader", escape.markdown(leader) if leader is not None else "–")
        self.count.metric("Branches finished", len(live.branches))
        self.started.metric("Branches started", live.dispatched)
        if live.branches:
            self.branches.dataframe(pd.DataFrame(live.rows()), hide_index=True, width="stretch")
        tally = live.tally()
        if tally:
            with self.votes.container():
                panels.vote_chart(tally, leader)


def run(path: str, config: Config, request: Request) -> None:
    """Solve with live progress, then point at the stored trace."""
    try:
        config, options = prepare(config, request)
    except PonderError as exc:
        st.error(escape.markdown(exc))
        return
    view = LiveView()
    label = f"Solving with {escape.markdown(request.strategy)}…"
    with st.status(label, expanded=False) as status:
        try:
            live = asyncio.run(stream_solve(request.question, request.strategy, config, options,
                                            data.open_store(path), view.update))
        except PonderError as exc:
            status.update(label="Failed", state="error")
            st.error(escape.markdown(exc))
            return
        status.update(label="Done", state="complete")
    data.clear()
    st.session_state["solve_last"] = live.run_id
    show_result(live)


def show_result(live: LiveSolve) -> None:
    result = live.result
    if result is None:
        return
    answer = escape.markdown(result.answer) if result.answer is not None else "_no answer_"
    st.success(f"Answer: **{answer}** · confidence {result.confidence:.2f} · "
               f"{result.samples_used} samples · stopped: {escape.markdown(result.stopped)}")
    widgets.usage_metrics(result.usage, wall=result.wall_s or None)


def main() -> None:
    st.title("Solve")
    settings = data.settings()
    if settings.error:
        st.error(f"The configuration could not be read: {escape.markdown(settings.error)}")
        return
    config = load_config(settings.config_path, store=settings.store)
    st.caption("Embedded models run offline on the CPU: small and weak, but real. "
               f"Runs are recorded in {escape.markdown(settings.store)}.")
    request = form(config)
    if request is not None:
        run(str(settings.store), config, request)
    last = st.session_state.get("solve_last")
    if last:
        st.page_link("trace_page.py", label="Open the trace of the last solve",
                     icon=":material/account_tree:", query_params={"run": last})


if __name__ == "__main__":  # Streamlit runs page files as __main__
    main()
