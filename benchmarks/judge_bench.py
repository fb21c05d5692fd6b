"""The judge: what a verifier model buys over voting, on a stand-in and on the embedded models.

**Stand-in (fast, scripted).** Generated arithmetic problems (``arith.py``). A scripted
proposer answers each sample right with probability ``--right`` (0.35); otherwise it makes the
*same* slip (answer + 1) with probability ``--common`` (0.3) — so the majority is often wrong —
or a scattered one. A scripted judge that knows the answers scores a right candidate (or a
right step) 0.8 and a wrong one 0.2, plus Gaussian noise of ``--noise`` (σ, default 0.3),
clipped to [0, 1], as a strict ``Score:`` line. Every strategy runs for real (graph, vote,
sandbox, judge calls metered); tokens are scripted words (prompt + completion, judge included).

* ``self-consistency`` (all N samples, no early stop) vs ``best-of-n`` (the judge picks) vs
  ``best-of-n --set pick=weighted`` (a vote weighted by judge scores), at N = 4, 8 (16 with
  ``--n 4,8,16``);
* ``beam`` scored by the proposer's log-probabilities vs by the judge. The scripted proposer's
  log-probabilities are all equal, i.e. carry no information — as for a provider without them.

**Embedded judges alone.** ``--judge-alone K`` 1-step problems: each embedded model, as the
judge, scores the right final answer and a wrong one (right + 1); how often it scores the right
one higher, its mean scores, how often it gave no score.

**Embedded (bounded).** ``--embedded K`` problems (1-step arithmetic) solved by ``best-of-n``
at N = 4 with the defaults (proposer Gemma-3-270M, judge SmolLM2-135M reading Yes/No
log-probabilities); majority, judge pick and weighted vote are compared *on the same samples*,
with the judge's discrimination: mean score of right vs wrong branches, how often it ranks a
right branch above a wrong one (pairwise AUC), and how often it gave no score.

    python benchmarks/judge_bench.py                       # stand-in: 24 problems; embedded
    python benchmarks/judge_bench.py --problems 0 --judge-alone 12 --embedded 1   # embedded only
    python benchmarks/judge_bench.py --embedded 0 --noise 0.5
    python benchmarks/judge_bench.py --smoke
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from arith import generate  # noqa: E402

import ponder  # noqa: E402
from ponder.agents import voter  # noqa: E402
from ponder.config import RoleConfig, SolveOptions, load_config  # noqa: E402
from ponder.models import ModelClient  # noqa: E402
from ponder.sandbox import make_sandbox  # noqa: E402
from ponder.scripted import register_script  # noqa: E402
from ponder.store import Store  # noqa: E402
from ponder.types import Problem, Result  # noqa: E402

WORLD: dict[str, Any] = {"refs": {}, "right": 0.35, "common": 0.3, "noise": 0.3}


def _question(text: str) -> str:
    return next((q for q in WORLD["refs"] if q in text), "")


def proposed(question: str, index: int) -> int:
    """Sample ``index``'s answer: right, the common slip, or a scattered one."""
    ref = WORLD["refs"][question]
    rng = random.Random(f"{question}|{index}")
    u = rng.random()
    if u < WORLD["right"]:
        return ref
    if u < WORLD["right"] + WORLD["common"]:
        return ref + 1
    return ref + rng.choice([-3, -2, 2, 5, 10]) if ref else 7


def proposer(messages: list[dict[str, str]], index: int) -> str:
    prompt = messages[-1]["content"]
    question = _question(prompt)
    if "Program so far" in prompt:
        partial = prompt.split("Program so far", 1)[1]
        return "print(x)" if "x = " in partial else f"x = {proposed(question, index)}"
    if "python" in prompt.lower() or "program" in prompt.lower():
        return f"```python\nanswer({proposed(question, index)})\n```"
    return f"I work it out step by step. The answer is {proposed(question, index)}."


def judge_script(messages: list[dict[str, str]], index: int) -> str:
    """A judge that knows the answers, with noise: 'Score: s'."""
    prompt = messages[-1]["content"]
    ref = WORLD["refs"].get(_question(prompt))
    shown = prompt.rsplit("Proposed", 1)[-1]
    if "next line" in shown:  # process: the value the program so far (or this line) sets
        values = re.findall(r"x = (-?\d+)", prompt)
    else:
        values = re.findall(r"Final answer: (-?\d+)", shown)
    right = bool(values) and ref is not None and int(values[-1]) == ref
    noise = random.Random(prompt).gauss(0.0, WORLD["noise"])
    return f"Checked.\nScore: {min(1.0, max(0.0, (0.8 if right else 0.2) + noise)):.2f}"


def stand_in_config(store: Path) -> Any:
    solver, judge = register_script("bench-proposer", proposer), register_script("bench-judge",
                                                                                  judge_script)
    return load_config(None, store=store, roles={
        "reasoner": RoleConfig(model=solver), "standard": RoleConfig(model=solver),
        "judge": RoleConfig(model=judge, style="reasoning")})


def setups(sizes: list[int]) -> list[tuple[str, str, int, dict[str, Any]]]:
    """(label, strategy, N, options) for the stand-in."""
    out = []
    for n in sizes:
        out += [("self-consistency", "self-consistency", n, {"early_stop": False}),
                ("best-of-n (judge picks)", "best-of-n", n, {}),
                ("weighted vote (best-of-n, pick=weighted)", "best-of-n", n, {"pick": "weighted"})]
    beam = {"beam_width": 2, "beam_expand": 4, "beam_depth": 3}
    out += [("beam, log-prob scorer", "beam", 0, {**beam, "beam_scorer": "logprob"}),
            ("beam, judge scorer", "beam", 0, {**beam, "beam_scorer": "judge"})]
    return out


def judge_tokens(store: Store, result: Result) -> int:
    return sum(e.usage.total_tokens for e in store.events(result.run_id) if e.node == "judge")


async def stand_in(problems: list[Problem], sizes: list[int]) -> str:
    WORLD["refs"] = {p.question: int(p.reference) for p in problems}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = stand_in_config(Path(tmp) / "bench.db")
        store, models, sandbox = Store(cfg.store), ModelClient(cfg), make_sandbox(cfg.sandbox)
        rows = ["| setup | N | accuracy | tokens/problem | of which judge | calls/problem |",
                "|---|---|---|---|---|---|"]
        for label, strategy, n, fields in setups(sizes):
            right = tokens = judged = calls = 0
            for problem in problems:
                options = {k: v for k, v in fields.items() if k in SolveOptions.model_fields}
                own = {k: v for k, v in fields.items() if k not in options}
                result = await ponder.asolve(problem, strategy, config=cfg, store=store,
                                             models=models, sandbox=sandbox, seed=0,
                                             samples=max(n, 1), **options, **own)
                right += bool(result.correct)
                tokens += result.usage.total_tokens
                judged += judge_tokens(store, result)
                calls += result.usage.calls
            k = len(problems)
            shape = str(n) if n else f"{fields['beam_width']}×{fields['beam_expand']}"
            rows.append(f"| {label} | {shape} | {right / k:.0%} ({right}/{k}) | {tokens / k:.0f} | "
                        f"{judged / k:.0f} | {calls / k:.1f} |")
    return "\n".join(rows)


def _auc(right: list[float], wrong: list[float]) -> float | None:
    pairs = [(r > w) + 0.5 * (r == w) for r in right for w in wrong]
    return sum(pairs) / len(pairs) if pairs else None


def _picks(result: Result, reference: str) -> dict[str, bool]:
    """Majority, judge pick and weighted vote over the same branches: right or not."""
    branches = [b for b in result.branches if b.answer is not None]
    kind = "math"
    majority, _ = voter.decide(voter.tally(branches, kind))
    scored = [b.rewards["judge"] for b in branches if "judge" in b.rewards]
    mean = sum(scored) / len(scored) if scored else 1.0
    weighted, _ = voter.decide(voter.tally(
        branches, kind, scale=lambda b: b.rewards.get("judge", mean)))
    ok = lambda answer: answer is not None and ponder.answers.is_correct(answer, reference, kind)
    return {"majority": ok(majority), "judge": bool(result.correct), "weighted": ok(weighted),
            "any": any(ok(b.answer) for b in branches)}


async def embedded(k: int, n: int, minutes: float) -> str:
    problems = generate(steps=1, n=k, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(None, store=Path(tmp) / "emb.db")
        store, models, sandbox = Store(cfg.store), ModelClient(cfg), make_sandbox(cfg.sandbox)
        wins = {"majority": 0, "judge": 0, "weighted": 0, "any": 0}
        right_scores, wrong_scores, unscored, answered, tokens, judged, done = [], [], 0, 0, 0, 0, 0
        started = time.time()
        for problem in problems:
            if time.time() - started > minutes * 60:
                break
            result = await ponder.asolve(problem, "best-of-n", samples=n, seed=0, config=cfg,
                                         store=store, models=models, sandbox=sandbox)
            done += 1
            for name, ok in _picks(result, problem.reference or "").items():
                wins[name] += ok
            for b in (b for b in result.branches if b.answer is not None):
                answered += 1
                if "judge" not in b.rewards:
                    unscored += 1
                elif ponder.answers.is_correct(b.answer, problem.reference, "math"):
                    right_scores.append(b.rewards["judge"])
                else:
                    wrong_scores.append(b.rewards["judge"])
            tokens += result.usage.total_tokens
            judged += judge_tokens(store, result)
        wall = time.time() - started
    if not done:
        return "no embedded problem finished within the time limit"
    mean = lambda xs: f"{sum(xs) / len(xs):.2f} ({len(xs)})" if xs else "n/a"
    auc = _auc(right_scores, wrong_scores)
    return "\n".join([
        f"{done} problems, N = {n}, {wall:.0f} s; tokens/problem {tokens / done:.0f} "
        f"(judge {judged / done:.0f})", "",
        "| pick over the same samples | accuracy |", "|---|---|",
        *[f"| {name} | {wins[name]}/{done} |" for name in ("majority", "judge", "weighted", "any")],
        "", "| judge | value |", "|---|---|",
        f"| mean score, right branches | {mean(right_scores)} |",
        f"| mean score, wrong branches | {mean(wrong_scores)} |",
        f"| P(right scored above wrong) | {'n/a' if auc is None else f'{auc:.2f}'} |",
        f"| no score | {unscored}/{answered} |"])


async def judge_alone(k: int) -> str:
    """Each embedded model as the judge of a right and a wrong final answer per problem."""
    from ponder.agents.deps import Deps
    from ponder.agents.judge import judge

    problems = generate(steps=1, n=k, seed=1)
    rows = ["| judge | way | right scored above wrong | mean score right / wrong | no score | s/call |",
            "|---|---|---|---|---|---|"]
    for model in ("local/smollm2-135m", "local/gemma-3-270m"):
        cfg = load_config(None).with_models(judge=model)
        deps = Deps(models=ModelClient(cfg), options=SolveOptions(seed=0))
        right, wrong, unscored, how, started = [], [], 0, set(), time.time()
        for problem in problems:
            ref = int(problem.reference or 0)
            pair = await judge(deps, problem, [f"Final answer: {ref}", f"Final answer: {ref + 1}"],
                               mode="outcome")
            unscored += sum(j.score is None for j in pair)
            how |= {j.how for j in pair if j.how}
            if all(j.score is not None for j in pair):
                right.append(pair[0].score)
                wrong.append(pair[1].score)
        wins = sum((r > w) + 0.5 * (r == w) for r, w in zip(right, wrong))
        mean = lambda xs: f"{sum(xs) / len(xs):.2f}" if xs else "n/a"
        rows.append(f"| {model} | {', '.join(sorted(how)) or '-'} | {wins:g}/{len(right)} | "
                    f"{mean(right)} / {mean(wrong)} | {unscored}/{2 * k} | "
                    f"{(time.time() - started) / (2 * k):.1f} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=24, help="stand-in problems (1- and 2-step)")
    parser.add_argument("--n", default="4,8", help="sample counts (e.g. 4,8,16)")
    parser.add_argument("--noise", type=float, default=0.3, help="σ of the stand-in judge's noise")
    parser.add_argument("--right", type=float, default=0.35, help="stand-in P(right sample)")
    parser.add_argument("--common", type=float, default=0.3, help="stand-in P(the common slip)")
    parser.add_argument("--embedded", type=int, default=1,
                        help="embedded best-of-n problems (0: skip)")
    parser.add_argument("--judge-alone", type=int, default=12,
                        help="problems whose right and wrong answers each embedded judge scores")
    parser.add_argument("--embedded-n", type=int, default=4)
    parser.add_argument("--embedded-minutes", type=float, default=2.0,
                        help="start no embedded solve after this long")
    parser.add_argument("--smoke", action="store_true", help="3 stand-in problems, N = 4, no embedded")
    args = parser.parse_args(argv)
    WORLD.update(right=args.right, common=args.common, noise=args.noise)
    sizes = [4] if args.smoke else [int(x) for x in args.n.split(",")]
    count = 3 if args.smoke else args.problems
    problems = (generate(steps=1, n=(count + 1) // 2, seed=0)
                + generate(steps=2, n=count // 2, seed=0)) if count else []
    started = time.time()
    if problems:
        print(f"## Stand-in judge (σ = {args.noise}, P(right) = {args.right}, "
              f"P(common slip) = {args.common}), {len(problems)} problems\n")
        print(asyncio.run(stand_in(problems, sizes)))
        print(f"\n({time.time() - started:.0f} s)")
    if args.judge_alone and not args.smoke:
        print(f"\n## Embedded judges alone: a right and a wrong final answer, "
              f"{args.judge_alone} problems\n")
        print(asyncio.run(judge_alone(args.judge_alone)))
    if args.embedded and not args.smoke:
        print("\n## Embedded best-of-n: judge local/smollm2-135m, proposer local/gemma-3-270m\n")
        print(asyncio.run(embedded(args.embedded, args.embedded_n, args.embedded_minutes)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
