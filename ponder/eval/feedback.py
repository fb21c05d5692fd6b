"""What the exports do with human feedback (:mod:`ponder.store.feedback`).

A person's label outranks the automatic grade: a trace labelled ``wrong`` gives no SFT
data (unless they also wrote the right answer, which then becomes the reference its
branches are graded against), a branch labelled ``wrong`` is dropped and one labelled
``correct`` counts as right; the ``rewards`` export carries the label beside the rewards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ponder.answers import equivalent
from ponder.store import Store
from ponder.store.feedback import Feedback
from ponder.types import Branch, Problem


@dataclass
class HumanLabels:
    """A run's labels, by (problem, strategy): the trace's and each labelled branch's."""

    traces: dict[tuple[str, str], Feedback] = field(default_factory=dict)
    branches: dict[tuple[str, str, int], Feedback] = field(default_factory=dict)

    @classmethod
    def of_run(cls, store: Store, run_id: str) -> HumanLabels:
        labels = cls()
        for item in store.feedback(run_id):
            if item.branch is None:
                labels.traces[(item.problem_id, item.strategy)] = item
            else:
                labels.branches[(item.problem_id, item.strategy, item.branch)] = item
        return labels

    def __bool__(self) -> bool:
        return bool(self.traces or self.branches)

    @property
    def corrects(self) -> bool:
        """Whether any label gives a corrected answer or calls a branch correct (then the
        export must look at branches the automatic grade called wrong too)."""
        return any(f.answer for f in self.traces.values()) or any(
            f.answer or f.label == "correct" for f in self.branches.values())

    def of(self, row: dict[str, Any], branch: Branch) -> Feedback | None:
        """The label that speaks for ``branch``: its own, else its trace's."""
        key = (row["problem_id"], row["strategy"])
        return self.branches.get((*key, branch.index)) or self.traces.get(key)

    def sft_keep(self, problem: Problem, row: dict[str, Any], branch: Branch, *,
                 any_correct: bool = False) -> bool | None:
        """Whether a person's label keeps ``branch`` in the SFT data; None where nobody
        labelled it (the automatic grade decides).

        A branch's own ``correct`` keeps it and its ``wrong``/``unsure`` drops it. A
        corrected answer (the branch's or the trace's) is the reference it is graded
        against, still cross-checked unless ``any_correct``. A trace labelled ``wrong`` or
        ``unsure`` without one drops every branch.
        """
        key = (row["problem_id"], row["strategy"])
        own = self.branches.get((*key, branch.index))
        trace = self.traces.get(key)
        if own is not None and not own.answer:
            return own.label == "correct"
        fixed = (own.answer if own else None) or (trace.answer if trace else None)
        if fixed:
            right = branch.answer is not None and equivalent(branch.answer, fixed, problem.kind)
            return right and (any_correct or branch.verdict == "verified")
        if trace is not None and trace.label != "correct":
            return False
        return None


def reward_fields(labels: HumanLabels, row: dict[str, Any], branch: Branch) -> dict[str, Any]:
    """The ``human_*`` fields of a rewards record (all None where nobody labelled)."""
    item = labels.of(row, branch)
    return {"human_label": item.label if item else None,
            "human_answer": item.answer if item else None,
            "human_note": item.note if item else None,
            "human_scope": ("branch" if item.branch is not None else "trace") if item else None}
