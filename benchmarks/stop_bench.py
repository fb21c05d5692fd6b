"""The stop rule on a scripted stand-in whose samples agree on most problems (issue 28).

The embedded models' samples agree too seldom for the adaptive rule to stop early (see
"Stop rules" in README.md), so its calibration targets are measured here on a scripted model
that behaves like a strong one: each generated arithmetic problem (``arith.py``) gets a
difficulty — ``easy`` (a sample is right with probability 0.95), ``medium`` (0.75) or ``hard``
(0.40), in the shares ``--mix`` (default 0.6, 0.25, 0.15) — and a wrong sample makes the
*same* slip (answer + 1) half the time, or a scattered one. A sample's answer depends only on
the problem, the sampling seed and its index, so a stopped run draws a prefix of the samples
its fixed-N counterpart draws. ``self-consistency`` runs for real (graph, parser, vote, stop
rule); tokens are scripted words (prompt + completion).

Compared, on the same problems and seeds (paired): fixed N against the ``adaptive`` rule (the
default) and the ``conservative`` rule, at N = 8 and 16. Every accuracy carries a Wilson 95%
interval and every comparison a paired-bootstrap Δ (``stats.py``).

    python benchmarks/stop_bench.py                        # 200 problems × 3 seeds (~3 min)
    python benchmarks/stop_bench.py --problems 50 --seeds 0 --mix 0.3,0.4,0.3
    python benchmarks/stop_bench.py --smoke                # 6 problems, 1 seed
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from arith import generate  # noqa: E402
from stats import comparison_table, paired, wilson  # noqa: E402

import ponder  # noqa: E402
from ponder.config import RoleConfig, load_config  # noqa: E402
from ponder.models import ModelClient  # noqa: E402
from ponder.scripted import register_script  # noqa: E402
from ponder.store import Store  # noqa: E402
from ponder.types import Problem  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
RIGHT = {"easy": 0.95, "medium": 0.75, "hard": 0.40}
WORLD: dict[str, Any] = {"refs": {}, "level": {}, "seed": 0}


def setups(sizes: list[int]) -> list[tuple[str, int, dict[str, Any]]]:
    """(key, N, options): fixed, conservative and adaptive stopping at each N."""
    out = []
    for n in sizes:
        out += [(f"fixed-{n}", n, {"early_stop": False}),
                (f"cons-{n}", n, {"early_stop": True, "stop_rule": "conservative"}),
                (f"ada-{n}", n, {"early_stop": True, "stop_rule": "adaptive"})]
    return out


def levels(problems: list[Problem], mix: list[float], seed: int) -> dict[str, str]:
    """Each problem's difficulty, drawn once in the shares ``mix`` (easy, medium, hard)."""
    rng = random.Random(f"levels|{seed}")
    return {p.question: rng.choices(list(RIGHT), weights=mix)[0] for p in problems}


def answer(question: str, index: int) -> int:
    """Sample ``index``'s answer under the current sampling seed: right, the slip, or scattered."""
    ref = WORLD["refs"][question]
    rng = random.Random(f"{WORLD['seed']}|{question}|{index}")
    if rng.random() < RIGHT[WORLD["level"][question]]:
        return ref
    if rng.random() < 0.5:
        return ref + 1
    return ref + rng.choice([-3, -2, 2, 5, 10])


def proposer(messages: list[dict[str, str]], index: int) -> str:
    prompt = messages[-1]["content"]
    question = next(q for q in WORLD["refs"] if q in prompt)
    return f"I work it out step by step. The answer is {answer(question, index)}."


async def run(problems: list[Problem], seeds: list[int], sizes: list[int], log: Path,
              meta: dict[str, Any]) -> list[dict[str, Any]]:
    """Every problem, seed and setup; rows written as they come (a cut run is still usable)."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        model = register_script("stop-bench", proposer)
        config = load_config(None, store=Path(tmp) / "bench.db",
                             roles={"reasoner": RoleConfig(model=model),
                                    "standard": RoleConfig(model=model)})
        store, models = Store(config.store), ModelClient(config)
        with log.open("w") as out:
            out.write(json.dumps({"meta": meta}) + "\n")
            for problem in problems:
                for seed in seeds:
                    WORLD["seed"] = seed
                    for key, n, options in setups(sizes):
                        result = await ponder.asolve(problem, "self-consistency", config=config,
                                                     store=store, models=models, seed=seed,
                                                     samples=n, **options)
                        row = {"setup": key, "problem": problem.id, "seed": seed,
                               "level": WORLD["level"][problem.question],
                               "correct": bool(result.correct), "answer": result.answer,
                               "tokens": result.usage.total_tokens,
                               "samples": result.samples_used, "n": n}
                        rows.append(row)
                        out.write(json.dumps(row) + "\n")
                out.flush()
    return rows


def stop_table(rows: list[dict[str, Any]], sizes: list[int]) -> str:
    """Per N: each rule's tokens ratio to fixed N, samples used, how often it stopped early."""
    lines = ["| N | rule | tokens/problem | tokens ratio | samples used | stopped early "
             "| answer changed vs fixed |", "|---|---|---|---|---|---|---|"]
    for n in sizes:
        fixed = {(r["problem"], r["seed"]): r for r in rows if r["setup"] == f"fixed-{n}"}
        base = statistics.fmean(r["tokens"] for r in fixed.values())
        for rule in ("fixed", "cons", "ada"):
            mine = [r for r in rows if r["setup"] == f"{rule}-{n}"]
            tokens = statistics.fmean(r["tokens"] for r in mine)
            changed = sum(r["answer"] != fixed[r["problem"], r["seed"]]["answer"] for r in mine)
            name = {"fixed": "fixed", "cons": "conservative", "ada": "adaptive"}[rule]
            lines.append(f"| {n} | {name} | {tokens:.0f} | {tokens / base:.2f}x "
                         f"| {statistics.fmean(r['samples'] for r in mine):.2f} "
                         f"| {sum(r['samples'] < n for r in mine)}/{len(mine)} "
                         f"| {changed}/{len(mine)} |")
    return "\n".join(lines)


def kept_winner(rows: list[dict[str, Any]], stopped: str, fixed: str, n: int) -> tuple[int, int]:
    """The stop rule's calibration: of the runs of ``stopped`` that stopped before ``n``
    samples, how many answered as the same problem and seed did at the full budget
    (``fixed``), as ``(kept, stopped early)``. The adaptive rule stops when it puts the
    probability that its leader is the full-budget winner at ``stop_threshold`` or more, so
    a calibrated rule keeps at least that share of winners."""
    full = {(r["problem"], r["seed"]): r["answer"] for r in rows if r["setup"] == fixed}
    early = [r for r in rows if r["setup"] == stopped and r["samples"] < n
             and (r["problem"], r["seed"]) in full]
    return sum(r["answer"] == full[r["problem"], r["seed"]] for r in early), len(early)


def calibration_line(label: str, kept: int, early: int, threshold: float = 0.95) -> str:
    """``kept`` of ``early`` with its Wilson interval, against the rule's threshold."""
    if not early:
        return f"- {label}: never stopped early"
    low, high = wilson(kept, early)
    verdict = ("meets" if low >= threshold else "consistent with" if high >= threshold
               else "below")
    return (f"- {label}: kept the full-budget winner in {kept}/{early} early stops "
            f"({kept / early:.1%}, Wilson 95% [{low:.1%}, {high:.1%}]): {verdict} the "
            f"threshold {threshold:.0%}")


def by_level(rows: list[dict[str, Any]], sizes: list[int]) -> str:
    """The adaptive rule per difficulty: samples used and accuracy against fixed N."""
    lines = ["| difficulty | N | pairs | fixed accuracy | adaptive accuracy | adaptive samples used |",
             "|---|---|---|---|---|---|"]
    for level in RIGHT:
        for n in sizes:
            fixed = [r for r in rows if r["setup"] == f"fixed-{n}" and r["level"] == level]
            ada = [r for r in rows if r["setup"] == f"ada-{n}" and r["level"] == level]
            if not fixed:
                continue
            lines.append(f"| {level} ({RIGHT[level]:.2f}) | {n} | {len(fixed)} "
                         f"| {sum(r['correct'] for r in fixed) / len(fixed):.1%} "
                         f"| {sum(r['correct'] for r in ada) / len(ada):.1%} "
                         f"| {statistics.fmean(r['samples'] for r in ada):.2f} |")
    return "\n".join(lines)


def report(rows: list[dict[str, Any]], sizes: list[int], meta: dict[str, Any]) -> str:
    parts = [f"# Stop rules on a scripted stand-in ({meta['command']})", "",
             f"{meta['problems']} problems × {len(meta['seeds'])} seeds, difficulty mix "
             f"(easy, medium, hard) = {meta['mix']}, {meta.get('minutes', '?')} min.", ""]
    for n in sizes:
        keys = [f"fixed-{n}", f"cons-{n}", f"ada-{n}"]
        parts += [f"## N = {n}", "", comparison_table(rows, keys, f"fixed-{n}"), ""]
    parts += ["## Tokens and stopping", "", stop_table(rows, sizes), "",
              "## Calibration: does a stopped run keep the full-budget winner?", ""]
    for n in sizes:
        for rule, name in (("ada", "adaptive"), ("cons", "conservative")):
            kept, early = kept_winner(rows, f"{rule}-{n}", f"fixed-{n}", n)
            parts.append(calibration_line(f"{name}, N = {n}", kept, early))
    parts += ["", "## Adaptive by difficulty", "", by_level(rows, sizes), ""]
    for n in sizes:
        parts.append("- " + paired(rows, f"ada-{n}", f"fixed-{n}").line())
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=200, help="generated problems (1-step)")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated sampling seeds")
    parser.add_argument("--sizes", default="8,16", help="comma-separated sample budgets N")
    parser.add_argument("--mix", default="0.6,0.25,0.15", help="shares of easy, medium, hard")
    parser.add_argument("--split", default="eval", help="arith.py split (tuning or eval)")
    parser.add_argument("--name", default="stops_standin", help="file stem in benchmarks/results")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--smoke", action="store_true", help="6 problems, 1 seed, nothing kept")
    parser.add_argument("--replot", type=Path, metavar="JSONL",
                        help="redo the report from a stored stop_bench JSONL, solving nothing")
    args = parser.parse_args(argv)
    if args.replot:
        lines = [json.loads(line) for line in args.replot.read_text().splitlines() if line.strip()]
        meta = next(line["meta"] for line in lines if "meta" in line)
        rows = [line for line in lines if "meta" not in line]
        sizes = sorted({r["n"] for r in rows})
        text = report(rows, sizes, meta)
        print(text)
        args.replot.with_suffix(".md").write_text(text)
        return 0
    if args.smoke:
        args.problems, args.seeds = 6, "0"
        args.out = Path(tempfile.mkdtemp(prefix="ponder-stops-"))
    seeds = [int(x) for x in args.seeds.split(",") if x]
    sizes = [int(x) for x in args.sizes.split(",") if x]
    mix = [float(x) for x in args.mix.split(",")]
    problems = generate(1, args.problems, 0, args.split)
    WORLD["refs"] = {p.question: int(p.reference) for p in problems}
    WORLD["level"] = levels(problems, mix, 0)
    meta = {"command": " ".join(["python", "benchmarks/stop_bench.py", *(argv or sys.argv[1:])]),
            "problems": len(problems), "seeds": seeds, "mix": mix,
            "date": time.strftime("%Y-%m-%d")}
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rows = asyncio.run(run(problems, seeds, sizes, args.out / f"{args.name}.jsonl", meta))
    meta["minutes"] = round((time.perf_counter() - started) / 60, 1)
    text = report(rows, sizes, meta)
    print(text)
    if args.smoke:
        shutil.rmtree(args.out)
    else:
        (args.out / f"{args.name}.md").write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
