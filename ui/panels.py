"""Renderers for the trace page: one step's details, a branch card and the vote tally."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from ponder.agents.labels import CODE, EXECUTE
from ponder.types import Branch, Result, TraceEvent, Usage, Vote
from ponder.ui import escape, widgets
from ponder.ui.graph import TraceGraph, TraceNode

VERDICT_MARK = {"verified": "green", "refuted": "red", "unverified": "gray", "no_answer": "gray"}
SHOWN_ELSEWHERE = {"text", "reasoning", "code", "stdout", "stderr", "votes"}


def text_block(text: str) -> None:
    """Model text shown verbatim (never as markdown: it is untrusted and often half-formatted)."""
    st.code(text or "(empty)", language="text", wrap_lines=True)


def prompt(messages: list[dict[str, Any]]) -> None:
    """The messages sent to the model, collapsed: few-shot prompts are long."""
    with st.expander(f"Prompt · {len(messages)} message(s)"):
        for message in messages:
            st.markdown(f"**{escape.markdown(message.get('role', '?'))}**")
            text_block(str(message.get("content") or ""))


def reasoning(text: str | None) -> None:
    """Separated reasoning (``reasoning_content`` or ``<think>``), collapsed by default."""
    if text:
        with st.expander(f"Reasoning · {len(text):,} characters", expanded=False):
            text_block(text)


def execution(outputs: dict[str, Any]) -> None:
    """A sandbox run: status, duration, stdout, stderr and the returned value."""
    status = outputs.get("status") or "?"
    color = "green" if status == "ok" else "red"
    took = outputs.get("duration_s")
    st.markdown(f"**Execution** :{color}-badge[{escape.markdown(status)}]"
                + (f" · {took:.2f}s" if isinstance(took, (int, float)) else ""))
    if outputs.get("stdout"):
        st.caption("stdout")
        st.code(outputs["stdout"], language="text")
    if outputs.get("stderr"):
        st.caption("stderr")
        st.code(outputs["stderr"], language="text")
    if outputs.get("value") is not None:
        st.caption(f"value: {escape.markdown(repr(outputs['value']))}")


def _execution_of(node: TraceNode, graph: TraceGraph) -> TraceEvent | None:
    """The ``execute`` step that ran a ``code`` step's program."""
    for parent, child in graph.edges:
        if parent == node.index and graph.nodes[child].event.node == EXECUTE:
            return graph.nodes[child].event
    return None


def step(node: TraceNode, graph: TraceGraph, anchor: str | None = None) -> None:
    """Everything about one trace event: prompt, output, reasoning, code, run, usage.

    ``anchor`` names its heading, so a link ending ``#anchor`` scrolls to it.
    """
    event = node.event
    took = max(0.0, event.ended_at - event.started_at)
    st.subheader(escape.markdown(node.title), anchor=anchor or False)
    when = time.strftime("%H:%M:%S", time.localtime(event.started_at))
    role = event.inputs.get("role")
    st.caption(f"started {when} · {took:.2f}s"
               + (f" · role {escape.markdown(role)}" if role else "")
               + (f" · branch {escape.markdown(event.branch_id)}" if event.branch_id else ""))
    widgets.usage_metrics(event.usage, wall=took)
    if event.inputs.get("messages"):
        prompt(event.inputs["messages"])
    if event.inputs.get("question"):
        st.markdown("**Question**")
        text_block(str(event.inputs["question"]))
    out = event.outputs
    code = out.get("code") or event.inputs.get("code")
    text = str(out.get("text") or "")
    if text and code and str(code).strip() in text:
        # The program was taken from this output: print it once (below), keep the rest here.
        if text.strip() != str(code).strip():
            with st.expander(f"Model output · {len(text):,} characters (the code below "
                             "was taken from it)"):
                text_block(text)
    elif text:
        model_text(text, out.get("reasoning"), out.get("answer"))
    reasoning(out.get("reasoning"))
    if code:
        st.markdown("**Code**")
        st.code(code, language="python")
    if event.node == EXECUTE:
        execution(out)
    elif event.node == CODE and (ran := _execution_of(node, graph)) is not None:
        execution(ran.outputs)
    if isinstance(out.get("votes"), dict) and out["votes"]:
        vote_chart(out["votes"], out.get("leader"))
    facts = {k: rounded(v) for k, v in out.items() if k not in SHOWN_ELSEWHERE and v is not None}
    for name, rows in [(k, v) for k, v in facts.items() if _is_table(v)]:
        st.markdown(f"**{escape.markdown(name)}** · {len(rows)}")
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
        del facts[name]
    if facts:
        st.json(facts, expanded=True)


def rounded(value: Any, places: int = 3) -> Any:
    """``value`` with every float rounded (a score of -0.2890266190423129 reads -0.289)."""
    if isinstance(value, float):
        return round(value, places)
    if isinstance(value, dict):
        return {k: rounded(v, places) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v, places) for v in value]
    return value


def _is_table(value: Any) -> bool:
    """A list of flat records (a search's candidates, say): shown as a table, not JSON."""
    return isinstance(value, list) and bool(value) and all(
        isinstance(v, dict) and not any(isinstance(x, (dict, list)) for x in v.values())
        for v in value)


def model_text(text: str, separate_reasoning: str | None, answer: object) -> None:
    """A model's text, named for what it holds: a model that gives no separate reasoning
    (the embedded ones) writes its reasoning and its answer in this one text."""
    if separate_reasoning or answer is None:
        st.markdown("**Output**")
    else:
        st.markdown("**Reasoning and answer**")
        st.caption("This model writes its reasoning and its answer in one text (it returns no "
                   f"separate reasoning); the answer taken from it: {escape.markdown(answer)}")
    text_block(text)


def _tally(votes: dict[str, Any]) -> pd.DataFrame:
    """Votes as rows, whether they are Vote objects, dicts or plain counts."""
    rows = []
    for answer, vote in votes.items():
        if isinstance(vote, Vote):
            vote = vote.model_dump()
        if not isinstance(vote, dict):
            vote = {"count": vote, "weight": vote}
        rows.append({"answer": str(answer), "count": int(vote.get("count") or 0),
                     "weight": float(vote.get("weight") or 0.0),
                     "verified": int(vote.get("verified") or 0)})
    return pd.DataFrame(rows, columns=["answer", "count", "weight", "verified"])


def vote_chart(votes: dict[str, Any], leader: str | None = None) -> None:
    """The tally as bars: weight per answer, the leader highlighted, counts beside each."""
    chart = tally_chart(votes, leader)
    if chart is None:
        st.caption("No votes were cast (no branch produced an answer).")
        return
    st.altair_chart(chart, width="stretch", height=70 + 36 * len(votes))


def tally_chart(votes: dict[str, Any], leader: str | None = None) -> alt.LayerChart | None:
    """The vote chart (None when no vote was cast)."""
    frame = _tally(votes)
    if frame.empty:
        return None
    top = str(leader) if leader is not None else frame.sort_values("weight").iloc[-1]["answer"]
    frame["role"] = ["leader" if a == top else "other" for a in frame["answer"]]
    frame["facts"] = [tally_text(r.count, r.verified, r.weight) for r in frame.itertuples()]
    base = alt.Chart(frame).encode(
        # The answer axis has no title: rotated, it was clipped to "answei" on short charts.
        y=alt.Y("answer:N", sort="-x", title=None, axis=alt.Axis(labelLimit=200)),
        tooltip=["answer", "count", "verified", alt.Tooltip("weight:Q", format=".2f")],
    )
    bars = base.mark_bar(size=12).encode(
        x=alt.X("weight:Q", title="vote weight per answer",
                scale=alt.Scale(domainMax=float(frame["weight"].max()) or 1.0)),
        color=alt.Color("role:N", scale=alt.Scale(domain=["leader", "other"],
                                                  range=["#f9a825", "#90a4ae"]), legend=None))
    # Counts and verified flags written above each bar from its start, not only in the
    # tooltip: written after the bar's end they ran past a narrow chart ("weight 1.0(").
    labels = base.mark_text(align="left", baseline="bottom", dx=2, dy=-7,
                            color="#37474f").encode(x=alt.value(0), text="facts:N")
    return bars + labels


def tally_text(count: int, verified: int, weight: float) -> str:
    """What a vote bar says beside it: ``3 votes · 1 verified · weight 2.33``."""
    votes = f"{count} vote" + ("s" if count != 1 else "")
    return f"{votes} · {verified} verified · weight {weight:.2f}"


def counted(branch: Branch) -> str:
    """Which answer the vote counted for a branch: the reasoned one, the program's, or none."""
    if branch.answer is None:
        return "nothing (no answer)"
    sources = []
    if branch.reasoned_answer is not None and branch.reasoned_answer == branch.answer:
        sources.append("the reasoned answer")
    if branch.code_answer is not None and branch.code_answer == branch.answer:
        sources.append("the program's answer")
    return f"{branch.answer} ({' = '.join(sources) or 'as extracted'})"


def branch_card(branch: Branch, shared: Usage | None = None) -> None:
    """One branch: reasoned answer, program answer, verdict, what the vote counted, then its
    text, reasoning, code and execution; ``shared`` is the usage of steps no branch owns
    (what a branch that recorded none of its own is told it cost)."""
    mark = VERDICT_MARK.get(branch.verdict, "gray")
    md = escape.markdown
    st.markdown(f"**Branch {branch.index}** · :{mark}-badge[{md(branch.verdict)}]"
                f" · {md(branch.model)}" + (" · :orange-badge[truncated]"
                                            if branch.truncated else ""))
    has_code = branch.code is not None or branch.code_answer is not None
    # Two metrics a row: four in a half-width card cut their labels and values short.
    top, bottom = st.columns(2), st.columns(2)
    reasoned = branch.reasoned_answer if branch.reasoned_answer is not None else (
        None if has_code else branch.answer)
    top[0].metric("Reasoned answer", md(reasoned) if reasoned is not None else "–",
                  help="The answer extracted from the model's text.")
    if has_code:
        top[1].metric("Program answer", md(branch.code_answer)
                      if branch.code_answer is not None else "–",
                      help="What the branch's program returned when the sandbox ran it.")
    bottom[0].metric("Verdict", md(branch.verdict))
    confidence = branch.confidence
    bottom[1].metric("Confidence", f"{confidence:.2f}" if confidence is not None else "–")
    st.markdown(f"**Vote counted:** {md(counted(branch))}")
    if branch.text:
        model_text(branch.text, branch.reasoning, branch.reasoned_answer)
    reasoning(branch.reasoning)
    if branch.execution is not None:
        st.caption("code")
        st.code(branch.code or "", language="python")
        execution(branch.execution.model_dump())
    elif branch.code:
        st.caption("code (not run)")
        st.code(branch.code, language="python")
    u = branch.usage
    rewards = f" · rewards {md(branch.rewards)}" if branch.rewards else ""
    if not u.calls and not u.total_tokens and shared is not None and shared.total_tokens:
        # A search's branches share their steps: the usage sits on those steps, not here.
        st.caption(f"usage is recorded per step, not per branch: the shared steps spent "
                   f"{shared.total_tokens:,} tokens · {widgets.dollars(shared.cost_usd)} · "
                   f"model time {shared.latency_s:.2f}s in {shared.calls} call(s){rewards}")
        return
    st.caption(f"{u.total_tokens:,} tokens · {widgets.dollars(u.cost_usd)} · "
               f"model time {u.latency_s:.2f}s{rewards}")


def compare(result: Result, *, key: str, shared: Usage | None = None,
            below: Callable[[Branch, str], None] | None = None) -> None:
    """Two branches side by side, picked by the user; ``below`` draws under each card
    (the trace page's feedback on that branch), given the card's own key suffix."""
    branches = sorted(result.branches, key=lambda b: b.index)
    if not branches:
        st.caption("This result has no branches.")
        return
    if len(branches) == 1:  # one branch: no side to compare it with
        with st.container(border=True):
            branch_card(branches[0], shared)
            if below is not None:
                below(branches[0], "0")
        return
    labels = {i: f"branch {b.index} · {b.answer} · {b.verdict}" for i, b in enumerate(branches)}
    cols = st.columns(2)
    for side, col in enumerate(cols):
        with col:
            default = min(side, len(branches) - 1)
            pick = st.selectbox("Branch", list(labels), index=default, format_func=labels.get,
                                key=f"{key}_{side}", label_visibility="collapsed")
            with st.container(border=True):
                branch_card(branches[pick], shared)
                if below is not None:
                    below(branches[pick], str(side))
