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
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from arith import generate  # noqa: E402
from setups import (ALIASES, CHECK_SETUPS, DEFAULT, GROUPS, MARKERS, SETUPS, SMOKE,  # noqa: E402
                    STOP_SETUPS, Setup)
from stats import accuracy_cell, comparison_table, paired, wilson  # noqa: E402

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
              cache: Path | None = None) -> list[dict[str, Any]]:
    """Solve every problem with every setup and sampling seed, rotating the setups' order.

    Problems are the outer loop, so a run cut short still has every seed of the problems
    it finished (complete pairs for the paired comparison). ``cache`` (``X.db``) becomes one
    response cache per sampling seed (``X-seed0.db``...), one file per seed to keep caches
    small and separable (a cache key includes the seed since 2026-12-03; caches written
    before were keyed without it and are simply missed)."""
    from ponder.cache import ResponseCache
    from ponder.graphs.api import build_graph
    from ponder.graphs.registry import get_strategy
    from ponder.models import ModelClient
    from ponder.sandbox import make_sandbox

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


def summarise(rows: list[dict[str, Any]], setups: list[Setup]) -> dict[str, list[dict[str, Any]]]:
    """Per dataset (and over all), one summary per setup."""
    names = list(dict.fromkeys(r["dataset"] for r in rows))
    groups = {name: [r for r in rows if r["dataset"] == name] for name in names}
    if len(names) > 1:
        groups["all"] = rows
    out = {}
    for name, group in groups.items():
        out[name] = []
        for s in setups:
            mine = [r for r in group if r["setup"] == s.key]
            if not mine:
                continue
            budget = int(s.n.lstrip("≤").split(" ")[0]) if s.n.lstrip("≤")[:1].isdigit() and \
                "+" not in s.n and "×" not in s.n else 0
            out[name].append({
                "setup": s.key, "strategy": s.label, "n": s.n, "problems": len(mine),
                "right": sum(r["correct"] for r in mine),
                "accuracy": sum(r["correct"] for r in mine) / len(mine),
                "tokens": statistics.fmean(r["tokens"] for r in mine),
                "latency_s": statistics.fmean(r["latency_s"] for r in mine),
                "samples": statistics.fmean(r["samples"] for r in mine),
                "early": sum(r["samples"] < budget for r in mine) if budget else 0,
                "errors": sum(r["error"] is not None for r in mine),
            })
    return out


def table(summary: list[dict[str, Any]]) -> str:
    lines = ["| strategy | N | accuracy [Wilson 95%] | mean tokens/problem | mean latency (s) "
             "| samples used | errors |", "|---|---|---|---|---|---|---|"]
    for s in summary:
        low, high = wilson(s["right"], s["problems"])
        lines.append(f"| {s['strategy']} | {s['n']} | {s['accuracy']:.0%} ({s['right']}/{s['problems']}) "
                     f"[{low:.0%}, {high:.0%}] "
                     f"| {s['tokens']:.0f} | {s['latency_s']:.2f} | {s['samples']:.1f} | {s['errors']} |")
    return "\n".join(lines)


def stop_table(summary: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    """Fixed N against both stop rules, side by side, paired against fixed N (empty without them)."""
    by = {s["setup"]: s for s in summary}
    lines = ["| strategy | N | rule | accuracy [Wilson 95%] | Δ vs fixed [95% CI] | won/lost "
             "| tokens/problem | tokens ratio | samples used | stopped early |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for fixed in [s for s in STOP_SETUPS if not s.options.get("early_stop")]:
        prefix, n = fixed.key.rsplit("-", 1)
        rules = [(rule, key) for rule, key in (("fixed", fixed.key), ("conservative", f"{prefix}-cons-{n}"),
                                               ("adaptive", f"{prefix}-ada-{n}")) if key in by]
        if fixed.key not in by or len(rules) < 2:  # nothing to compare
            continue
        f = by[fixed.key]
        for rule, key in rules:
            e = by[key]
            lines.append(f"| {fixed.strategy} | {n} | {rule} | {_accuracy(e)} | "
                         f"{_versus(rows, key, fixed.key)} | {e['tokens']:.0f} | "
                         f"{e['tokens'] / max(f['tokens'], 1):.2f}x | {e['samples']:.1f} | "
                         f"{e['early']}/{e['problems']} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def _accuracy(s: dict[str, Any]) -> str:
    """A summary row's accuracy with its counts and Wilson 95% interval."""
    return accuracy_cell(s["right"], s["problems"])


def _versus(rows: list[dict[str, Any]], a: str, b: str) -> str:
    """``Δ [95% CI] | won/lost`` of setup ``a`` against ``b`` (two table cells; dashes for itself)."""
    if a == b:
        return "— | —"
    p = paired(rows, a, b)
    return f"{p.cell()} | {p.wins}/{p.losses}"


def agreement(rows: list[dict[str, Any]]) -> str:
    """Per problem, how far the full-budget samples agree (what adaptive stopping can use)."""
    lines = []
    for key in [s.key for s in STOP_SETUPS if not s.options.get("early_stop") and s.n == "16"]:
        mine = [r for r in rows if r["setup"] == key and r.get("counted")]
        if not mine:
            continue
        shares = sorted(r["agree"] / 16 for r in mine)
        high = sum(x >= 0.75 for x in shares)
        lines.append(f"- {key}: the winner's share of 16 samples per problem, sorted: "
                     + " ".join(f"{x:.2f}" for x in shares)
                     + f" ({high} of {len(mine)} problems at ≥ 0.75)")
    return "\n".join(lines)


def check_table(summary: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    """pot, verified and checked side by side: accuracy, Δ vs pot, tokens, cross-checks run."""
    by = {s["setup"]: s for s in summary}
    pot, verified = by.get("pot-4"), by.get("verified-4")
    if pot is None or verified is None:
        return ""
    lines = ["| strategy | N | accuracy [Wilson 95%] | Δ vs pot [95% CI] | won/lost | tokens/problem "
             "| vs pot | vs verified | samples used | problems cross-checked |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for setup in CHECK_SETUPS:
        e = by.get(setup.key)
        if e is None:
            continue
        mine = [r for r in rows if r["setup"] == setup.key]
        checked = sum(r.get("reasoned", 0) > 0 for r in mine)
        lines.append(f"| {setup.strategy} | {setup.n} | {_accuracy(e)} | {_versus(rows, setup.key, 'pot-4')} "
                     f"| {e['tokens']:.0f} | {e['tokens'] / max(pot['tokens'], 1):.2f}x "
                     f"| {e['tokens'] / max(verified['tokens'], 1):.2f}x | {e['samples']:.1f} "
                     f"| {checked}/{len(mine)} |")
    return "\n".join(lines)


def claims(summary: list[dict[str, Any]], rows: list[dict[str, Any]]) -> list[str]:
    """The headline comparisons between strategies, paired on the rows just measured."""
    by = {s["setup"]: s for s in summary}
    pairs = [("pot-8", "sc-8", "pot N=8 vs self-consistency N=8 (code vs prose, both voted)"),
             ("verified-8", "sc-8", "verified N=8 vs self-consistency N=8"),
             ("verified-8", "pot-8", "verified N=8 vs pot N=8"),
             ("sc-16", "sc-8", "self-consistency N=16 vs N=8"),
             ("pot-16", "pot-8", "pot N=16 vs N=8")]
    out = []  # (stopping against fixed N: see stop_table)
    for a, b, title in pairs:
        if a in by and b in by:
            p = paired(rows, a, b)
            out.append(f"{title}: accuracy {_accuracy(by[a])} vs {_accuracy(by[b])}, "
                       f"Δ {p.interval()} points ({p.wins} won, {p.losses} lost): {p.verdict}; "
                       f"tokens {by[a]['tokens'] / max(by[b]['tokens'], 1):.2f}x")
    return out


def plot(summaries: dict[str, list[dict[str, Any]]], path: Path) -> None:
    """Accuracy against mean tokens per problem, one panel per dataset, one legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    names = [n for n in summaries if n != "all"] or list(summaries)
    cols = min(len(names), 2)
    rows = (len(names) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 4.0 * rows), squeeze=False)
    colours = plt.get_cmap("tab20")
    style = {s.key: (colours(i % 20), MARKERS.get(s.strategy, "o")) for i, s in enumerate(SETUPS)}
    handles: dict[str, Any] = {}
    for ax, name in zip(axes.flat, names):
        for keys in (["sc-4", "sc-8", "sc-16"], ["sc-cons-8", "sc-cons-16"], ["sc-ada-8", "sc-ada-16"],
                     ["pot", "pot-8", "pot-16"], ["pot-cons-8", "pot-cons-16"],
                     ["pot-ada-8", "pot-ada-16"]):
            pts = sorted((s["tokens"], s["accuracy"] * 100) for s in summaries[name] if s["setup"] in keys)
            if len(pts) > 1:
                ax.plot(*zip(*pts), "-", color="lightgrey", linewidth=1, zorder=1)
        for s in summaries[name]:
            colour, marker = style.get(s["setup"], ("black", "o"))
            handles[s["setup"]] = ax.scatter(max(s["tokens"], 1), s["accuracy"] * 100, s=45,
                                             color=colour, marker=marker, zorder=2,
                                             label=f"{s['strategy']} N={s['n']}")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(f"{name} (n={summaries[name][0]['problems']} problems)")
        ax.set_xlabel("mean tokens per problem (log scale)")
        ax.set_ylabel("accuracy (%)")
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.legend(list(handles.values()), [h.get_label() for h in handles.values()],
               loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)


def report(summaries: dict[str, list[dict[str, Any]]], meta: dict[str, Any],
           rows: list[dict[str, Any]] | None = None, baseline: str | None = None) -> str:
    took = f", {meta['minutes']} min" if meta.get("minutes") is not None else ""
    parts = [f"# scaling — {meta.get('date')}, {meta.get('cores')} cores{took}\n",
             f"command: `{meta.get('command')}`\n"]
    for name, summary in summaries.items():
        parts.append(f"## {name}\n\n{table(summary)}\n")
        mine = [r for r in rows or [] if name == "all" or r["dataset"] == name]
        if baseline and any(r["setup"] == baseline for r in mine):
            labels = {s["setup"]: f"{s['strategy']} {s['n']}" for s in summary}
            parts.append(f"Paired against {labels.get(baseline, baseline)} (same problems and "
                         f"seeds; Δ in points, bootstrap 95% CI over problems, * = excludes 0):\n\n"
                         + comparison_table(mine, [s["setup"] for s in summary], baseline, labels) + "\n")
        stops = stop_table(summary, mine)
        if stops:
            parts.append(f"Stop rules against fixed N (Δ paired on the same problems and seeds, "
                         f"bootstrap 95% CI over problems, * = excludes 0):\n\n{stops}\n")
        checks = check_table(summary, mine)
        if checks:
            parts.append(f"Verification where it pays:\n\n{checks}\n")
        agree = agreement(mine)
        if agree and name != "all":
            parts.append(agree + "\n")
        found = claims(summary, mine)
        if found:
            parts.append("\n".join(f"- {c}" for c in found) + "\n")
    return "\n".join(parts)


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
            rows = asyncio.run(run(config, args.setups, datasets(args), log, meta, args.seeds, cache))
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
