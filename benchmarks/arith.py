"""Arithmetic word problems of graded difficulty (1, 2 or 3 steps), generated from a seed.

Every problem has a known integer answer, so accuracy needs no grader beyond equality, and
difficulty is one knob: the number of operations chained on one running quantity. The same
seed always gives the same problems (a fixed benchmark set, no file to ship).

    from arith import generate
    problems = generate(steps=2, n=10, seed=0)      # ponder Problems with references

    python benchmarks/arith.py --steps 3 --n 5      # JSON lines for `ponder batch`
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass

from ponder.types import Problem

NAMES = ["Sam", "Mia", "Leo", "Ava", "Noah", "Zoe", "Omar", "Lena", "Ravi", "Emma", "Jack", "Ines"]
ITEMS = ["apples", "marbles", "stickers", "pencils", "cookies", "stamps", "shells", "cards"]


@dataclass(frozen=True)
class Step:
    """One arithmetic operation applied to the running quantity, with its sentence."""

    text: str
    apply: Callable[[int], int]


def _add(rng: random.Random, q: int, item: str, who: str) -> Step:
    b = rng.randint(2, 20)
    return Step(rng.choice([f"Then {who} gets {b} more {item}.", f"Then {who} finds {b} more {item}."]),
                lambda x: x + b)


def _sub(rng: random.Random, q: int, item: str, who: str) -> Step | None:
    if q < 3:
        return None
    b = rng.randint(1, min(q - 1, 20))
    return Step(rng.choice([f"Then {who} gives {b} {item} to a friend.", f"Then {who} loses {b} {item}."]),
                lambda x: x - b)


def _mul(rng: random.Random, q: int, item: str, who: str) -> Step | None:
    if q > 60:
        return None
    k = rng.randint(2, 4)
    return Step(f"Then the number of {item} {who} has becomes {k} times as large.", lambda x: x * k)


def _div(rng: random.Random, q: int, item: str, who: str) -> Step | None:
    ks = [k for k in (2, 3, 4, 5) if q % k == 0 and q // k >= 1]
    if not ks:
        return None
    k = rng.choice(ks)
    return Step(f"Then {who} splits the {item} equally into {k} bags and keeps only one bag.",
                lambda x: x // k)


OPS = [_add, _sub, _mul, _div]


def _one_step(rng: random.Random, name: str, item: str) -> tuple[str, int]:
    """A single-operation problem in the style of the few-shot examples."""
    a, b = rng.randint(2, 30), rng.randint(2, 12)
    kind = rng.choice(["add", "sub", "mul", "div"])
    if kind == "add":
        return f"{name} has {a} {item} and gets {b} more. How many {item} does {name} have?", a + b
    if kind == "sub":
        a = a + b
        return (f"{name} had {a} {item} and gave away {b}. How many {item} does {name} have left?",
                a - b)
    if kind == "mul":
        return f"A bag holds {b} {item}. How many {item} are in {a % 9 + 2} bags?", b * (a % 9 + 2)
    return (f"{name} shares {a * b} {item} equally among {b} friends. "
            f"How many {item} does each friend get?", a)


def make_problem(steps: int, rng: random.Random) -> tuple[str, int]:
    """One problem with ``steps`` operations and its answer."""
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    if steps == 1:
        return _one_step(rng, name, item)
    q = rng.randint(3, 30)
    sentences = [f"{name} has {q} {item}."]
    for _ in range(steps):
        step = None
        while step is None:
            step = rng.choice(OPS)(rng, q, item, name)
        q = step.apply(q)
        sentences.append(step.text)
    return " ".join(sentences) + f" How many {item} does {name} have now?", q


def generate(steps: int, n: int, seed: int = 0) -> list[Problem]:
    """``n`` problems of ``steps`` operations each (1, 2 or 3), the same for the same seed."""
    if steps not in (1, 2, 3):
        raise ValueError(f"steps must be 1, 2 or 3, not {steps}")
    rng = random.Random(f"ponder-arith-{seed}-{steps}")
    problems = []
    for i in range(n):
        question, answer = make_problem(steps, rng)
        problems.append(Problem(id=f"arith{steps}-{i}", question=question, reference=str(answer),
                                meta={"steps": steps, "seed": seed}))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1, choices=[1, 2, 3])
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for p in generate(args.steps, args.n, args.seed):
        sys.stdout.write(json.dumps({"id": p.id, "question": p.question, "answer": p.reference}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
