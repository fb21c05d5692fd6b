"""One run lifecycle: whatever goes wrong, and wherever the run was started from (API, CLI,
batch; the UI's live page in tests/ui/test_live.py, the server in tests/serve/), the run ends
``failed`` or ``cancelled`` with the reason — never ``running``."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import ponder
from ponder.errors import ConfigError, SandboxUnavailable
from ponder.eval.datasets import DatasetSpec
from ponder.events import (BranchFinished, NodeFinished, RunFinished, RunStarted, TextDelta,
                           VoteCounted)
from ponder.graphs.batch import BatchSettings, run_batch
from ponder.graphs.lifecycle import SolveRun
from ponder.graphs.registry import STRATEGIES, get_strategy, register_strategy
from ponder.graphs.strategy import Strategy
from ponder.scripted import register_script
from ponder.store import Store
from ponder.types import Problem

PONDER = str(Path(sys.executable).with_name("ponder"))


@pytest.fixture
def cfg(scripted_config):
    return scripted_config(register_script("life", lambda m, i: "```python\nanswer(5)\n```\n"
                                           "The answer is 5."))


def only_run(store_path: Path):
    [run] = Store(store_path).list_runs()
    return run


def test_events_bracket_the_run_and_the_store_holds_it(cfg) -> None:
    run = SolveRun(Problem(question="What is 2 + 3?"), "self-consistency", cfg,
                   ponder.SolveOptions(samples=2, early_stop=False), store=Store(cfg.store))

    async def drain():
        return [e async for e in run.events()]

    events = asyncio.run(drain())
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    kinds = {type(e) for e in events}
    assert {NodeFinished, BranchFinished, VoteCounted} <= kinds
    assert events[-1].result.answer == "5"
    stored = only_run(cfg.store)
    assert stored.status == "done" and stored.id == run.run_id


def test_unknown_strategy_leaves_a_failed_run(cfg) -> None:
    with pytest.raises(ConfigError, match="unknown strategy 'magic'"):
        ponder.solve("What is 2 + 3?", "magic", config=cfg)
    run = only_run(cfg.store)
    assert run.status == "failed" and "unknown strategy" in run.meta["error"]


def test_a_sandbox_that_cannot_start_stops_the_run_with_the_fix(cfg, monkeypatch) -> None:
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    box = cfg.model_copy(update={"sandbox": cfg.sandbox.model_copy(update={"backend": "e2b"})})
    with pytest.raises(SandboxUnavailable, match="export E2B_API_KEY"):
        ponder.solve("What is 2 + 3?", "pot", config=box)
    run = only_run(cfg.store)
    assert run.status == "failed" and "E2B_API_KEY" in run.meta["error"]


def test_a_cancelled_solve_is_recorded_as_cancelled(scripted_config) -> None:
    def slow(messages, index):
        import time

        time.sleep(0.5)
        return "The answer is 5."

    cfg = scripted_config(register_script("life-slow", slow))

    async def cancel_midway():
        task = asyncio.create_task(ponder.asolve("What is 2 + 3?", "cot", config=cfg))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cancel_midway())
    assert only_run(cfg.store).status == "cancelled"


def test_the_cli_reports_the_failure_and_the_run_says_failed(cfg, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONDER_") and k != "E2B_API_KEY"}
    store = tmp_path / "cli.db"
    out = subprocess.run([PONDER, "solve", "What is 2 + 3?", "--strategy", "pot", "--sandbox",
                          "e2b", "--store", str(store)], capture_output=True, text=True,
                         env=env, timeout=300)
    assert out.returncode != 0 and "E2B_API_KEY" in out.stderr
    assert only_run(store).status == "failed"


async def test_a_batch_whose_strategy_refuses_at_start_is_failed(cfg, tmp_path) -> None:
    def refuse(models, options, settings):
        raise ConfigError("this strategy refuses every model")

    register_strategy(Strategy(name="refuses", summary="test", build=get_strategy("cot").build,
                               check=refuse))
    try:
        data = tmp_path / "d.jsonl"
        data.write_text(json.dumps({"question": "What is 2 + 3?", "answer": "5"}) + "\n")
        with pytest.raises(ConfigError, match="refuses every model"):
            await run_batch(DatasetSpec(source=str(data)), cfg,
                            BatchSettings(strategies=["refuses"], run="r"))
        run = Store(cfg.store).require_run("r")
        assert run.status == "failed" and "refuses every model" in run.meta["error"]
    finally:
        STRATEGIES.pop("refuses", None)


def test_a_run_that_asks_for_text_gets_it_as_it_is_generated(cfg) -> None:
    run = SolveRun(Problem(question="What is 2 + 3?"), "cot", cfg, ponder.SolveOptions(samples=1),
                   store=Store(cfg.store), stream_text=True)

    async def drain():
        return [e async for e in run.events()]

    events = asyncio.run(drain())
    pieces = [e for e in events if isinstance(e, TextDelta)]
    assert pieces and {e.node for e in pieces} == {"reason"}
    assert all(e.branch_id == run.result.branches[0].id for e in pieces)
    assert "".join(e.text for e in pieces) == run.result.branches[0].text
    # Without the flag a run streams no text (and the embedded engine skips the per-token
    # round trips that streaming costs).
    quiet = SolveRun(Problem(question="What is 2 + 3?"), "cot", cfg, ponder.SolveOptions(samples=1))

    async def drain_quiet():
        return [e async for e in quiet.events()]

    assert not [e for e in asyncio.run(drain_quiet()) if isinstance(e, TextDelta)]
