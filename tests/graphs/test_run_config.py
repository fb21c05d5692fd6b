"""Every run records its settings in one shape (ponder.config.run_config), a single solve and
a batch alike, and RunConfig reads back both that shape and the one single solves wrote
before it (a role as its bare model name)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import ponder
from ponder.config import RunConfig, run_config
from ponder.eval.datasets import DatasetSpec
from ponder.graphs.batch import BatchSettings, run_batch
from ponder.scripted import register_script
from ponder.store import Store


def _cfg(scripted_config):
    return scripted_config(register_script("runcfg", lambda m, i: "The answer is 4."))


def test_a_solve_and_a_batch_record_the_same_shape(scripted_config, tmp_path: Path) -> None:
    cfg = _cfg(scripted_config)
    options = ponder.SolveOptions(samples=2, early_stop=False, seed=5)
    ponder.solve("What is 2 + 2?", "self-consistency", config=cfg, options=options)
    data = tmp_path / "d.jsonl"
    data.write_text('{"question": "2+2?", "answer": "4"}\n')
    outcome = asyncio.run(run_batch(
        DatasetSpec(source=str(data)), cfg,
        BatchSettings(strategies=["self-consistency"], options=options)))
    runs = {run.kind: run for run in Store(cfg.store).list_runs()}
    solve, batch = runs["solve"], runs[outcome.run.kind]
    assert outcome.solved == 1
    assert set(batch.config) - set(solve.config) == {"dataset"}
    assert solve.config == run_config(cfg, options, ["self-consistency"]) | {
        "options": solve.config["options"]}  # the solve's seed was filled in
    for run in (solve, batch):
        recorded = RunConfig.read(run.config)
        assert recorded.strategies == ["self-consistency"]
        assert recorded.models == ["scripted/runcfg"]
        assert recorded.options["samples"] == 2 and recorded.sandbox == cfg.sandbox.backend
    assert RunConfig.read(batch.config).dataset["kind"] == "math"


def test_rows_written_before_the_one_shape_still_read() -> None:
    old_solve = {"roles": {"reasoner": "local/gemma-3-270m", "standard": "local/smollm2-135m"},
                 "options": {"samples": 4}}
    recorded = RunConfig.read(old_solve)
    assert recorded.models == ["local/gemma-3-270m", "local/smollm2-135m"]
    assert recorded.roles["reasoner"] == {"model": "local/gemma-3-270m"}
    assert recorded.options == {"samples": 4} and recorded.strategies == []


def test_a_damaged_config_reads_as_what_fits() -> None:
    recorded = RunConfig.read({"roles": "not a map", "options": [1, 2], "strategies": ["cot"]})
    assert (recorded.roles, recorded.options, recorded.strategies) == ({}, {}, ["cot"])
    assert RunConfig.read(None).models == [] and RunConfig.read("text").strategies == []
