"""What the judge is asked: one prompt per scoring way (a Yes/No verdict, or a score line),
per mode (a whole candidate, or a partial program's latest line) and per prompt style.

Everything shown comes from a model or a dataset, so it is cut to a bounded length here and
never interpreted; the judge's reply is parsed by :mod:`ponder.agents.judge` alone.
"""

from __future__ import annotations

from typing import Literal

from ponder.types import Problem

Messages = list[dict[str, str]]
Mode = Literal["outcome", "process"]
Way = Literal["logprob", "score"]

MAX_SHOWN = 4000
"""Characters of a candidate shown to the judge (its head and tail when longer)."""

SCORE_FORMAT = ("End your reply with one line of exactly this form: 'Score: <a number from 0 "
                "to 1>' (for example 'Score: 0.85'), the probability that it is correct.")

# Few-shot cases for base models (completion style): one right, one wrong, per mode.
_OUTCOME_SHOTS = [
    ("Sam has 3 apples and buys 4 more. How many apples does he have?",
     "Sam has 3 + 4 = 7 apples.\nFinal answer: 7", True),
    ("A pizza is cut into 12 slices shared equally by 4 friends. How many slices does each get?",
     "12 * 4 = 48 slices each.\nFinal answer: 48", False),
]
_PROCESS_SHOTS = [
    ("A baker packs 5 bags with 6 rolls each and then sells 8 rolls. How many rolls are left?",
     "rolls = 5 * 6\n", "left = rolls - 8", True),
    ("Mia had 20 dollars and spent 8 dollars. How many dollars does she have left?",
     "", "left = 20 + 8", False),
]


def shown(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` cut to ``limit`` characters, keeping its head and its tail (the answer)."""
    text = text.strip()
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"


def _case(mode: Mode, question: str, candidate: str, step: str | None) -> str:
    if mode == "process":
        return (f"Question: {question}\nProgram so far:\n{shown(candidate) or '(empty)'}\n"
                f"Next line: {shown(step or '', 400)}\n")
    return f"Question: {question}\nProposed solution:\n{shown(candidate)}\n"


def _completion(mode: Mode, way: Way, question: str, candidate: str, step: str | None) -> Messages:
    """A few-shot text a base model continues with its verdict (or score) as the next word."""
    label = "Good step (Yes or No)" if mode == "process" else "Correct (Yes or No)"
    shots = ([(q, c, s, ok) for q, c, s, ok in _PROCESS_SHOTS] if mode == "process"
             else [(q, c, None, ok) for q, c, ok in _OUTCOME_SHOTS])
    head = ("Decide whether each next line of a Python program is a correct step toward the "
            "answer.\n\n" if mode == "process" else
            "Decide whether each proposed solution is correct.\n\n")
    verdict = (lambda ok: "Yes" if ok else "No") if way == "logprob" else \
        (lambda ok: "1" if ok else "0")
    name = label if way == "logprob" else "Score"
    text = head + "".join(f"{_case(mode, q, c, s)}{name}: {verdict(ok)}\n\n" for q, c, s, ok in shots)
    return [{"role": "user", "content": f"{text}{_case(mode, question, candidate, step)}{name}:"}]


def _chat(mode: Mode, way: Way, question: str, candidate: str, step: str | None) -> Messages:
    if mode == "process":
        body = (f"Problem:\n{question}\n\nA Python program that computes the answer, so far:\n"
                f"```python\n{shown(candidate)}\n```\n\nProposed next line:\n```python\n"
                f"{shown(step or '', 400)}\n```\n\n")
        ask = "Is the proposed next line correct and a useful step toward the answer?"
    else:
        body = f"Problem:\n{question}\n\nProposed solution:\n{shown(candidate)}\n\n"
        ask = "Is the proposed solution's final answer correct?"
    tail = " Reply with only Yes or No." if way == "logprob" else f" {SCORE_FORMAT}"
    return [{"role": "system", "content": "You check solutions to problems strictly."},
            {"role": "user", "content": body + ask + tail}]


def judge_messages(problem: Problem, candidate: str, *, mode: Mode, way: Way, style: str,
                   step: str | None = None) -> Messages:
    """The judge's prompt: ``candidate`` is a full solution (outcome) or the program so far,
    with ``step`` its proposed next line (process)."""
    question = shown(problem.question, 2000)
    if problem.kind == "choice" and problem.choices:
        question += "\n" + "\n".join(f"({'ABCDEFGHIJ'[i]}) {c}" for i, c in enumerate(problem.choices))
    if style == "completion":
        return _completion(mode, way, question, candidate, step)
    return _chat(mode, way, question, candidate, step)
