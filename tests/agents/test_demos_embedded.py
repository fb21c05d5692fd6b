"""Demos bootstrapped from a stored run, through the real embedded model and sandbox."""

from __future__ import annotations

import pytest

import ponder
from ponder.agents.demos import demos_from_run
from ponder.config import RoleConfig, SolveOptions, load_config
from ponder.models import ModelClient
from ponder.sandbox import make_sandbox
from ponder.store import Store
from ponder.types import Problem

pytestmark = pytest.mark.slow

SOURCE = Problem(id="apples", question="Sam has 3 apples and buys 4 more apples. How many "
                 "apples does he have now?", reference="7")
TARGET = Problem(id="marbles", question="Mia has 5 marbles and finds 6 more marbles. How many "
                 "marbles does she have now?", reference="11")


def test_a_verified_program_of_a_stored_run_is_shown_to_the_model(tmp_path) -> None:
    cfg = load_config(None, store=tmp_path / "ponder.db", roles={
        "reasoner": RoleConfig(model="local/gemma-3-270m", max_tokens=64),
        "standard": RoleConfig(model="local/smollm2-135m", max_tokens=64)})
    models, sandbox = ModelClient(cfg), make_sandbox(cfg.sandbox)
    first = ponder.solve(SOURCE, "pot", config=cfg, models=models, sandbox=sandbox,
                         options=SolveOptions(samples=2, seed=0, early_stop=False))
    assert first.correct, [b.code for b in first.branches]
    demos = demos_from_run(cfg.store, first.run_id)
    assert [d.question for d in demos] == [SOURCE.question]
    program = demos[0].program
    assert program and "answer(" in program

    result = ponder.solve(TARGET, "pot", config=cfg, models=models, sandbox=sandbox,
                          options=SolveOptions(samples=2, seed=0, demos=demos))
    assert result.samples_used >= 1 and result.usage.completion_tokens > 0
    prompts = [e.inputs["messages"][0]["content"]
               for e in Store(cfg.store).events(result.run_id) if e.node == "code"]
    assert prompts and all(f"Question: {SOURCE.question}\n```python\n{program}\n```" in p
                           for p in prompts)
    assert all("slices = 12 // 4" not in p for p in prompts)  # not the built-in exemplars
