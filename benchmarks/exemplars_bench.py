"""Which few-shot exemplars help ``pot`` on two-step word problems: the old one-step ones,
the built-in one-to-three-step ones, or demos bootstrapped from a one-step run (``--demos``).

Steps, all through ``run_batch`` (the path ``ponder batch`` takes) into one fresh store:
1. ``pot`` solves generated one-step problems (``arith.py``): the *source run*;
2. ``pot`` solves the held-out two-step set (``data/two_step.jsonl``) three times, with the
   same seed and samples: (a) the four one-operation exemplars ponder shipped first
   (3 + 4, 5 × 6, 20 − 8, 12 / 4), passed as demos; (b) the built-in exemplars (no demos);
   (c) the source run's verified-correct programs, the nearest four per problem.

    python benchmarks/exemplars_bench.py                      # 30 two-step, 30 one-step, N=4
    python benchmarks/exemplars_bench.py --two-step 10 --samples 2
    python benchmarks/exemplars_bench.py --smoke              # 1 two-step problem, 1 sample

Prints a table (accuracy, problems with any correct sample, tokens per problem) and writes
it to ``results/exemplars.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from arith import generate  # noqa: E402

from ponder.agents.demos import demos_from_run  # noqa: E402
from ponder.config import Demo, load_config  # noqa: E402
from ponder.errors import ConfigError  # noqa: E402
from ponder.eval.datasets import DatasetSpec  # noqa: E402
from ponder.graphs.batch import BatchSettings, run_batch  # noqa: E402
from ponder.models import ModelClient  # noqa: E402
from ponder.store import Store  # noqa: E402

HERE = Path(__file__).resolve().parent
TWO_STEP = HERE / "data" / "two_step.jsonl"
RESULTS = HERE / "results"

# The exemplars of ponder's first prompts (git history of agents/prompts.py): one operation
# each, so they teach one-operation programs (issue 13, item 7).
OLD_ONE_STEP = [
    Demo(question="Sam has 3 apples and buys 4 more. How many apples does he have?", answer="7",
         program="apples = 3 + 4\nanswer(apples)"),
    Demo(question="A box holds 6 eggs. How many eggs are in 5 boxes?", answer="30",
         program="eggs = 5 * 6\nanswer(eggs)"),
    Demo(question="Mia had 20 dollars and spent 8 dollars. How many dollars does she have left?",
         answer="12", program="left = 20 - 8\nanswer(left)"),
    Demo(question="A pizza is cut into 12 slices shared equally by 4 friends. How many slices "
         "does each get?", answer="3", program="slices = 12 // 4\nanswer(slices)"),
]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def two_step_set(n: int, folder: Path) -> Path:
    rows = [json.loads(line) for line in TWO_STEP.read_text().splitlines() if line.strip()]
    return write_jsonl(folder / "two_step.jsonl", rows[:n])


def one_step_set(n: int, seed: int, folder: Path) -> Path:
    return write_jsonl(folder / "one_step.jsonl", [
        {"id": p.id, "question": p.question, "answer": p.reference} for p in generate(1, n, seed)])


async def batch(data: Path, run: str, args: argparse.Namespace, config: Any, models: Any,
                demos: list[Demo] | None = None) -> dict[str, Any]:
    """One ``pot`` batch run; its accuracy and tokens per problem from the store."""
    started = time.perf_counter()
    settings = BatchSettings(strategies=["pot"], samples=args.samples, early_stop=False,
                             seed=args.seed, run=run, demos=demos)
    await run_batch(DatasetSpec(source=str(data)), config, settings, models=models)
    db = Store(config.store)
    results = list(db.iter_results(db.require_run(run).id))
    n = len(results) or 1
    any_right = sum(any(b.rewards.get("accuracy") == 1.0 for b in r.branches) for r in results)
    return {"run": run, "problems": len(results),
            "correct": sum(bool(r.correct) for r in results), "any_correct": any_right,
            "prompt": sum(r.usage.prompt_tokens for r in results) / n,
            "completion": sum(r.usage.completion_tokens for r in results) / n,
            "seconds": time.perf_counter() - started}


def table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    lines = ["| exemplars | accuracy | any sample right | tokens/problem (prompt + completion) | s |",
             "|---|---|---|---|---|"]
    for label, r in rows:
        p = r["problems"] or 1
        lines.append(f"| {label} | {r['correct'] / p:.1%} ({r['correct']}/{r['problems']}) | "
                     f"{r['any_correct']}/{r['problems']} | "
                     f"{r['prompt'] + r['completion']:,.0f} ({r['prompt']:,.0f} + "
                     f"{r['completion']:,.0f}) | {r['seconds']:.0f} |")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> str:
    with tempfile.TemporaryDirectory(prefix="ponder-exemplars-") as tmp:
        folder = Path(tmp)
        config = load_config(args.config, store=folder / "bench.db")
        models = ModelClient(config)  # one client: the embedded model loads once
        source = await batch(one_step_set(args.one_step, args.seed, folder), "one-step", args,
                             config, models)
        try:
            pool = demos_from_run(config.store, "one-step")
        except ConfigError as exc:  # nothing solved (a smoke run): (c) has nothing to show
            print(f"no demos: {exc}", file=sys.stderr)
            pool = []
        data = two_step_set(args.two_step, folder)
        rows = [("(a) old one-step exemplars", await batch(data, "old", args, config, models,
                                                           OLD_ONE_STEP)),
                ("(b) built-in 1–3 step exemplars", await batch(data, "builtin", args, config,
                                                                models))]
        if pool:
            rows.append((f"(c) --demos one-step run ({len(pool)} demos, nearest 4)",
                         await batch(data, "demos", args, config, models, pool)))
    head = (f"pot, {args.samples} samples (no early stop), seed {args.seed}, "
            f"{rows[0][1]['problems']} two-step problems; source run: pot on "
            f"{source['problems']} one-step problems, {source['correct']} right, "
            f"{len(pool)} verified-correct programs.")
    return head + "\n\n" + table(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--two-step", type=int, default=30, help="two-step problems (max 30)")
    parser.add_argument("--one-step", type=int, default=30, help="one-step source problems")
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--config", type=Path, help="ponder.toml (default: the embedded models)")
    parser.add_argument("--smoke", action="store_true", help="1 two-step problem, 1 sample")
    args = parser.parse_args(argv)
    if args.smoke:
        args.two_step, args.one_step, args.samples = 1, 3, 1
    report = asyncio.run(main_async(args))
    print(report)
    if not args.smoke:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "exemplars.md").write_text(report + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
