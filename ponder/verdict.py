"""One verdict per result: what a reader should believe about an answer, computed once.

The CLI's result line, ``ponder serve``'s response and every UI page show this badge, so a
result never says "confidence 0.31" in one place and "verified" in another. The label is the
strongest thing that is true of the result, checked in this order:

=============  ==============================================================================
label          when
=============  ==============================================================================
no_answer      no branch gave an answer
truncated      no answer, and branches ran out of tokens before answering
budget         no answer because a per-problem budget ran out (``stopped`` = ``budget_*``)
verified       a check confirmed the winning answer (an executed program agreed, a judge
               accepted it, or the tests passed)
refuted        the checks made on the winning answer contradicted it (a program or a judge)
split          the vote was tied between the top answers
unverified     an answer that no check confirmed (plain voting, or checks that could not run)
=============  ==============================================================================

``check`` says which kind of check stands behind the label: ``executed`` (a program's result,
computed in the sandbox, backs the answer; one that crashed does not), ``judged`` (a judge
model scored it and no program's result did: ``verified (judged check)`` is a model's opinion,
never a program's check), ``none``. The status, the check and the confidence all come from the vote's
evidence table (:mod:`ponder.agents.voter`), so the badge and the vote cannot disagree: a vote
whose programs all crashed is a prose-only vote and reads ``unverified`` with no check.

>>> from ponder.types import Result
>>> verdict_of(Result(run_id="r", problem_id="p", strategy="pot", answer=None)).label
'no_answer'
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from ponder.types import Result

__all__ = ["CheckKind", "ResultVerdict", "VerdictLabel", "verdict_of"]

VerdictLabel = Literal["verified", "unverified", "refuted", "split", "truncated", "budget",
                       "no_answer"]
CheckKind = Literal["executed", "judged", "none"]


class ResultVerdict(BaseModel):
    """A result's verdict badge: the label, the confidence, the kind of check, in one line.

    >>> ResultVerdict(label="verified", confidence=0.9, check="executed").line()
    'verified (executed check), confidence 0.90'
    """

    label: VerdictLabel
    confidence: float = 0.0
    check: CheckKind = "none"
    summary: str = ""

    @property
    def decided(self) -> bool:
        """Whether the answer stands on a check (``verified``), not just on the vote."""
        return self.label == "verified"

    def line(self) -> str:
        """The badge as one plain line of text."""
        check = f" ({self.check} check)" if self.check != "none" else ""
        return f"{self.label}{check}, confidence {self.confidence:.2f}"

    def sentence(self) -> str:
        """A plain-language sentence for a reader who only sees the answer."""
        texts = {
            "verified": "The answer was verified",
            "unverified": "The answer could not be verified",
            "refuted": "Every check contradicted this answer",
            "split": "The vote was split between answers",
            "truncated": "The model ran out of tokens before answering",
            "budget": "The budget ran out before an answer was reached",
            "no_answer": "No answer could be extracted",
        }
        how = {"executed": " by running a program", "judged": " by a judge model"}
        text = texts[self.label]
        if self.label == "verified":
            text += how.get(self.check, "")
        return f"Verdict: {self.label}. {text} (confidence {self.confidence:.2f})."


def _check_kind(result: Result, parts: dict[str, Any]) -> CheckKind:
    """Which kind of check stands behind the winning answer."""
    if parts.get("check") in ("executed", "judged", "none"):
        return parts["check"]
    if result.answer is None:
        return "none"
    # A program that crashed answers nothing: only an executed result is an executed check.
    if any(b.execution is not None and b.code_answer is not None
           and b.verdict != "no_answer" for b in result.branches):
        return "executed"
    if any("judge" in b.rewards and b.answer == result.answer for b in result.branches):
        return "judged"
    return "none"


def verdict_of(result: Result) -> ResultVerdict:
    """The verdict badge of ``result`` (rules in the module doc)."""
    parts = result.confidence_parts or {}
    check = _check_kind(result, parts)
    summary = str(parts.get("summary") or "")
    confidence = float(result.confidence or 0.0)
    if result.answer is None:
        stopped = result.stopped or ""
        if stopped == "truncated" or (result.branches and all(b.truncated for b in result.branches)):
            label: VerdictLabel = "truncated"
        elif stopped.startswith(("budget", "run_budget")):
            label = "budget"
        else:
            label = "no_answer"
        return ResultVerdict(label=label, confidence=0.0, check="none", summary=summary)
    status = parts.get("status")
    if status == "verified" or parts.get("verified", 0) > 0:
        label = "verified"
    elif status in ("unverified", "refuted") and (parts.get("refuted", 0) > 0
                                                   or parts.get("rejected", 0) > 0):
        label = "refuted"
    elif parts.get("split"):
        label = "split"
    else:
        label = "unverified"
    return ResultVerdict(label=label, confidence=confidence, check=check, summary=summary)
