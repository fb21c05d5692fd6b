"""Arithmetic word problems of graded difficulty (1, 2 or 3 steps), generated from a seed.

Every problem has a known integer answer, so accuracy needs no grader beyond equality, and
difficulty is one knob: the number of operations chained on one running quantity. The same
seed always gives the same problems (a fixed benchmark set, no file to ship).

Two splits keep tuning and evaluation apart:

* ``tune`` (the default): seeds 0–9 (:data:`TUNING_SEEDS`). Everything ponder's defaults and
  exemplars were chosen on came from here (the benchmark sets of ``benchmarks/README.md``
  before the evaluation split existed are seeds 0 and 1).
* ``eval``: problems drawn from a separate random stream, any seed, with every question that
  also occurs in the first :data:`TUNING_N` problems of a tuning seed dropped, so an
  evaluation set never repeats a tuning question. Claims about defaults are made here.

    from arith import generate
    problems = generate(steps=2, n=10, seed=0)                  # tuning problems
    held_out = generate(steps=1, n=200, seed=0, split="eval")   # fresh evaluation problems

    python benchmarks/arith.py --steps 3 --n 5                  # JSON lines for `ponder batch`
    python benchmarks/arith.py --steps 1 --n 200 --split eval
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


TUNING_SEEDS = range(10)
TUNING_N = 300  # an evaluation set avoids every question of this many problems per tuning seed


def _draw(steps: int, n: int, stream: str, skip: frozenset[str] = frozenset()) -> list[tuple[str, int]]:
    """``n`` (question, answer) pairs from the named random stream, none of them in ``skip``."""
    rng, out, seen = random.Random(stream), [], set(skip)
    while len(out) < n:
        question, answer = make_problem(steps, rng)
        if question not in seen:
            seen.add(question)
            out.append((question, answer))
    return out


def _tuning_questions(steps: int) -> frozenset[str]:
    return frozenset(question for seed in TUNING_SEEDS
                     for question, _ in _tuning_stream(steps, TUNING_N, seed))


def _tuning_stream(steps: int, n: int, seed: int) -> list[tuple[str, int]]:
    rng = random.Random(f"ponder-arith-{seed}-{steps}")
    return [make_problem(steps, rng) for _ in range(n)]


def generate(steps: int, n: int, seed: int = 0, split: str = "tune") -> list[Problem]:
    """``n`` problems of ``steps`` operations each (1, 2 or 3), the same for the same seed.

    ``split="eval"`` draws held-out problems that no tuning set contains (module doc).
    """
    if steps not in (1, 2, 3):
        raise ValueError(f"steps must be 1, 2 or 3, not {steps}")
    if split == "tune":
        pairs, prefix = _tuning_stream(steps, n, seed), f"arith{steps}"
    elif split == "eval":
        pairs = _draw(steps, n, f"ponder-arith-eval-{seed}-{steps}", _tuning_questions(steps))
        prefix = f"arith{steps}-eval{seed}"
    else:
        raise ValueError(f"split must be 'tune' or 'eval', not {split!r}")
    return [Problem(id=f"{prefix}-{i}", question=question, reference=str(answer),
                    meta={"steps": steps, "seed": seed, "split": split})
            for i, (question, answer) in enumerate(pairs)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=1, choices=[1, 2, 3])
    parser.add_argument("--n", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", choices=["tune", "eval"], default="tune",
                        help="tuning problems, or held-out evaluation problems (module doc)")
    args = parser.parse_args(argv)
    for p in generate(args.steps, args.n, args.seed, args.split):
        sys.stdout.write(json.dumps({"id": p.id, "question": p.question, "answer": p.reference}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
