"""Prompts for each node and each prompt style.

* ``completion`` — base models (the embedded Gemma) continue few-shot text;
* ``chat`` — instruction models get an explicit chain-of-thought instruction;
* ``reasoning`` — reasoning models think natively, so no "think step by step".

Every prompt takes ``demos``: worked examples (:class:`~ponder.config.Demo`) from which the
nearest few are shown (:func:`ponder.agents.demos.select`). ``None`` means the built-in
exemplars for completion prompts and none for chat and reasoning prompts.
"""

from __future__ import annotations

from ponder.agents.demos import Need, select
from ponder.config import Demo
from ponder.types import Problem

Messages = list[dict[str, str]]

ANSWER_FORMAT = "End with the final answer on its own line as 'Answer: <answer>'."

# One to three steps, with intermediate variables and mixed operations: exemplars that are
# all one operation teach the base model one-operation programs (issue 13, item 7).
_SHOTS = [
    ("Sam has 3 apples and buys 4 more. How many apples does he have?",
     "Sam starts with 3 apples and buys 4 more, so he has 3 + 4 = 7 apples.", "7",
     "apples = 3 + 4\nanswer(apples)"),
    ("A baker packs 5 bags with 6 rolls each and then sells 8 rolls. How many rolls are left?",
     "5 bags of 6 rolls is 5 * 6 = 30 rolls. After selling 8, 30 - 8 = 22 rolls are left.", "22",
     "rolls = 5 * 6\nleft = rolls - 8\nanswer(left)"),
    ("Mia had 20 dollars and spent 8 dollars. How many dollars does she have left?",
     "She had 20 dollars and spent 8, so 20 - 8 = 12 dollars are left.", "12",
     "left = 20 - 8\nanswer(left)"),
    ("A class has 4 tables with 3 cakes and 2 pies on each. The children eat 5. How many are left?",
     "Each table has 3 + 2 = 5 desserts, so 4 tables have 4 * 5 = 20. After eating 5, "
     "20 - 5 = 15 are left.", "15",
     "per_table = 3 + 2\ntotal = 4 * per_table\nleft = total - 5\nanswer(left)"),
    ("A pizza is cut into 12 slices shared equally by 4 friends. How many slices does each get?",
     "12 slices shared by 4 friends is 12 / 4 = 3 slices each.", "3",
     "slices = 12 // 4\nanswer(slices)"),
]


BUILTIN_DEMOS = [Demo(question=q, reasoning=r, answer=a, program=c) for q, r, a, c in _SHOTS]


def _program(code: str, sink: str) -> str:
    """An exemplar program ending in ``answer(x)`` (the value channel) or ``print(x)``;
    a stored program that printed its result is shown passing it to ``answer`` instead."""
    if sink != "answer":
        return code.replace("answer(", "print(")
    lines = code.rstrip().split("\n")
    if "answer(" not in code and lines[-1].startswith("print("):
        lines[-1] = "answer(" + lines[-1][len("print("):]
    return "\n".join(lines)


def _demos(problem: Problem, demos: list[Demo] | None, style: str, need: Need) -> list[Demo]:
    """The demos a prompt shows: the nearest given ones that show what it needs; else the
    built-in ones for completion prompts (a base model needs examples) and none otherwise."""
    chosen = select(problem, demos, need=need) if demos else []
    return chosen if chosen or style != "completion" else BUILTIN_DEMOS


def _turns(shots: list[tuple[str, str]]) -> Messages:
    """Demos as earlier chat turns: the question, then the answer the model should give."""
    out: Messages = []
    for user, assistant in shots:
        out += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return out


CODE_STOP = ["```"]
COT_STOP = ["\nQuestion:", "\n\nQuestion"]


def _question(problem: Problem) -> str:
    text = problem.question.strip()
    if problem.kind == "choice" and problem.choices:
        letters = "ABCDEFGHIJ"
        text += "\n" + "\n".join(f"({letters[i]}) {c}" for i, c in enumerate(problem.choices))
    return text


def _with_plan(text: str, plan: str | None) -> str:
    return f"{text}\n\nPlan:\n{plan.strip()}" if plan else text


def direct(problem: Problem, style: str, *, demos: list[Demo] | None = None) -> Messages:
    """Ask for the answer alone."""
    shots = _demos(problem, demos, style, None)
    if style == "completion":
        text = "".join(f"Question: {d.question}\nAnswer: {d.answer}\n\n" for d in shots)
        return [{"role": "user", "content": f"{text}Question: {_question(problem)}\nAnswer:"}]
    ask = "\n\nReply with only 'Answer: <answer>'."
    return [*_turns([(d.question + ask, f"Answer: {d.answer}") for d in shots]),
            {"role": "user", "content": f"{_question(problem)}{ask}"}]


def reason(problem: Problem, style: str, plan: str | None = None, *,
           demos: list[Demo] | None = None) -> Messages:
    """Ask for one line of reasoning that ends in an answer."""
    question = _with_plan(_question(problem), plan)
    shots = _demos(problem, demos, style, "reasoning")
    if style == "completion":
        text = "".join(f"Question: {d.question}\nReasoning: {d.reasoning} The answer is {d.answer}.\n\n"
                       for d in shots)
        return [{"role": "user", "content": f"{text}Question: {question}\nReasoning:"}]
    if style == "reasoning":
        return [*_turns([(f"{d.question}\n\n{ANSWER_FORMAT}", f"{d.reasoning}\nAnswer: {d.answer}")
                         for d in shots]),
                {"role": "user", "content": f"{question}\n\n{ANSWER_FORMAT}"}]
    return [
        {"role": "system", "content": f"Solve the problem. Think step by step. {ANSWER_FORMAT}"},
        *_turns([(d.question, f"{d.reasoning}\nAnswer: {d.answer}") for d in shots]),
        {"role": "user", "content": question},
    ]


def code(problem: Problem, style: str, plan: str | None = None, *,
         sink: str = "answer", demos: list[Demo] | None = None) -> Messages:
    """Ask for a program that passes its result to ``answer(x)`` (or, for code problems, the
    solution).

    ``answer`` is the sandbox's value channel, which printed text cannot forge; the verifier
    falls back to the last printed line for models that print anyway. ``sink="print"`` asks
    for ``print(x)`` instead (beam search detects a finished program by it).
    """
    if problem.kind == "code":
        if style == "completion":
            return [{"role": "user", "content": f"```python\n{problem.question}"}]
        return [{"role": "user", "content": (
            "Complete this Python function. Reply with one ```python block holding the whole "
            f"function.\n\n```python\n{problem.question}\n```")}]
    question = _with_plan(_question(problem), plan)
    shots = _demos(problem, demos, style, "program")
    if style == "completion":
        text = "".join(f"Question: {d.question}\n```python\n{_program(d.program or '', sink)}\n```\n\n"
                       for d in shots)
        return [{"role": "user", "content": f"{text}Question: {question}\n```python\n"}]
    finish = ("passes the final answer to answer(x) (a function that is already defined; do "
              "not print it)" if sink == "answer" else "prints only the final answer")
    ask = (f"Write a short Python program that computes the answer to this problem and {finish}. "
           "Reply with one ```python block.\n\n")
    return [*_turns([(ask + d.question, f"```python\n{_program(d.program or '', sink)}\n```")
                     for d in shots]),
            {"role": "user", "content": ask + question}]


def step(problem: Problem, partial: str, *, demos: list[Demo] | None = None) -> Messages:
    """Continue a program-of-thought one line at a time (beam search, completion style)."""
    messages = code(problem, "completion", sink="print", demos=demos)
    return [{"role": "user", "content": messages[0]["content"] + partial}]


def plan(problem: Problem, style: str) -> Messages:
    """Ask for a short numbered plan, without solving."""
    if style == "completion":
        return [{"role": "user", "content": (
            f"Question: {_question(problem)}\nA short plan to solve it:\n1.")}]
    return [{"role": "user", "content": (
        "Write a short numbered plan (at most 4 steps) for solving this problem. Do not solve "
        f"it.\n\n{_question(problem)}")}]
