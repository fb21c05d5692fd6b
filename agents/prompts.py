"""Prompts for each node and each prompt style.

* ``completion`` — base models (the embedded Gemma) continue few-shot text;
* ``chat`` — instruction models get an explicit chain-of-thought instruction;
* ``reasoning`` — reasoning models think natively, so no "think step by step".
"""

from __future__ import annotations

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


def _program(code: str, sink: str) -> str:
    """An exemplar program ending in ``answer(x)`` (the value channel) or ``print(x)``."""
    return code if sink == "answer" else code.replace("answer(", "print(")


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


def direct(problem: Problem, style: str) -> Messages:
    """Ask for the answer alone."""
    if style == "completion":
        shots = "".join(f"Question: {q}\nAnswer: {a}\n\n" for q, _, a, _ in _SHOTS)
        return [{"role": "user", "content": f"{shots}Question: {_question(problem)}\nAnswer:"}]
    return [{"role": "user", "content": f"{_question(problem)}\n\nReply with only 'Answer: <answer>'."}]


def reason(problem: Problem, style: str, plan: str | None = None) -> Messages:
    """Ask for one line of reasoning that ends in an answer."""
    question = _with_plan(_question(problem), plan)
    if style == "completion":
        shots = "".join(f"Question: {q}\nReasoning: {r} The answer is {a}.\n\n" for q, r, a, _ in _SHOTS)
        return [{"role": "user", "content": f"{shots}Question: {question}\nReasoning:"}]
    if style == "reasoning":
        return [{"role": "user", "content": f"{question}\n\n{ANSWER_FORMAT}"}]
    return [
        {"role": "system", "content": f"Solve the problem. Think step by step. {ANSWER_FORMAT}"},
        {"role": "user", "content": question},
    ]


def code(problem: Problem, style: str, plan: str | None = None, *,
         sink: str = "answer") -> Messages:
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
    if style == "completion":
        shots = "".join(f"Question: {q}\n```python\n{_program(c, sink)}\n```\n\n"
                        for q, _, _, c in _SHOTS)
        return [{"role": "user", "content": f"{shots}Question: {question}\n```python\n"}]
    finish = ("passes the final answer to answer(x) (a function that is already defined; do "
              "not print it)" if sink == "answer" else "prints only the final answer")
    return [{"role": "user", "content": (
        f"Write a short Python program that computes the answer to this problem and {finish}. "
        "Reply with one ```python block.\n\n" + question)}]


def step(problem: Problem, partial: str) -> Messages:
    """Continue a program-of-thought one line at a time (beam search, completion style)."""
    messages = code(problem, "completion", sink="print")
    return [{"role": "user", "content": messages[0]["content"] + partial}]


def plan(problem: Problem, style: str) -> Messages:
    """Ask for a short numbered plan, without solving."""
    if style == "completion":
        return [{"role": "user", "content": (
            f"Question: {_question(problem)}\nA short plan to solve it:\n1.")}]
    return [{"role": "user", "content": (
        "Write a short numbered plan (at most 4 steps) for solving this problem. Do not solve "
        f"it.\n\n{_question(problem)}")}]
