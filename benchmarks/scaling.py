"""Accuracy against tokens for every strategy, on graded arithmetic and a GSM8K subset.

Each strategy configuration solves the same problems with the same models; configurations
take turns on each problem (the order rotates), so machine noise lands on all of them alike.
Writes a table per dataset to stdout and ``<out>/<name>.md``, one row per solve to
``<out>/<name>.jsonl`` and accuracy against mean tokens to ``<out>/<name>.png``.

    python benchmarks/scaling.py                        # default set (~20 min on 2 cores)
    python benchmarks/scaling.py --arith 20 --gsm8k 20  # larger
    python benchmarks/scaling.py --levels 1 --arith 24 --gsm8k 0 --only sc-8,early-8,pot-8
    python benchmarks/scaling.py --replot benchmarks/results/scaling.jsonl   # tables + plot again
    python benchmarks/scaling.py --smoke                # 2 problems, 2 strategies (<1 min)
    python benchmarks/scaling.py --levels 1,2 --arith 20 --gsm8k 0 --only stops --cache
                                                        # fixed N vs stop rules, N = 8 and 16
    python benchmarks/scaling.py --levels 1 --arith 30 --gsm8k 0 --only checked --cache
                                                        # pot vs verified vs checked, N = 4
    python benchmarks/scaling.py --split eval --levels 1 --arith 30 --gsm8k 0 --seeds 0,1,2 \
        --only evidence --cache --baseline pot-4        # held out, 3 seeds, paired Δ with intervals

Every setup samples with the same seed, so a stopped run draws a prefix of the samples its
fixed-N counterpart draws. ``--seed`` picks the problem set (``--split eval``: the held-out
evaluation problems of ``arith.py``, never a tuning question) and, unless ``--seeds`` lists
sampling seeds, the sampling seed too; with ``--seeds`` every problem is solved once per seed
and per setup, and the tables add Wilson 95% intervals and paired differences against
``--baseline`` (``stats.py``: bootstrap over problems, McNemar). ``--cache`` shares one
response cache between setups: each distinct sample is drawn once and every setup still runs
its whole graph (tokens are counted as if sampled; latencies are then not comparable, so the
stop table leaves them out). The setups and their groups are in ``setups.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from arith import generate  # noqa: E402
from setups import ALIASES, DEFAULT, GROUPS, SETUPS, SMOKE, Setup  # noqa: E402

from ponder.answers import reference_from_gsm8k  # noqa: E402
from ponder.config import Config, load_config  # noqa: E402
from ponder.types import Problem  # noqa: E402

GSM8K = Path("/work/shared/data/gsm8k_test.jsonl")
RESULTS = Path(__file__).resolve().parent / "results"



def gsm8k_problems(path: Path, n: int) -> list[Problem]:
    """The first ``n`` GSM8K test problems, with their references."""
    problems = []
    with path.open() as fh:
        for i, line in zip(range(n), fh):
            row = json.loads(line)
            problems.append(Problem(id=f"gsm8k-{i}", question=row["question"],
                                    reference=reference_from_gsm8k(row["answer"]),
                                    meta={"dataset": "gsm8k"}))
    return problems


def datasets(args: argparse.Namespace) -> dict[str, list[Problem]]:
    sets = {f"arith-{s}step": generate(s, args.arith, args.seed, args.split) for s in args.levels}
    if args.gsm8k:
        sets["gsm8k"] = gsm8k_problems(args.data, args.gsm8k)
    return {name: probs for name, probs in sets.items() if probs}


async def run(config: Config, setups: list[Setup], sets: dict[str, list[Problem]],
              log: Path, meta: dict[str, Any], seeds: list[int],
              cache: Path | None = None, seedless: bool = False) -> list[dict[str, Any]]:
    """Solve every problem with every setup and sampling seed, rotating the setups' order.

    Problems are the outer loop, so a run cut short still has every seed of the problems
    it finished (complete pairs for the paired comparison). ``cache`` (``X.db``) becomes one
    response cache per sampling seed (``X-seed0.db``...), one file per seed to keep caches
    small and separable (a cache key includes the seed since 2026-12-03; caches written
    before were keyed without it and are missed, unless ``seedless`` keys these per-seed
    files the old way, which is unambiguous within one seed's file)."""
    from ponder import models as model_client
    from ponder.cache import ResponseCache
    from ponder.graphs.api import build_graph
    from ponder.graphs.registry import get_strategy
    from ponder.models import ModelClient
    from ponder.sandbox import make_sandbox

    if seedless:
        model_client.request_key = seedless_key  # type: ignore[assignment]
    models = ModelClient(config)
    caches = {seed: ResponseCache(cache.with_name(f"{cache.stem}-seed{seed}{cache.suffix}"))
              for seed in seeds} if cache else {}
    needs_box = any(get_strategy(s.strategy).runs_code for s in setups)
    sandbox = make_sandbox(config.sandbox) if needs_box else None
    graphs = {(s.key, seed): build_graph(s.strategy, config,
                                         options=setup_options(s, config, seed=seed),
                                         models=models, sandbox=sandbox, run_id=f"bench-{s.key}")
              for s in setups for seed in seeds}
    await warm_up(models, setups)
    rows: list[dict[str, Any]] = []
    todo = [(name, p, seed) for name, probs in sets.items() for p in probs for seed in seeds]
    with log.open("w") as out:
        out.write(json.dumps({"meta": meta}) + "\n")
        for i, (name, problem, seed) in enumerate(todo):
            order = setups[i % len(setups):] + setups[: i % len(setups)]
            if caches:
                models.cache = caches[seed]  # solves run one at a time
            for setup in order:
                row = {**await solve_one(graphs[setup.key, seed], setup, name, problem), "seed": seed}
                rows.append(row)
                out.write(json.dumps(row) + "\n")
                out.flush()
            done = sum(r["correct"] for r in rows[-len(setups):])
            print(f"[{i + 1}/{len(todo)}] {problem.id} seed {seed}: {done}/{len(setups)} setups right",
                  file=sys.stderr, flush=True)
    return rows


def seedless_key(request: dict[str, Any], index: int, seed: int = 0) -> str:
    """A response cache key as written before 2026-12-03: the request and sample index only."""
    from ponder.cache import request_key

    return request_key(request, index, None)


def setup_options(setup: Setup, config: Config, **fields: Any) -> Any:
    """The setup's solve options: shared ones, and the strategy's own settings."""
    from ponder.graphs.api import options_for

    return options_for(config, **{**setup.options, **fields})


async def warm_up(models: Any, setups: list[Setup]) -> None:
    """Load the models before the clock starts (the first call pays for reading the weights)."""
    from ponder.graphs.registry import get_strategy

    roles: set[str] = set()
    for setup in setups:
        spec = get_strategy(setup.strategy)
        options = setup_options(setup, models.config)
        roles |= set(spec.roles(options, spec.settings_from(options)))
    for role in sorted(roles):
        await models.acomplete(role, "Question: 1 + 1?\nAnswer:", max_tokens=1)


async def solve_one(graph: Any, setup: Setup, dataset: str, problem: Problem) -> dict[str, Any]:
    started = time.perf_counter()
    row: dict[str, Any] = {"setup": setup.key, "dataset": dataset, "problem": problem.id,
                           "reference": problem.reference}
    try:
        result = (await graph.ainvoke({"problem": problem}))["result"]
    except Exception as exc:  # noqa: BLE001 - a benchmark counts failures, it doesn't stop
        return {**row, "correct": False, "answer": None, "tokens": 0, "samples": 0,
                "latency_s": time.perf_counter() - started, "error": f"{type(exc).__name__}: {exc}"}
    return {**row, "correct": bool(result.correct), "answer": result.answer,
            "tokens": result.usage.total_tokens, "samples": result.samples_used,
            "calls": result.usage.calls, "latency_s": time.perf_counter() - started,
            "stopped": result.stopped, "error": None,
            # branches that reasoned in prose (a cross-check), not only wrote a program
            "reasoned": sum(bool(b.text) for b in result.branches),
            # how far the samples agree: the winner's branches of those that gave an answer
            "agree": result.confidence_parts.get("agree", 0),
            "counted": result.confidence_parts.get("counted", 0)}


from scaling_report import plot, report, summarise  # noqa: E402


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gsm8k", type=int, default=4, help="first N GSM8K test problems")
    parser.add_argument("--arith", type=int, default=4, help="generated problems per level")
    parser.add_argument("--levels", default="1,2,3", help="arithmetic levels (steps) to include")
    parser.add_argument("--seed", type=int, default=0, help="seed of the arithmetic set")
    parser.add_argument("--split", choices=["tune", "eval"], default="tune",
                        help="arithmetic problems from the tuning or the evaluation split (arith.py)")
    parser.add_argument("--seeds", help="comma-separated sampling seeds (default: --seed)")
    parser.add_argument("--baseline", help="setup to compare every other with, paired")
    parser.add_argument("--only", help=f"comma-separated setups or groups ({', '.join(GROUPS)}; "
                        f"default: {','.join(DEFAULT)})")
    parser.add_argument("--cache", action="store_true",
                        help="share one response cache between setups (each sample drawn once)")
    parser.add_argument("--cache-file", type=Path,
                        help="keep the shared response caches in FILE-seedK.db (implies --cache); "
                        "a later run with the same FILE replays the samples drawn before")
    parser.add_argument("--seedless-cache", action="store_true",
                        help="key the per-seed caches without the seed, as before 2026-12-03, to "
                        "replay caches written then (each seed has its own file, so no mix-up)")
    parser.add_argument("--data", type=Path, default=GSM8K, help="GSM8K test JSONL")
    parser.add_argument("--out", type=Path, help=f"where the PNG and tables go (default {RESULTS}; "
                        "a temporary folder with --smoke)")
    parser.add_argument("--name", default="scaling", help="file stem of what is written in --out")
    parser.add_argument("--smoke", action="store_true", help="2 problems, 2 strategies")
    parser.add_argument("--replot", type=Path, metavar="JSONL",
                        help="redo the tables and plot from a scaling.jsonl, solving nothing")
    args = parser.parse_args(argv)
    args.levels = [int(x) for x in str(args.levels).split(",") if x]
    args.seeds = [int(x) for x in args.seeds.split(",") if x] if args.seeds else [args.seed]
    if args.smoke:
        args.arith, args.gsm8k, args.levels = 1, 1, [1]
        args.only = args.only or ",".join(SMOKE)
    known = {s.key: s for s in SETUPS}
    keys = args.only.split(",") if args.only else DEFAULT
    keys = [k for key in keys for k in GROUPS.get(key, [ALIASES.get(key, key)])]
    unknown = [k for k in keys if k not in known]
    if unknown:
        parser.error(f"unknown setups {unknown}; choose from {', '.join(known)}")
    args.setups = [s for s in SETUPS if s.key in keys]  # tables in one order, however asked
    if args.gsm8k and not args.replot and not args.data.is_file():
        if not args.smoke:
            parser.error(f"no GSM8K file at {args.data}; pass --data PATH or --gsm8k 0")
        print(f"note: no GSM8K file at {args.data}; smoke run without it", file=sys.stderr)
        args.gsm8k = 0
    args.discard = args.out is None and args.smoke
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="ponder-scaling-")) if args.smoke else RESULTS
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"command": " ".join(["python", "benchmarks/scaling.py", *sys.argv[1:]]),
            "date": time.strftime("%Y-%m-%d"), "cores": os.cpu_count()}
    if args.replot:
        lines = [json.loads(line) for line in args.replot.read_text().splitlines() if line.strip()]
        meta = next((line["meta"] for line in reversed(lines) if "meta" in line), meta)
        rows = [{**line, "setup": ALIASES.get(line["setup"], line["setup"])}
                for line in lines if "meta" not in line]
        seen = {r["setup"] for r in rows}
        args.setups = [s for s in SETUPS if s.key in seen]
    else:
        with tempfile.TemporaryDirectory() as tmp:
            config = load_config(None, store=Path(tmp) / "ponder.db")
            cache = args.cache_file or (Path(tmp) / "responses.db" if args.cache else None)
            started = time.perf_counter()
            log = args.out / f"{args.name}.jsonl"
            rows = asyncio.run(run(config, args.setups, datasets(args), log, meta, args.seeds, cache,
                                  args.seedless_cache))
            meta["minutes"] = round((time.perf_counter() - started) / 60, 1)
            with log.open("a") as out:  # the finished run's meta, with its duration
                out.write(json.dumps({"meta": meta}) + "\n")
    summaries = summarise(rows, args.setups)
    text = report(summaries, meta, rows, args.baseline)
    print(text)
    stem = args.out / args.name
    stem.with_suffix(".md").write_text(text)
    plot(summaries, stem.with_suffix(".png"))
    if args.discard:
        shutil.rmtree(args.out)
        print("smoke run: outputs discarded (pass --out to keep them)")
    else:
        print(f"wrote {stem}.md, {stem}.png" + ("" if args.replot else f", {stem}.jsonl"))
    errors = [r for r in rows if r["error"]]
    if errors:
        print(f"{len(errors)} solves failed; first: {errors[0]['error']}", file=sys.stderr)
    return 1 if errors and len(errors) == len(rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
