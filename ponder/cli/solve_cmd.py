"""``ponder solve``, ``ponder models`` and ``ponder trace``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ponder.cli.common import (
    BudgetTokensOpt,
    BudgetUsdOpt,
    ConfigOpt,
    JsonOpt,
    SamplesOpt,
    SandboxOpt,
    SeedOpt,
    SettingOpt,
    StopRuleOpt,
    StopThresholdOpt,
    StoreOpt,
    config_for,
    console,
    number,
    print_json,
    printable,
    strategy_settings,
    text,
)

if TYPE_CHECKING:
    from rich.text import Text
    from rich.tree import Tree

    from ponder.types import TraceEvent


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


def solve(
    question: Annotated[str, typer.Argument(help="The question to solve.")],
    strategy: Annotated[str | None, typer.Option("--strategy", "-s", help=(
        "A strategy name: `ponder strategies` lists them."))] = None,
    samples: SamplesOpt = None,
    reasoner: Annotated[str | None, typer.Option(help="Model for the reasoner role.")] = None,
    standard: Annotated[str | None, typer.Option(help="Model for the standard role.")] = None,
    plan: Annotated[bool, typer.Option("--plan", help="Let the standard model plan first.")] = False,
    no_early_stop: Annotated[bool, typer.Option("--no-early-stop", help="Always take every sample.")] = False,
    stop_rule: StopRuleOpt = "adaptive",
    stop_threshold: StopThresholdOpt = 0.95,
    sandbox: SandboxOpt = None,
    budget_tokens: BudgetTokensOpt = None,
    budget_usd: BudgetUsdOpt = None,
    settings: SettingOpt = None,
    seed: SeedOpt = None,
    cache: Annotated[Path | None, typer.Option(help="SQLite response cache: re-runs are free.")] = None,
    demos: Annotated[str | None, typer.Option("--demos", metavar="RUN", help=(
        "Few-shot exemplars from the verified-correct traces of a stored run (the nearest "
        "few to the question)."))] = None,
    as_json: JsonOpt = False, store: StoreOpt = None, config: ConfigOpt = None,
) -> None:
    """Answer one question with the configured models and record it in the store."""
    from ponder.agents.demos import demos_from_run
    from ponder.config import SolveOptions
    from ponder.graphs.api import solve as run_solve

    cfg = config_for(config, store, cache=cache)
    cfg = cfg.with_models(reasoner=reasoner, standard=standard).with_sandbox(sandbox)
    name = strategy or cfg.strategy
    options = SolveOptions(samples=samples or cfg.samples, plan=plan, early_stop=not no_early_stop,
                           stop_rule=stop_rule, stop_threshold=stop_threshold,
                           budget_tokens=budget_tokens, budget_usd=budget_usd, seed=seed,
                           settings=strategy_settings(settings),
                           demos=demos_from_run(cfg.store, demos) if demos else None)
    result = run_solve(question, name, config=cfg, options=options)
    if as_json:
        print_json(_result_json(result))
        return
    _print_result(result)


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


def models(config: ConfigOpt = None, as_json: JsonOpt = False,
           timeout: Annotated[float, typer.Option(**number(float, 0, 600, low_open=True), help=(
               "Seconds to wait for each provider."))] = 5.0,
           ) -> None:
    """Per role: the model, whether it answers now (one free model-list request), and the
    capabilities ponder will use with it."""
    from ponder.models import check_model

    cfg = config_for(config)
    statuses = [check_model(name, role, reach=True, timeout=timeout)
                for name, role in cfg.roles.items()]
    if as_json:
        print_json([s.__dict__ for s in statuses])
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    table = Table("role")
    table.add_column("model", no_wrap=True)
    for heading in ("usable", "reachable", "capabilities used", "detail"):
        table.add_column(heading)
    for s in statuses:
        table.add_row(escape(s.role), escape(s.model),
                      "[green]yes[/green]" if s.usable else "[red]no[/red]",
                      escape(s.reachable or "not checked"), escape(", ".join(s.capabilities)),
                      escape(s.detail))
    Console().print(table)


def trace(
    run: Annotated[str, typer.Argument(help="Run id or name.")],
    problem: Annotated[str | None, typer.Option(help="Problem id (default: the first).")] = None,
    store: StoreOpt = None, config: ConfigOpt = None,
) -> None:
    """Draw a problem's reasoning tree in the terminal."""
    from ponder.store import Store

    db = Store(config_for(config, store).store)
    info = db.require_run(run)
    events = db.events(info.id, problem)
    if not events:
        typer.echo(f"run {printable(info.id)} has no trace events yet")
        raise typer.Exit(1)
    console().print(render_tree(events))


def event_label(event: TraceEvent) -> Text:
    """One event on one line: step, branch, the outputs that matter, tokens and time."""
    from rich.text import Text

    out: dict[str, Any] = event.outputs
    line = Text.assemble(text(event.node, "bold"))
    if event.branch_id:
        line.append_text(Text.assemble(" ", text(event.branch_id, "dim")))
    for key in ("answer", "verdict", "status", "difficulty", "role", "to", "leader", "confidence",
                "samples_used", "stopped"):
        value = out.get(key)
        if value is not None:
            line.append_text(text(f" {key}={value:.2f}" if isinstance(value, float)
                                  else f" {key}={value}"))
    if event.usage.total_tokens:
        took = event.ended_at - event.started_at
        line.append_text(text(f" {event.usage.total_tokens} tok, {took:.2f}s", "dim"))
    return line


def render_tree(events: list[TraceEvent]) -> Tree:
    """A Rich ``Tree`` of the events of one problem (or several), children under parents."""
    from rich.tree import Tree

    from ponder.tracetree import children

    tree = children(events)
    root = Tree(text("trace", "bold"))

    def add(node: Tree, parent: str | None) -> None:
        for event in tree.get(parent, []):
            add(node.add(event_label(event)), event.id)

    add(root, None)
    return root
