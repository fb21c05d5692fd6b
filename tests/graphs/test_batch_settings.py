"""``BatchSettings`` holds the per-problem ``SolveOptions``: the former flat shape still
builds, and a run stored before the reshape keeps its identity and resumes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from ponder.config import Demo, SolveOptions
from ponder.eval.datasets import DatasetSpec
from ponder.graphs.batch import BatchSettings, run_batch
from ponder.scripted import register_script
from ponder.store import Store


def add(messages: list[dict[str, str]], index: int) -> str:
    a, b = map(int, re.findall(r"(\d+) \+ (\d+)", messages[-1]["content"])[-1])
    return f"{a} + {b} = {a + b}.\nAnswer: {a + b}"


@pytest.fixture
def cfg(scripted_config):
    return scripted_config(register_script("batch-settings-add", add), samples=5)


def dataset(tmp_path: Path, n: int) -> DatasetSpec:
    path = tmp_path / "add.jsonl"
    path.write_text("".join(json.dumps({"question": f"What is {i} + 2?", "answer": f"#### {i + 2}"})
                            + "\n" for i in range(n)))
    return DatasetSpec(source=str(path))


def former_options(config, **flat) -> SolveOptions:
    """The options the flat ``BatchSettings`` of the previous release built (its run's hash)."""
    s = {"samples": None, "early_stop": True, "stop_rule": "adaptive", "stop_threshold": 0.95,
         "seed": None, "demos": None, "budget_usd": None, "budget_tokens": None, "settings": {},
         **flat}
    return SolveOptions(samples=s["samples"] or config.samples, early_stop=s["early_stop"],
                        seed=s["seed"], stop_rule=s["stop_rule"],
                        stop_threshold=s["stop_threshold"], demos=s["demos"],
                        budget_usd=s["budget_usd"], budget_tokens=s["budget_tokens"],
                        settings=s["settings"])


@pytest.mark.parametrize("flat", [
    {},
    {"samples": 3, "seed": 7, "early_stop": False},
    {"stop_rule": "conservative", "stop_threshold": 0.8, "budget_tokens": 900,
     "settings": {"check_below": 0.5}, "demos": [Demo(question="1 + 1?", answer="2")]},
])
def test_flat_and_nested_settings_solve_with_the_options_the_former_shape_hashed(cfg, flat):
    flat_settings = BatchSettings(strategies=["cot"], **flat)
    nested = BatchSettings(strategies=["cot"], options=SolveOptions(**flat))
    expected = former_options(cfg, **flat).model_dump()
    assert flat_settings.solve_options(cfg).model_dump() == expected
    assert nested.solve_options(cfg).model_dump() == expected


def test_samples_not_given_are_the_configs_and_given_ones_are_kept(cfg):
    assert BatchSettings(strategies=["cot"], samples=None).solve_options(cfg).samples == 5
    assert BatchSettings(strategies=["cot"]).solve_options(cfg).samples == 5
    assert BatchSettings(strategies=["cot"], samples=2).solve_options(cfg).samples == 2
    assert BatchSettings(strategies=["cot"],
                         options={"samples": 8}).solve_options(cfg).samples == 8


def test_flat_options_merge_over_the_nested_ones_and_are_validated():
    settings = BatchSettings(strategies=["cot"], options=SolveOptions(seed=1, samples=4), seed=2)
    assert (settings.options.seed, settings.options.samples) == (2, 4)
    with pytest.warns(DeprecationWarning):
        renamed = BatchSettings(strategies=["cot"], strategy_options={"check_below": 0.5})
    assert renamed.options.settings == {"check_below": 0.5}
    with pytest.raises(ValidationError, match="samples"):
        BatchSettings(strategies=["cot"], samples=0)


async def test_a_run_started_with_flat_settings_resumes_with_nested_options(tmp_path, cfg):
    store, spec = Store(cfg.store), dataset(tmp_path, 3)
    first = await run_batch(spec, cfg, BatchSettings(strategies=["cot"], samples=2, seed=3,
                                                     limit=2), store=store)
    again = await run_batch(spec, cfg, BatchSettings(
        strategies=["cot"], options=SolveOptions(samples=2, seed=3)), store=store)
    assert (first.solved, again.resumed, again.solved) == (2, 2, 1)
    assert first.run.id == again.run.id and again.run.config_hash == first.run.config_hash
