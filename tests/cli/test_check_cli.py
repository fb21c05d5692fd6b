"""``ponder solve --check`` and ``ponder batch --check``: the checks a run passes first
(ponder.check_run, the same the library runs), with nothing solved or stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli import app
from ponder.errors import PonderError
from ponder.scripted import register_script

runner = CliRunner()
CALLS: list[int] = []


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    def script(messages, index):
        CALLS.append(index)
        return "Answer: 4"

    model = register_script("cli-check", script)
    config = tmp_path / "ponder.toml"
    config.write_text(f'[roles.reasoner]\nmodel = "{model}"\n[roles.standard]\nmodel = "{model}"\n')
    data = tmp_path / "d.jsonl"
    data.write_text("".join(json.dumps({"question": f"What is {i} + 2?", "answer": str(i + 2)})
                            + "\n" for i in range(3)))
    CALLS.clear()
    return config, data, tmp_path / "store.db"


def test_batch_check_reads_the_dataset_and_checks_every_strategy_solving_nothing(setup) -> None:
    config, data, store = setup
    result = runner.invoke(app, ["batch", str(data), "-s", "cot,checked", "--check", "--json",
                                 "--config", str(config), "--store", str(store),
                                 "--sandbox", "subprocess"])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["dataset"]["rows"] == 3 and found["dataset"]["kind"] == "math"
    assert found["strategies"]["cot"]["roles"] == {"reasoner": "scripted/cli-check"}
    assert found["strategies"]["checked"]["settings"]["min_agree"] == 3
    assert found["sandbox"] == "subprocess"
    assert CALLS == [] and not store.exists()


def refusal(result) -> str:
    """The error a command raised (``ponder``'s main prints it and exits 2)."""
    assert isinstance(result.exception, PonderError), result.output
    return str(result.exception)


def test_batch_check_refuses_what_a_run_would_refuse_with_the_same_message(setup) -> None:
    config, data, store = setup
    common = ["--check", "--config", str(config), "--store", str(store)]
    bad_setting = runner.invoke(app, ["batch", str(data), "-s", "beam", "--set", "beam_width=x",
                                      *common])
    assert "beam_width" in refusal(bad_setting)
    no_key = runner.invoke(app, ["batch", str(data), "-s", "cot", "--reasoner",
                                 "openai/gpt-4o-mini", *common], env={"OPENAI_API_KEY": ""})
    assert "OPENAI_API_KEY" in refusal(no_key)
    missing = runner.invoke(app, ["batch", str(data.with_name("none.jsonl")), *common])
    assert "none.jsonl" in refusal(missing)
    assert CALLS == [] and not store.exists()


def test_solve_check_runs_check_run_and_solves_nothing(setup) -> None:
    config, _, store = setup
    result = runner.invoke(app, ["solve", "What is 2 + 2?", "-s", "beam", "--set", "beam_width=3",
                                 "--check", "--json", "--config", str(config),
                                 "--store", str(store)])
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)
    assert found["strategy"] == "beam" and found["settings"]["beam_width"] == 3
    assert found["roles"]["reasoner"] == "scripted/cli-check"
    assert CALLS == [] and not store.exists()
    text = runner.invoke(app, ["solve", "What is 2 + 2?", "-s", "cot", "--check",
                               "--config", str(config), "--store", str(store)])
    assert text.exit_code == 0 and "check passed" in text.output
    assert "sandbox: not needed" in text.output
