"""``ponder distill``: a dataset in, TRL-ready SFT data of verified-correct traces out.

Rejection sampling in one command: the problems that overlap an evaluation set are dropped
first (:mod:`ponder.eval.distill`), the rest are solved by a batch (the same resumable runner
as ``ponder batch``), and only verified-correct, distinct traces are written, at most K per
problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from ponder.cli.batch_cmd import DatasetFormat
from ponder.cli.common import ConfigOpt, JsonOpt, StoreOpt, config_for, print_json, printable


def distill(
    file: Annotated[str, typer.Argument(metavar="DATA", help=(
        "A JSONL, CSV or Parquet dataset, or 'humaneval'."))],
    output: Annotated[Path | None, typer.Option("--output", "-o", help=(
        "Write the SFT records here as JSONL."))] = None,
    strategy: Annotated[str, typer.Option("--strategy", "-s", help=(
        "The strategy that samples traces (verified cross-checks reasoning with code)."))] = "verified",
    samples: Annotated[int, typer.Option("--samples", "-n", min=1, max=256, help=(
        "Traces sampled per problem (all of them: no early stop)."))] = 8,
    per_problem: Annotated[int, typer.Option("--per-problem", "-k", min=1, help=(
        "Keep at most this many distinct traces per problem."))] = 4,
    decontaminate: Annotated[list[str] | None, typer.Option("--decontaminate", metavar="EVAL", help=(
        "An evaluation set (file or 'humaneval'; repeatable): problems sharing a word n-gram "
        "with one of its questions are never solved nor written."))] = None,
    ngram: Annotated[int, typer.Option("--ngram", min=1, help=(
        "Words per n-gram for --decontaminate."))] = 8,
    fmt: Annotated[str, typer.Option("--format", "-f", help=(
        "sft (TRL messages) or prompt-completion (TRL prompt/completion pairs)."))] = "sft",
    reasoning: Annotated[str, typer.Option("--reasoning", help=(
        "think (in <think> tags in the content) or field (in reasoning_content)."))] = "think",
    hf: Annotated[Path | None, typer.Option("--hf", metavar="DIR", help=(
        "Also write a Hugging Face dataset to DIR (save_to_disk; pip install 'ponder\\[hf]')."))] = None,
    any_correct: Annotated[bool, typer.Option("--any-correct", help=(
        "Keep correct traces that code did not cross-check."))] = False,
    run: Annotated[str | None, typer.Option("--run", help=(
        "Run name; the same name resumes. Default: <dataset>-<config hash>."))] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help=(
        "Only the first N problems."))] = None,
    concurrency: Annotated[int | None, typer.Option("--concurrency", "-c", min=1, help=(
        "Problems solved at once."))] = None,
    seed: Annotated[int | None, typer.Option(help="Sampling seed.")] = None,
    dataset_format: Annotated[DatasetFormat, typer.Option("--dataset-format", help=(
        "auto, gsm8k, math, choice, humaneval or generic."))] = "auto",
    question_field: Annotated[str | None, typer.Option("--question-field")] = None,
    answer_field: Annotated[str | None, typer.Option("--answer-field")] = None,
    reasoner: Annotated[str | None, typer.Option(help="Model for the reasoner role.")] = None,
    standard: Annotated[str | None, typer.Option(help="Model for the standard role.")] = None,
    as_json: JsonOpt = False, store: StoreOpt = None, config: ConfigOpt = None,
) -> None:
    """Solve a dataset and write its verified-correct traces as TRL SFT data."""
    import asyncio

    from ponder.cli.batch_cmd import _ProgressBar
    from ponder.eval.datasets import DatasetSpec
    from ponder.graphs.batch import BatchSettings, run_batch

    if output is None and hf is None:
        raise typer.BadParameter("say where to write: -o train.jsonl and/or --hf DIR",
                                 param_hint="--output")
    _check(fmt, ("sft", "prompt-completion"), "--format")
    _check(reasoning, ("think", "field"), "--reasoning")
    cfg = config_for(config, store).with_models(reasoner=reasoner, standard=standard)
    spec = DatasetSpec(source=file, format=dataset_format,
                       question_field=question_field, answer_field=answer_field)
    spec, total, removed = _decontaminated(spec, decontaminate or [], ngram, limit)
    settings = BatchSettings(strategies=[strategy], samples=samples, early_stop=False, seed=seed,
                             concurrency=concurrency, run=run, limit=limit)
    with _ProgressBar(quiet=as_json) as bar:
        outcome = asyncio.run(run_batch(spec, cfg, settings, on_progress=bar.update,
                                        handle_signals=True))
    summary = _write(cfg.store, outcome.run.id, output, hf, fmt, reasoning, any_correct, per_problem)
    summary |= {"run": outcome.run.name, "problems": total, "decontaminated": len(removed),
                "removed_ids": [p.id for p in removed][:20], "solved": outcome.solved,
                "resumed": outcome.resumed, "failed": outcome.failed}
    _report(summary, as_json)
    if outcome.stopped == "interrupted":
        raise typer.Exit(130)
    if outcome.failed:  # what was solved is written; a rerun retries the rest
        raise typer.Exit(1)


def _check(value: str, allowed: tuple[str, ...], flag: str) -> None:
    if value not in allowed:
        raise typer.BadParameter(f"{value!r}; choose one of {', '.join(allowed)}", param_hint=flag)


def _decontaminated(spec: Any, evals: list[str], n: int,
                    limit: int | None) -> tuple[Any, int, list[Any]]:
    """The spec to solve (rows in memory when problems were removed), how many problems
    the dataset offered, and the removed ones."""
    from ponder.eval.datasets import DatasetSpec, iter_problems, validate
    from ponder.eval.distill import ContaminationIndex, decontaminate

    info = validate(spec)
    problems = [p for _, p in iter_problems(spec, limit=limit)]
    index = None
    if evals:
        questions = []
        for source in evals:
            eval_spec = DatasetSpec(source=source)
            validate(eval_spec)
            questions += [p.question for _, p in iter_problems(eval_spec)]
        index = ContaminationIndex(questions, n=n)
    kept, removed = decontaminate(problems, index)
    if not removed:
        return spec, len(problems), removed
    if not kept:
        raise typer.BadParameter(f"all {len(problems)} problems overlap the evaluation set; "
                                 "nothing is left to distil", param_hint="--decontaminate")
    return _rows_spec(spec, kept, info), len(problems), removed


def _rows_spec(spec: Any, problems: list[Any], info: Any) -> Any:
    from ponder.eval.datasets import DatasetSpec
    from ponder.eval.distill import problem_rows

    fmt = {"code": "humaneval", "choice": "choice"}.get(info.kind, "generic")
    return DatasetSpec(source=problem_rows(problems), name=f"{spec.stem}-distill", format=fmt,
                       kind=info.kind, id_field=None if info.kind == "code" else "id")


def _write(store_path: Path, run_id: str, output: Path | None, hf: Path | None, fmt: str,
           reasoning: str, any_correct: bool, k: int) -> dict[str, Any]:
    """Select the traces and write them; returns the counts."""
    from ponder.eval.distill import Selection, select_traces
    from ponder.eval.export import records_dataset, sft_records, write_jsonl
    from ponder.store import Store

    stats = Selection()
    shape = "messages" if fmt == "sft" else "prompt-completion"
    traces = sft_records(Store(store_path), run_id, any_correct=any_correct,
                         reasoning=reasoning, shape=shape)  # type: ignore[arg-type]
    records = list(select_traces(traces, k, stats))
    if output is not None:
        with output.open("w", encoding="utf-8") as fh:
            write_jsonl(records, fh)
    if hf is not None:
        records_dataset(records).save_to_disk(str(hf))
    return {"traces": stats.kept, "problems_with_traces": len(stats.per_problem),
            "duplicates": stats.duplicates, "over_cap": stats.over_cap, "per_problem": k,
            "output": str(output) if output else None, "hf": str(hf) if hf else None}


def _report(s: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(s)
        return
    typer.echo(f"{s['problems']} problems; {s['decontaminated']} removed as contaminated "
               f"(n-gram overlap with the evaluation set)")
    if s["removed_ids"]:
        typer.echo("  removed: " + ", ".join(printable(i) for i in s["removed_ids"]))
    typer.echo(f"run {printable(s['run'])}: {s['solved']} solved now, {s['resumed']} from before"
               + (f", {s['failed']} failed (rerun to retry)" if s["failed"] else ""))
    where = " and ".join(w for w in (s["output"], s["hf"]) if w)
    typer.echo(f"wrote {s['traces']} verified-correct traces for {s['problems_with_traces']} "
               f"problems to {printable(where)} ({s['duplicates']} duplicates and "
               f"{s['over_cap']} over {s['per_problem']} per problem left out)")
