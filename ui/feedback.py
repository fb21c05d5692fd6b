"""Human feedback on the trace page: label a trace or a branch correct, wrong or unsure,
with a corrected answer and a note (stored with who said it and when)."""

from __future__ import annotations

import time

import streamlit as st

from ponder.errors import PonderError
from ponder.store.feedback import FEEDBACK_LABELS, Feedback, default_author
from ponder.types import Branch
from ponder.ui import data, escape, widgets

AUTHOR_KEY = "feedback_author"  # remembered across forms for this browser session


def of_branch(labels: list[Feedback], branch: int | None) -> Feedback | None:
    """The label on the trace (``branch`` None) or on branch ``branch``."""
    return next((f for f in labels if f.branch == branch), None)


def given(item: Feedback) -> str:
    """``wrong → 42 · ana · 2026-05-01 10:02`` with the note beneath, as escaped Markdown."""
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(item.created_at))
    text = f"{widgets.feedback_badge(item)} · {when}"
    return text + (f"  \n{escape.markdown(item.note)}" if item.note else "")


def form(path: str, target: tuple[str, str, str], branch: int | None,
         current: Feedback | None, *, key: str) -> None:
    """The label form for a trace or one branch; saving writes the store and redraws."""
    run_id, problem_id, strategy = target
    with st.form(key, border=False):
        label = st.radio("Label", FEEDBACK_LABELS, horizontal=True, key=f"{key}_label",
                         index=FEEDBACK_LABELS.index(current.label) if current else None)
        answer = st.text_input("Corrected answer (optional)", key=f"{key}_answer",
                               value=current.answer or "" if current else "",
                               help="The right answer: the sft export grades against it.")
        note = st.text_area("Note (optional)", key=f"{key}_note", height=68,
                            value=current.note or "" if current else "")
        author = st.text_input("Your name", key=f"{key}_author",
                               value=st.session_state.get(AUTHOR_KEY)
                               or (current.author if current else "") or default_author())
        cols = st.columns(2)
        saved = cols[0].form_submit_button("Save label", type="primary")
        removed = cols[1].form_submit_button("Remove label", disabled=current is None)
    if not (saved or removed):
        return
    store = data.open_store(path)
    try:
        if removed:
            store.remove_feedback(run_id, problem_id, strategy, branch)
        elif label is None:
            st.warning("Pick correct, wrong or unsure first.")
            return
        else:
            store.annotate(run_id, problem_id, label, strategy=strategy, branch=branch,
                           answer=answer, note=note, author=author)
            st.session_state[AUTHOR_KEY] = author.strip()
    except PonderError as exc:
        st.error(escape.markdown(exc))
        return
    data.clear()
    st.rerun()


def trace_section(path: str, target: tuple[str, str, str], labels: list[Feedback]) -> None:
    """The trace's own label (shown, and a form to set it) in one expander."""
    current = of_branch(labels, None)
    title = "Feedback: " + (f"labelled {current.label} by {escape.markdown(current.author)}"
                            if current else "not labelled yet")
    with st.expander(title, expanded=False, icon=":material/rate_review:"):
        if current is not None:
            st.markdown(given(current))
        form(path, target, None, current, key="feedback_trace")


def branch_widget(path: str, target: tuple[str, str, str], labels: list[Feedback],
                  branch: Branch, side: str = "0") -> None:
    """Under a branch card: its label if any, and a popover to set one (``side``: which
    card, so the same branch shown twice keeps two forms apart)."""
    current = of_branch(labels, branch.index)
    if current is not None:
        st.markdown(given(current))
    with st.popover(f"Label branch {branch.index}", icon=":material/rate_review:"):
        form(path, target, branch.index, current, key=f"feedback_branch_{side}_{branch.index}")
