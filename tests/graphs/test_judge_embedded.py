"""The judge end to end on the embedded models (SmolLM2-135M judging Gemma-3-270M): beam
scored by the judge, best-of-n, and the judge-weighted vote, through the real sandbox and store.

The models are far too weak for the judge's verdicts to be right (see benchmarks/README.md);
these tests check that every path runs for real: verdicts read from real log-probabilities,
judge calls metered on their own trace events, counted in the run, and no score said so."""

from __future__ import annotations

import pytest

import ponder
from ponder.config import RoleConfig, SolveOptions, load_config
from ponder.models import ModelClient
from ponder.sandbox import make_sandbox
from ponder.store import Store
from ponder.types import Problem

pytestmark = pytest.mark.slow

PROBLEM = Problem(question="Sam has 3 apples and buys 4 more apples. How many apples does he "
                  "have now?", reference="7")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    cfg = load_config(None, store=tmp_path_factory.mktemp("judge") / "ponder.db", roles={
        "reasoner": RoleConfig(model="local/gemma-3-270m", max_tokens=64),
        "standard": RoleConfig(model="local/smollm2-135m", max_tokens=64)})
    return cfg, ModelClient(cfg), make_sandbox(cfg.sandbox)


def judged_rows(cfg, result) -> list[dict]:
    events = [e for e in Store(cfg.store).events(result.run_id) if e.node == "judge"]
    assert events and all(e.usage.calls >= 1 or e.outputs.get("skipped") for e in events)
    return [row for e in events for row in e.outputs.get("judged", [])]


def check_scores(rows: list[dict]) -> None:
    assert rows
    for row in rows:
        if row["score"] is None:
            assert row["no_score"], row  # no score always says why
        else:
            assert 0.0 <= row["score"] <= 1.0 and row["how"] == "logprob", row


@pytest.mark.parametrize("settings", [{"beam_scorer": "judge"}, {"pick": "best"},
                                      {"pick": "weighted"}], ids=["beam", "best", "weighted"])
def test_the_judge_runs_on_the_embedded_models(shared, settings):
    cfg, models, sandbox = shared
    strategy = "beam" if "beam_scorer" in settings else "best-of-n"
    shape = {"beam_width": 1, "beam_expand": 2, "beam_depth": 3} if strategy == "beam" else {}
    result = ponder.solve(PROBLEM, strategy, config=cfg, models=models, sandbox=sandbox,
                          options=SolveOptions(samples=2, seed=0,
                                               settings={**settings, **shape}))
    assert result.models["judge"] == "local/smollm2-135m"
    rows = judged_rows(cfg, result)
    check_scores(rows)
    judge_calls = sum(e.usage.calls for e in Store(cfg.store).events(result.run_id)
                      if e.node == "judge")
    assert result.usage.calls >= judge_calls >= 1
    if strategy == "best-of-n":
        assert result.samples_used == 2 and len(rows) <= 2
        scored = [r for r in rows if r["score"] is not None]
        assert (result.confidence_parts.get("check") == "judged") == any(
            r["answer"] == result.answer for r in scored)
    else:
        assert result.stopped in ("search_complete", "no_answer")
