"""The trace page's header: the outcome first — answer, whether it is right, how sure, why
the run stopped, whether it escalated — then what it cost and how long it took."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ponder.types import Result, TraceEvent
from ponder.ui import escape, widgets

STOPS = {
    "decided": "decided — the vote was settled before every sample was drawn",
    "adaptive": "adaptive — the leader very probably holds at the full budget",
    "max_samples": "max samples — every planned sample was drawn",
    "budget_tokens": "budget — the token budget ran out",
    "budget_usd": "budget — the cost budget ran out",
    "budget_cost": "budget — the cost budget ran out",
    "search_complete": "search complete — the beam search ran to its depth or finished",
    "no_answer": "no answer — nothing produced an answer",
    "truncated": "truncated — the model ran out of tokens before answering",
    "unverified": "unverified — every code check refuted the winner",
}
VERDICT = {True: ":green-badge[correct]", False: ":red-badge[wrong]"}


def verdict_badge(result: Result) -> str:
    """correct / wrong / unscored (no reference) / no answer, as a badge."""
    if result.answer is None:
        return ":gray-badge[no answer]"
    return VERDICT.get(result.correct, ":gray-badge[unscored — no reference answer]")


def stop_reason(result: Result) -> str:
    """Why the run stopped, in words (the stored code when it is one of ours)."""
    code = result.stopped or "unknown"
    return STOPS.get(code, code)


def verification(parts: dict[str, Any]) -> str | None:
    """``verified`` / ``unverified`` / ``unchecked`` as a badge with its counts."""
    status = parts.get("status")
    if status not in ("verified", "unverified", "unchecked"):
        return None
    color = {"verified": "green", "unverified": "red", "unchecked": "gray"}[status]
    counts = (f" — {parts.get('verified', 0)} verified, {parts.get('refuted', 0)} refuted"
              if status != "unchecked" else " — no code check ran")
    return f":{color}-badge[{status}]{counts}"


def confidence_parts(parts: dict[str, Any]) -> str:
    """``min(share 0.67, stability 0.58) × verification 1.00`` and the summary line."""
    if not parts:
        return ""
    bits = []
    if parts.get("share") is not None and parts.get("stability") is not None:
        bits.append(f"min(share {parts['share']:.2f}, stability {parts['stability']:.2f})")
    verification = parts.get("verification")
    bits.append(f"× verification {verification:.2f}" if verification is not None
                else "× 1 (no code check counted)")
    summary = parts.get("summary")
    return " ".join(bits) + (f" — {summary}" if summary else "")


def wall_time(result: Result | None, events: list[TraceEvent]) -> float | None:
    """Clock time of the solve: the result's, else first step start to last step end."""
    if result is not None and result.wall_s:
        return result.wall_s
    if not events:
        return None
    return max(e.ended_at for e in events) - min(e.started_at for e in events)


def show(result: Result, events: list[TraceEvent]) -> None:
    """Answer, verdict, confidence and its parts, stop reason, escalation, then usage."""
    md = escape.markdown
    answer = md(result.answer) if result.answer is not None else "_no answer_"
    st.markdown(f"### Answer: {answer} {verdict_badge(result)}")
    cols = st.columns([1, 1, 2])
    cols[0].metric("Confidence", f"{result.confidence:.2f}",
                   help="min(vote share, Beta stability) × share of code checks that passed")
    cols[1].metric("Samples", f"{result.samples_used}/{result.max_samples}")
    with cols[2]:
        st.markdown(f"**Stopped:** {md(stop_reason(result))}")
        checked = verification(result.confidence_parts)
        if checked:
            st.markdown(f"**Code checks:** {checked}")
        if result.escalated:
            to = result.models.get("reasoner") if result.models else None
            st.markdown(":orange-badge[escalated] to the reasoning model"
                        + (f" {md(to)}" if to else ""))
        if result.reference is not None:
            st.markdown(f"**Reference:** {md(result.reference)}")
    parts = confidence_parts(result.confidence_parts)
    if parts:
        st.caption(f"confidence = {md(parts)}")
    bits = [f"problem {md(result.problem_id)}", md(result.strategy)]
    if result.models:
        bits.append("models " + md(", ".join(sorted(set(result.models.values())))))
    st.caption(" · ".join(bits))
    for note in result.notes:
        st.warning(md(note))
    widgets.usage_metrics(result.usage, wall=wall_time(result, events))
