"""``ponder export``: a run's results, rewards, SFT data or traces, one record per line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from ponder.cli.common import ConfigOpt, OutOpt, StoreOpt, config_for

# Spelled here so `ponder --help` need not import ponder.eval.export (tests/cli check they agree).
ExportFormat = Literal["sft", "prompt-completion", "rewards", "jsonl", "csv"]
# The library's export formats, and otlp (traces sent to a collector, ponder.cli.otlp_export).
ExportChoice = Literal["sft", "prompt-completion", "rewards", "jsonl", "csv", "otlp"]
ReasoningMode = Literal["think", "field"]


def export(
    run: Annotated[str, typer.Argument(metavar="RUN", help="Run name or id (`ponder runs`).")],
    fmt: Annotated[ExportChoice, typer.Option("--format", "-f", help=(
        "sft (verified-correct chat traces, TRL's messages), prompt-completion (the same as "
        "TRL prompt/completion pairs), rewards (every branch), jsonl or csv (results), otlp "
        "(the run's traces, sent to an OpenTelemetry collector)."))] = "jsonl",
    strategy: Annotated[str | None, typer.Option("--strategy", "-s", help="Only this strategy.")] = None,
    any_correct: Annotated[bool, typer.Option("--any-correct", help=(
        "sft: keep correct branches even when code did not cross-check them."))] = False,
    reasoning: Annotated[ReasoningMode, typer.Option("--reasoning", help=(
        "sft: think (in <think> tags in the content) or field (in reasoning_content)."))] = "think",
    hf: Annotated[Path | None, typer.Option("--hf", metavar="DIR", help=(
        "Write a Hugging Face dataset to DIR (save_to_disk; pip install 'ponder\\[hf]')."))] = None,
    output: OutOpt = None, store: StoreOpt = None, config: ConfigOpt = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint", help=(
        "otlp: the collector's OTLP/HTTP URL (default: OTEL_EXPORTER_OTLP_ENDPOINT or "
        "[telemetry] endpoint)."))] = None,
) -> None:
    """Write a run's results, rewards or SFT training data, one record per line."""
    from ponder.eval.export import export_run, to_dataset
    from ponder.store import Store

    if fmt == "otlp":
        from ponder.cli.otlp_export import export_otlp

        cfg = config_for(config, store)
        traces, spans = export_otlp(Store(cfg.store), run, cfg, endpoint=endpoint,
                                    strategy=strategy)
        typer.echo(f"sent {traces} traces ({spans} spans)", err=True)
        return
    db = Store(config_for(config, store).store)
    db.require_run(run)
    options: dict[str, Any] = {"strategy": strategy, "any_correct": any_correct, "reasoning": reasoning}
    if hf is not None:
        dataset = to_dataset(db, run, fmt, **options)  # type: ignore[arg-type]
        dataset.save_to_disk(str(hf))
        typer.echo(f"wrote {dataset.num_rows} records to {hf} (datasets.load_from_disk)", err=True)
        if output is None:
            return
    if output is None:
        export_run(db, run, fmt, sys.stdout, **options)  # type: ignore[arg-type]
        return
    with output.open("w", encoding="utf-8", newline="") as fh:
        count = export_run(db, run, fmt, fh, **options)  # type: ignore[arg-type]
    typer.echo(f"wrote {count} records to {output}", err=True)
