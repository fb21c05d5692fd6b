"""``ponder solve``: one question, one strategy, the answer with its verdict.

``ponder models`` and ``ponder trace`` live in :mod:`ponder.cli.models_cmd` and
:mod:`ponder.cli.trace_cmd`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ponder.cli.common import (
    ConfigOpt,
    JsonOpt,
    SolveFlags,
    StoreOpt,
    config_for,
    console,
    print_json,
    text,
    with_solve_flags,
)


def _result_json(result: Any) -> dict[str, Any]:
    usage = result.usage
    return {
        "answer": result.answer, "strategy": result.strategy, "models": result.models,
        "confidence": round(result.confidence, 4),
        "confidence_parts": getattr(result, "confidence_parts", {}), "seed": result.seed,
        "run_id": result.run_id,
        "problem_id": result.problem_id,
        "usage": {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                  "reasoning_tokens": usage.reasoning_tokens, "cost_usd": usage.cost_usd,
                  "latency_s": round(usage.latency_s, 3), "calls": usage.calls},
        "votes": {a: v.model_dump() for a, v in result.votes.items()},
        "samples_used": result.samples_used, "max_samples": result.max_samples,
        "tokens_saved": result.tokens_saved, "stopped": result.stopped, "wall_s": result.wall_s,
        "escalated": result.escalated, "notes": list(getattr(result, "notes", [])),
        "branches": [{
            "index": b.index, "model": b.model, "answer": b.answer, "verdict": b.verdict,
            "code": b.code, "code_answer": b.code_answer,
            "execution": b.execution.status if b.execution else None,
            "rewards": b.rewards, "confidence": b.confidence,
            "truncated": getattr(b, "truncated", False),
            "usage": b.usage.model_dump(),
        } for b in result.branches],
    }


@with_solve_flags
def solve(
    question: Annotated[str, typer.Argument(help="The question to solve.")],
    strategy: Annotated[str | None, typer.Option("--strategy", "-s", help=(
        "A strategy name: `ponder strategies` lists them."))] = None,
    plan: Annotated[bool, typer.Option("--plan", help="Let the standard model plan first.")] = False,
    flags: SolveFlags = SolveFlags({}),
    cache: Annotated[Path | None, typer.Option(help=(
        "SQLite response cache: a re-run with the same --seed (or none) is free."))] = None,
    check: Annotated[bool, typer.Option("--check", help=(
        "Check what the solve needs (the strategy takes its settings, every role's model can "
        "be called), solve nothing."))] = False,
    as_json: JsonOpt = False, store: StoreOpt = None, config: ConfigOpt = None,
) -> None:
    """Answer one question with the configured models and record it in the store."""
    from ponder.graphs.api import solve as run_solve

    cfg = flags.config(config_for(config, store, cache=cache))
    options = flags.options(cfg, plan=plan)
    if check:
        _check(strategy or cfg.strategy, cfg, options, as_json=as_json)
        return
    result = run_solve(question, strategy or cfg.strategy, config=cfg, options=options)
    if as_json:
        print_json(_result_json(result))
        return
    _print_result(result)


def _check(strategy: str, cfg: Any, options: Any, *, as_json: bool) -> None:
    """``--check``: :func:`ponder.check_run`, the checks every solve passes first."""
    from ponder.graphs.api import check_run

    run = check_run(strategy, cfg, options)
    roles = run.roles
    found = {"strategy": run.strategy.name, "roles": roles,
             "settings": run.settings.model_dump(mode="json"),
             "sandbox": cfg.sandbox.backend if run.strategy.runs_code else None}
    if as_json:
        print_json(found)
        return
    out = console()
    out.print(text(f"{found['strategy']}: " + ", ".join(f"{r}={m}" for r, m in roles.items())))
    out.print(text(f"sandbox: {found['sandbox'] or 'not needed'}"))
    out.print(text("check passed: nothing was solved or stored"))


def _print_result(result: Any) -> None:
    """The answer, the vote and what it cost; model text printed as text, never as markup."""
    from rich.text import Text

    from ponder.verdict import verdict_of

    out = console()
    u = result.usage
    answer = text(result.answer) if result.answer is not None else text("[no answer]", "italic")
    out.print(Text.assemble(("Answer:", "bold"), " ", answer, f"  [{verdict_of(result).line()}]"))
    summary = (getattr(result, "confidence_parts", None) or {}).get("summary")
    if summary:
        out.print(text(f"confidence: {summary}"), soft_wrap=True)
    if result.votes:
        tally = ", ".join(f"{a}: {v.count}×/{v.weight:.2f}" for a, v in result.votes.items())
        out.print(text(f"votes: {tally}"), soft_wrap=True)
    out.print(text(
        f"{result.strategy} · {result.samples_used}/{result.max_samples} samples · "
        f"{u.prompt_tokens}+{u.completion_tokens} tokens"
        + (f" ({u.reasoning_tokens} reasoning)" if u.reasoning_tokens else "")
        + f" · ${u.cost_usd:.4f} · {result.wall_s:.1f}s ({u.latency_s:.1f}s model time) · "
        f"{u.calls} calls · stopped: {result.stopped} · run {result.run_id}", "dim"))
    for note in getattr(result, "notes", []):
        out.print(Text.assemble(("note: ", "yellow"), text(note)), soft_wrap=True)
