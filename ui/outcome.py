"""The trace page's header: the outcome first — the answer and one verdict badge
(:func:`ponder.verdict.verdict_of`, the same the CLI and the tables show) with what it is made
of beneath it, the reference and a person's label beside it — then cost and time."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ponder.store.feedback import Feedback
from ponder.types import Result, StageRecord, TraceEvent
from ponder.ui import escape, widgets
from ponder.verdict import verdict_of

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


def reference_badge(result: Result) -> str:
    """Whether the answer matches the dataset's reference (ground truth, not the verdict)."""
    md = escape.markdown
    if result.reference is None or result.correct is None:
        return ""
    if result.correct:
        return f":green-badge[matches the reference] {md(result.reference)}"
    return f":red-badge[differs from the reference] {md(result.reference)}"


def stop_reason(result: Result) -> str:
    """Why the run stopped, in words (the stored code when it is one of ours)."""
    code = result.stopped or "unknown"
    return STOPS.get(code, code)


def checks(parts: dict[str, Any]) -> str | None:
    """``code checks: 1 verified, 2 refuted`` (or that none ran); None when not recorded."""
    status = parts.get("status")
    if status not in ("verified", "unverified", "unchecked"):
        return None
    if status == "unchecked":
        return "no code check ran"
    text = f"code checks: {parts.get('verified', 0)} verified, {parts.get('refuted', 0)} refuted"
    if status == "verified" and not parts.get("verified") and parts.get("reasoned_agree"):
        # checked's reasoning cross-check: reasoning in other branches agrees with the result
        text += f"; {parts['reasoned_agree']} reasoned answer(s) agree with the executed result"
    if parts.get("judged") or parts.get("rejected"):  # the judge checked prose no program could
        text += f"; judge: {parts.get('judged', 0)} accepted, {parts.get('rejected', 0)} rejected"
    return text


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


def verdict_parts(result: Result) -> list[str]:
    """What the verdict is made of, in plain words: the confidence's formula, the checks,
    why sampling stopped and how many samples it took (escaped Markdown, one part each)."""
    md = escape.markdown
    parts = result.confidence_parts
    bits = []
    formula = confidence_parts(parts) if parts.get("share") is not None else ""
    bits.append(f"confidence {result.confidence:.2f}" + (f" = {formula}" if formula else ""))
    checked = checks(parts)
    if checked:
        bits.append(checked)
    if result.stopped:
        bits.append(f"stopped: {stop_reason(result)}")
    if result.max_samples:
        bits.append(f"{result.samples_used}/{result.max_samples} samples")
    return [md(b) for b in bits]


def stage_badge(stage: StageRecord, result: Result) -> str:
    """The stage sampling moved to, and the model it moved to if that changed."""
    md = escape.markdown
    if not stage.switched_role:
        return f":blue-badge[{md(stage.name)}]"
    model = result.models.get(stage.role) or f"the {stage.role} role"
    return f":orange-badge[{md(stage.name)}] to {md(model)}"


def show(result: Result, events: list[TraceEvent], feedback: Feedback | None = None) -> None:
    """The answer, one verdict badge with its parts beneath, the reference and a person's
    label beside it, escalation and notes, then usage."""
    md = escape.markdown
    answer = md(result.answer) if result.answer is not None else "_no answer_"
    st.markdown(f"### Answer: {answer}")
    with st.container(horizontal=True, gap="small", vertical_alignment="center",
                      key="trace_verdict"):
        st.markdown(widgets.verdict_badge(verdict_of(result)), width="content",
                    help=widgets.VERDICT_COLUMN_HELP)
        for extra in (reference_badge(result),
                      widgets.feedback_badge(feedback) if feedback else "",
                      *(stage_badge(stage, result) for stage in result.stages)):
            if extra:
                st.markdown(extra, width="content")
    st.caption(" · ".join(verdict_parts(result)))
    bits = [f"problem {md(result.problem_id)}", md(result.strategy)]
    if result.models:
        bits.append("models " + md(", ".join(sorted(set(result.models.values())))))
    st.caption(" · ".join(bits))
    for note in result.notes:
        st.warning(md(note))
    widgets.usage_metrics(result.usage, wall=wall_time(result, events))
