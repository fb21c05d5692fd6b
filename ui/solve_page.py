"""Solve page: ask a question, pick a strategy and models, watch branches and the vote live."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from ponder.ui.telemetry import install as install_telemetry
from ponder.config import Config, SolveOptions, load_config, options_for
from ponder.errors import PonderError
from ponder.types import Result, TraceEvent
from ponder.ui import data, escape, outcome, panels, timeline, widgets
from ponder.ui.graph import layout
from ponder.ui.live import LiveJob, LiveJobs, LiveSolve
from ponder.verdict import verdict_of

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
    from ponder.graphs.registry import strategy_names as names

    settings = data.settings()
    return names(load_config(settings.config_path, store=settings.store))


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
    options = options_for(config, samples=request.samples, plan=request.plan,
                          early_stop=request.early_stop)
    return config, options


POLL_S = 0.3
WRITING_SHOWN, WRITING_TAIL = 4, 600  # running steps shown, characters of each


@st.cache_resource
def live_jobs() -> LiveJobs:
    """The solves running in this server's background (a reload finds them by run id)."""
    return LiveJobs()


class LiveView:
    """Placeholders redrawn while a solve runs: timer, steps, branches, vote."""

    def __init__(self, *, running: bool = True) -> None:
        top = st.columns(4)
        self.clock, self.leader = top[0].empty(), top[1].empty()
        self.count, self.started = top[2].empty(), top[3].empty()
        st.markdown("**Steps as they finish**")
        self.steps = st.empty()
        # Only while the solve runs: once it ends there is nothing being written.
        self.writing_slot = st.empty()
        self.writing = None
        if running:
            with self.writing_slot.container():
                st.markdown("**Being written now**")
                self.writing = st.empty()
        left, right = st.columns(2)
        left.markdown("**Branches as they finish**")
        self.branches = left.empty()
        right.markdown("**Vote**")
        self.votes = right.empty()
        self._drawn_steps = -1

    def update(self, job: LiveJob, events: list[TraceEvent]) -> None:
        live = job.live
        leader = live.current_leader()
        self.clock.metric("Elapsed", f"{job.elapsed_s:.1f} s")
        self.leader.metric("Vote leader", escape.markdown(leader) if leader is not None else "–")
        self.count.metric("Branches finished", len(live.branches))
        self.started.metric("Branches started", live.dispatched)
        if events and len(events) != self._drawn_steps:
            self._drawn_steps = len(events)
            self.steps.altair_chart(timeline.waterfall(timeline.spans(layout(events))),
                                    width="stretch")
        if self.writing is not None:
            with self.writing.container():
                self.draw_writing(live)
        if live.branches:
            self.branches.dataframe(pd.DataFrame(live.rows()), hide_index=True, width="stretch")
        tally = live.tally()
        if tally:
            with self.votes.container():
                panels.vote_chart(tally, leader)


    def finish(self) -> None:
        """The solve ended: drop the "being written" section (its text is stale now)."""
        self.writing_slot.empty()
        self.writing = None

    @staticmethod
    def draw_writing(live: LiveSolve) -> None:
        """The text each running step is generating (model text: shown as code, never parsed)."""
        writing = list(live.writing.items())[-WRITING_SHOWN:]
        if not writing:
            st.caption("nothing at the moment" if live.result is None else "done")
        for branch_id, (node, text) in writing:
            where = (f"branch {live.branch_index.get(branch_id, branch_id)}" if branch_id
                     else "problem")
            st.caption(f"{escape.markdown(where)} · {escape.markdown(node)}")
            st.code(text[-WRITING_TAIL:] or " ", language=None, wrap_lines=True)


def start(path: str, config: Config, request: Request) -> None:
    """Start the solve in the background and follow it from this URL (``?live=RUN``)."""
    try:
        config, options = prepare(config, request)
    except PonderError as exc:
        st.error(escape.markdown(exc))
        return
    job = live_jobs().start(request.question, request.strategy, config, options,
                            data.open_store(path))
    st.query_params["live"] = job.run_id
    st.session_state["solve_last"] = job.run_id


def follow(path: str, run_id: str) -> None:
    """Draw a running solve until it ends; a rerun or a reload picks it up again."""
    job = live_jobs().get(run_id)
    if job is None:
        stored(path, run_id)
        return
    store = data.open_store(path)
    if job.status != "running":  # a rerun or reload after it ended: no longer a live page
        ended(job)
        LiveView(running=False).update(job, store.events(run_id))
        return
    top = st.empty()
    with top.container():
        cols = st.columns([4, 1])
        cols[0].markdown(f"Solving with **{escape.markdown(job.live.strategy)}** · run "
                         f"{escape.markdown(run_id)}")
        cols[1].button("Cancel", key=f"cancel-{run_id}", on_click=job.cancel,
                       icon=":material/stop_circle:")
    result_slot = st.container()  # above the live view, where the outcome is read first
    view = LiveView()
    while True:
        running = job.status == "running"
        view.update(job, store.events(run_id))
        if not running:
            break
        time.sleep(POLL_S)
    top.empty()
    view.finish()
    data.clear()
    with result_slot:
        ended(job)


def ended(job: LiveJob) -> None:
    if job.status == "done" and job.live.result is not None:
        show_result(job.live.result)
    elif job.status == "cancelled":
        st.warning(f"Cancelled after {job.elapsed_s:.1f} s; the run is recorded as cancelled.")
    else:
        st.error(escape.markdown(job.error or "the solve failed"))


def stored(path: str, run_id: str) -> None:
    """A run this server is not running (finished earlier, or started by another process)."""
    run = data.open_store(path).get_run(run_id)
    if run is None:
        st.error(f"Run {escape.markdown(run_id)} not found in this store.")
        return
    status = "interrupted" if run.status == "running" else run.status
    result = next(iter(data.open_store(path).results(run_id, limit=1)), None)
    if result is not None:
        show_result(result)
        return
    st.info(f"Run {escape.markdown(run_id)} is {escape.markdown(status)}"
            + (" (the server that ran it stopped)" if status == "interrupted" else "") + ".")


def show_result(result: Result) -> None:
    """The answer and its verdict badge (the trace header's), its parts, then usage."""
    answer = escape.markdown(result.answer) if result.answer is not None else "_no answer_"
    st.markdown(f"### Answer: {answer}")
    st.markdown(f"{widgets.verdict_badge(verdict_of(result))} · solved with "
                f"**{escape.markdown(result.strategy)}** · run {escape.markdown(result.run_id)}")
    st.caption(" · ".join(outcome.verdict_parts(result)))
    widgets.usage_metrics(result.usage, wall=result.wall_s or None)


def models_caption(config: Config) -> str:
    """What the configured models are, truthfully: embedded ones run offline on the CPU,
    any other is called through its provider."""
    models = dict.fromkeys(config.role(r).model for r in ("reasoner", "standard"))
    local = [m for m in models if m.startswith("local/")]
    remote = [m for m in models if not m.startswith("local/")]
    bits = []
    if local:
        bits.append(f"{' and '.join(local)} run{'s' if len(local) == 1 else ''} embedded, "
                    "offline on the CPU: small and weak, but real.")
    if remote:
        bits.append(f"{' and '.join(remote)} {'is' if len(remote) == 1 else 'are'} called "
                    "through the provider (LiteLLM), with its API key from the environment.")
    return " ".join(bits)


def main() -> None:
    st.title("Solve")
    settings = data.settings()
    if settings.error:
        st.error(f"The configuration could not be read: {escape.markdown(settings.error)}")
        return
    config = load_config(settings.config_path, store=settings.store)
    install_telemetry(config)  # an OTLP exporter for the runs started here, when configured
    st.caption(escape.markdown(models_caption(config) + f" Runs are recorded in "
                               f"{settings.store}."))
    try:
        request = form(config)
    except PonderError as exc:  # a strategy plugin that does not load, say
        st.error(escape.markdown(exc))
        return
    if request is not None:
        start(str(settings.store), config, request)
    live = st.query_params.get("live")
    if live:
        follow(str(settings.store), live)
    last = st.session_state.get("solve_last") or live
    if last:
        st.page_link("trace_page.py", label="Open the trace of this solve",
                     icon=":material/account_tree:", query_params={"run": last})


if __name__ == "__main__":  # Streamlit runs page files as __main__
    main()
