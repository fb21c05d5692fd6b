"""Run reports: per-strategy figures computed from the store, rendered as md, json or csv.

Totals, means and percentiles are SQL aggregates over the stored rows; pass@k counts the
branch rows in SQL (problems per (samples, passed) pair). Nothing holds a whole run in
memory, however large.
"""

from __future__ import annotations

import csv
import io
import json
import math
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, Field

from ponder.config import RunConfig
from ponder.store import RunInfo, Store, StrategySummary

ReportFormat = Literal["md", "json", "csv"]
REPORT_FORMATS: tuple[str, ...] = ("md", "json", "csv")


class StrategyReport(BaseModel):
    """One strategy's figures within a run."""

    strategy: str
    problems: int
    correct: int
    no_answer: int
    scored: int
    accuracy: float
    no_answer_rate: float
    total_tokens: int
    mean_tokens: float
    median_tokens: float
    cost_usd: float
    latency_p50_s: float
    latency_p95_s: float
    samples_used_mean: float
    samples_used_total: int
    pass_at_k: dict[str, float] = Field(default_factory=dict)
    pass_at_k_counts: str = ""


class RunReport(BaseModel):
    """A whole run: identity, how it ended, one entry per strategy."""

    run: str
    run_id: str
    status: str
    stopped: str | None
    dataset: str | None
    created_at: str
    planned_problems: int | None
    strategies: list[StrategyReport]


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased pass@k estimate from ``n`` samples of which ``c`` passed:
    ``1 - C(n-c, k) / C(n, k)`` (Chen et al., 2021)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def strategy_pass_at_k(store: Store, run_id: str, strategy: str,
                       ks: tuple[int, ...]) -> tuple[dict[str, float], str]:
    """Mean unbiased pass@k over *all* problems, for each k every problem has samples for.

    Counts every sampled branch of each problem (escalated stages included), graded by its
    accuracy reward (else, by whether it was verified). A k above some problem's sample
    count is left out rather than averaged over the problems that drew more samples: with
    early stopping those are the undecided, harder ones, so such a mean is biased. Returns
    the figures and a sentence saying what they count.
    """
    counts = store.pass_counts(run_id, strategy)  # rows of (n, c, problems)
    problems = sum(row["problems"] for row in counts)
    if not problems:
        return {}, ""
    low, high = min(row["n"] for row in counts), max(row["n"] for row in counts)
    kept = [k for k in ks if k <= low]
    note = (f"over all {problems} problems, every sampled branch "
            f"({low}-{high} per problem), graded by the accuracy reward")
    left = [k for k in ks if k not in kept]
    if left:
        note += (f"; pass@{', pass@'.join(map(str, left))} left out: some problems drew only "
                 f"{low} samples (early stopping) — rerun with early stopping off to report it")
    return {f"pass@{k}": sum(row["problems"] * pass_at_k(row["n"], row["c"], k)
                             for row in counts) / problems for k in kept}, note


def _pass_ks(run: RunInfo) -> tuple[int, ...]:
    """k values worth reporting: 1 and the sample budget (code datasets only)."""
    recorded = RunConfig.read(run.config)
    if (recorded.dataset or {}).get("kind") != "code":
        return ()
    samples = int(recorded.options.get("samples") or 1)
    return tuple(sorted({1, samples}))


def _strategy_report(store: Store, run: RunInfo, row: StrategySummary,
                     ks: tuple[int, ...]) -> StrategyReport:
    tokens = store.column_stats(run.id, "tokens", strategy=row.strategy)
    latency = store.column_stats(run.id, "wall_s", strategy=row.strategy)
    samples = store.column_stats(run.id, "samples_used", strategy=row.strategy, quantiles=())
    passes, counts = strategy_pass_at_k(store, run.id, row.strategy, ks) if ks else ({}, "")
    return StrategyReport(
        strategy=row.strategy, problems=row.problems, correct=row.correct,
        no_answer=row.no_answer, scored=row.scored, accuracy=row.accuracy,
        no_answer_rate=row.no_answer / row.problems if row.problems else 0.0,
        total_tokens=row.total_tokens, mean_tokens=tokens["mean"], median_tokens=tokens["p50"],
        cost_usd=row.cost_usd, latency_p50_s=latency["p50"], latency_p95_s=latency["p95"],
        samples_used_mean=samples["mean"], samples_used_total=int(samples["total"]),
        pass_at_k=passes, pass_at_k_counts=counts,
    )


def build_report(store: Store, run_ref: str) -> RunReport:
    """Figures of run ``run_ref`` (id or name), one entry per strategy in grid order."""
    run = store.require_run(run_ref)
    ks = _pass_ks(run)
    by_name = {row.strategy: row for row in store.summary(run.id)}
    order = [s for s in run.strategies if s in by_name] + [s for s in by_name
                                                           if s not in run.strategies]
    created = datetime.fromtimestamp(run.created_at, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return RunReport(
        run=run.name or run.id, run_id=run.id, status=run.status, stopped=run.meta.get("stopped"),
        dataset=run.dataset, created_at=created, planned_problems=run.meta.get("planned_problems"),
        strategies=[_strategy_report(store, run, by_name[s], ks) for s in order],
    )


def render(report: RunReport, fmt: ReportFormat = "md") -> str:
    """The report as Markdown (for people), JSON (one object) or CSV (a row per strategy)."""
    if fmt == "json":
        return json.dumps(report.model_dump(), indent=2)
    if fmt == "csv":
        return _csv(report)
    return _markdown(report)


def _csv(report: RunReport) -> str:
    out = io.StringIO()
    ks = sorted({k for s in report.strategies for k in s.pass_at_k})
    fields = [f for f in StrategyReport.model_fields if f not in ("pass_at_k", "pass_at_k_counts")]
    writer = csv.DictWriter(out, fieldnames=["run", *fields, *ks], lineterminator="\n")
    writer.writeheader()
    for s in report.strategies:
        writer.writerow({"run": report.run, **s.model_dump(exclude={"pass_at_k", "pass_at_k_counts"}),
                         **s.pass_at_k})
    return out.getvalue()


def _markdown(report: RunReport) -> str:
    lines = [f"# Run {report.run}", "",
             f"- dataset: {report.dataset}", f"- created: {report.created_at}",
             f"- status: {report.status}"]
    if report.stopped:
        lines.append(f"- **stopped early: {report.stopped}** — rerun the same `ponder batch` "
                     "command to continue")
    done = max((s.problems for s in report.strategies), default=0)
    if report.planned_problems:
        lines.append(f"- problems: {done} of {report.planned_problems} per strategy")
    if not report.strategies:
        return "\n".join([*lines, "", "No results stored yet."]) + "\n"
    lines += ["", *_table(report)]
    lines += [f"- pass@k for {s.strategy}: {s.pass_at_k_counts}" for s in report.strategies
              if s.pass_at_k_counts]
    lines += ["", "## Accuracy against tokens", "", "```",
              *_frontier(report.strategies), "```"]
    return "\n".join(lines) + "\n"


def _table(report: RunReport) -> list[str]:
    ks = sorted({k for s in report.strategies for k in s.pass_at_k})
    head = ["strategy", "problems", "accuracy", "no answer", "tokens mean", "tokens median",
            "tokens total", "cost $", "wall p50 s", "wall p95 s", "samples mean", *ks]
    rows = [[s.strategy, str(s.problems), f"{s.accuracy:.1%} ({s.correct}/{s.scored})",
             f"{s.no_answer_rate:.1%}", f"{s.mean_tokens:.0f}", f"{s.median_tokens:.0f}",
             str(s.total_tokens), f"{s.cost_usd:.4f}", f"{s.latency_p50_s:.2f}",
             f"{s.latency_p95_s:.2f}", f"{s.samples_used_mean:.2f}",
             *[f"{s.pass_at_k[k]:.1%}" if k in s.pass_at_k else "-" for k in ks]]
            for s in report.strategies]
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head),
            *["| " + " | ".join(r) + " |" for r in rows]]


def _frontier(strategies: list[StrategyReport], width: int = 30) -> list[str]:
    """One bar per strategy, cheapest first: accuracy against mean tokens per problem."""
    pad = max(len(s.strategy) for s in strategies)
    out = []
    for s in sorted(strategies, key=lambda s: s.mean_tokens):
        bar = "#" * round(s.accuracy * width)
        per_k = s.accuracy / (s.mean_tokens / 1000) if s.mean_tokens else 0.0
        out.append(f"{s.strategy:<{pad}} {bar:<{width}} {s.accuracy:6.1%} at "
                   f"{s.mean_tokens:7.0f} tokens/problem ({per_k:.3f} acc per 1k tokens)")
    return out


def report_text(store: Store, run_ref: str, fmt: ReportFormat = "md") -> str:
    """Build and render in one call (what ``ponder report`` prints)."""
    return render(build_report(store, run_ref), fmt)
