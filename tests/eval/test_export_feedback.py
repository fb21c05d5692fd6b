"""Exports honour people's labels: sft drops traces labelled wrong and grades against a
corrected answer; rewards carries the label."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ponder.store import Store

from .test_report_export import export, fill


def sft(store: Store, **kw: object) -> list[tuple[str, str, str]]:
    return [(r["problem_id"], r["strategy"], r["branch_id"])
            for r in map(json.loads, export(store, "sft", **kw).splitlines())]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    db = Store(tmp_path / "s.db")
    fill(db)
    return db


def test_a_trace_labelled_wrong_leaves_the_sft_export(store: Store) -> None:
    before = sft(store)
    assert [(p, s) for p, s, _ in before] == [("p1", "verified"), ("p3", "verified")]
    store.annotate("r", "p1", "wrong", strategy="verified", note="the grader was fooled",
                   author="ana")
    assert [(p, s) for p, s, _ in sft(store)] == [("p3", "verified")]
    store.annotate("r", "p1", "correct", strategy="verified", author="ana")  # replaces it
    assert sft(store) == before


def test_a_corrected_answer_is_the_reference_the_branches_are_graded_against(
        store: Store) -> None:
    # p0 under verified: branch 0 answered 0 (graded wrong, verified), branch 1 answered 1
    # (graded right, refuted). A person says the right answer is 0.
    store.annotate("r", "p0", "wrong", strategy="verified", answer="0", author="ana")
    kept = [(p, s) for p, s, _ in sft(store)]
    assert ("p0", "verified") in kept  # branch 0 now matches the reference and is verified
    loose = [(p, s, b) for p, s, b in sft(store, any_correct=True) if p == "p0"
             and s == "verified"]
    assert len(loose) == 1  # branch 1 (answer 1) is wrong against the corrected answer


def test_branch_labels_decide_for_their_branch(store: Store) -> None:
    store.annotate("r", "p3", "wrong", strategy="verified", branch=0, author="ana")
    assert [(p, s) for p, s, _ in sft(store)] == [("p1", "verified")]
    store.annotate("r", "p2", "correct", strategy="cot", branch=1, author="bo")
    assert ("p2", "cot") in [(p, s) for p, s, _ in sft(store)]  # refuted, but a person vouched


def test_rewards_records_carry_the_human_label(store: Store) -> None:
    store.annotate("r", "p1", "wrong", strategy="verified", answer="7", note="typo",
                   author="ana")
    store.annotate("r", "p2", "unsure", strategy="cot", branch=1, author="bo")
    rows = [json.loads(line) for line in export(store, "rewards").splitlines()]
    labelled = {(r["problem_id"], r["strategy"], r["index"]): (r["human_label"],
                                                               r["human_answer"],
                                                               r["human_scope"])
                for r in rows if r["human_label"]}
    assert labelled == {("p1", "verified", 0): ("wrong", "7", "trace"),
                        ("p1", "verified", 1): ("wrong", "7", "trace"),
                        ("p2", "cot", 1): ("unsure", None, "branch")}
    assert all(r["human_note"] in (None, "typo") for r in rows)
