"""Every strategy end to end through the real embedded models and the real sandbox."""

from __future__ import annotations

import pytest

import ponder
from ponder.config import RoleConfig, SolveOptions, load_config
from ponder.graphs.api import STRATEGIES, build_graph
from ponder.models import ModelClient
from ponder.sandbox import make_sandbox
from ponder.store import Store
from ponder.types import Problem

pytestmark = pytest.mark.slow

QUESTION = "Sam has 3 apples and buys 4 more apples. How many apples does he have now?"

BEAM = {"beam_width": 2, "beam_expand": 2, "beam_depth": 3}


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One config, model client and sandbox for the module (models load once)."""
    cfg = load_config(None, store=tmp_path_factory.mktemp("emb") / "ponder.db", roles={
        "reasoner": RoleConfig(model="local/gemma-3-270m", max_tokens=64),
        "standard": RoleConfig(model="local/smollm2-135m", max_tokens=64),
    })
    return cfg, ModelClient(cfg), make_sandbox(cfg.sandbox)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_strategy_through_embedded_model(strategy, shared):
    cfg, models, sandbox = shared
    problem = Problem(question=QUESTION, reference="7")
    options = SolveOptions(samples=2, settings=BEAM if strategy == "beam" else {})
    result = ponder.solve(problem, strategy, config=cfg, options=options, models=models,
                          sandbox=sandbox)
    assert result.usage.completion_tokens > 0 and result.usage.calls >= 1
    assert result.samples_used >= 1 or strategy == "beam"
    assert all(b.model.startswith("local/") for b in result.branches)
    if strategy in ("pot", "verified", "escalate"):
        ran = [b.execution for b in result.branches if b.execution is not None]
        assert ran, "code strategies execute the programs they write"
        assert all(e.status in ("ok", "error", "timeout") for e in ran)
    events = Store(cfg.store).events(result.run_id)
    assert events[0].node == "problem" and events[-1].node == "result"
    assert result.correct is (result.answer == "7")


def test_program_of_thought_gets_simple_arithmetic_right(shared):
    cfg, models, sandbox = shared
    result = ponder.solve(Problem(question=QUESTION, reference="7"), "verified", config=cfg,
                          options=SolveOptions(samples=4, seed=0), models=models, sandbox=sandbox)
    assert result.answer == "7" and result.correct and result.seed == 0
    assert any(b.code and "answer(" in b.code and b.code_answer == "7" for b in result.branches)


def test_live_progress_from_embedded_run(shared):
    import asyncio

    from ponder.graphs.api import progress_events

    cfg, models, sandbox = shared
    graph = build_graph("self-consistency", cfg, options=SolveOptions(samples=2), models=models)

    async def collect():
        return [e async for e in progress_events(graph, Problem(question="What is 2 + 2?"))]

    events = asyncio.run(collect())
    assert [e for e in events if e.type == "branch"]
    assert events[-1].type == "result" and events[-1].result.samples_used >= 1
