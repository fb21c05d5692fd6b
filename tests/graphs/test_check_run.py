"""One set of pre-run checks (ponder.check_run) for every entry point, and a batch validates
its strategies' settings once, however many items and strategies it has."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, model_validator

import ponder
from ponder.errors import ConfigError
from ponder.eval.datasets import DatasetSpec
from ponder.graphs.batch import BatchSettings, run_batch
from ponder.graphs.registry import get_strategy, register_strategy, scoped
from ponder.graphs.strategy import Strategy
from ponder.scripted import register_script

VALIDATIONS: list[int] = []


class CountedSettings(BaseModel):
    width: int = 2

    @model_validator(mode="after")
    def _count(self) -> CountedSettings:
        VALIDATIONS.append(self.width)
        return self


@pytest.fixture
def cfg(scripted_config):
    return scripted_config(register_script("check-run", lambda m, i: "The answer is 5."))


def counted(**fields: Any) -> Strategy[CountedSettings]:
    return Strategy(name="counted", summary="cot, with settings that count their validations",
                    build=get_strategy("cot").build, settings=CountedSettings, **fields)


def test_check_run_returns_the_typed_settings_and_the_prepared_options(cfg) -> None:
    run = ponder.check_run("beam", cfg, ponder.SolveOptions(settings={"beam_width": 3}))
    assert run.strategy.name == "beam" and run.settings.beam_width == 3
    with pytest.raises(ConfigError, match="beam_width"):
        ponder.check_run("beam", cfg, ponder.SolveOptions(settings={"beam_width": "wide"}))
    with pytest.raises(ConfigError, match="unknown strategy"):
        ponder.check_run("no-such-strategy", cfg, ponder.SolveOptions())


def test_a_strategy_that_refuses_its_models_is_refused_by_check_run(cfg) -> None:
    def refuse(models: Any, options: Any, settings: Any) -> None:
        raise ConfigError("not with these models")

    with scoped():
        register_strategy(counted(check=refuse))
        with pytest.raises(ConfigError, match="not with these models"):
            ponder.check_run("counted", cfg, ponder.SolveOptions())


def test_a_batch_validates_its_settings_once(cfg, tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"question": f"What is {i} + 5?", "answer": str(i + 5)})
                            + "\n" for i in range(4)))
    VALIDATIONS.clear()
    with scoped():
        register_strategy(counted())
        outcome = asyncio.run(run_batch(DatasetSpec(source=str(data)), cfg, BatchSettings(
            strategies=["counted", "cot"], options=ponder.SolveOptions(
                samples=1, settings={"width": 7}))))
    assert outcome.solved == 8
    assert VALIDATIONS == [7]
