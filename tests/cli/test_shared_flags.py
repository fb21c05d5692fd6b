"""The flags `solve` and `batch` share come from one table (ponder.cli.common.SHARED_FLAGS):
both commands take every one, each reaches the run's SolveOptions, and a new shared option
is one SolveOptions field plus one line in that table."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from ponder.cli import app, common, solve_cmd
from ponder.cli.common import SHARED_FLAGS, Flag, with_solve_flags
from ponder.config import SolveOptions

runner = CliRunner()


def _options_of(command: str) -> set[str]:
    click_command = get_command(app).commands[command]  # type: ignore[attr-defined]
    return {opt for param in click_command.params for opt in param.opts}


@pytest.mark.parametrize("command", ["solve", "batch"])
def test_both_commands_take_every_shared_flag(command: str) -> None:
    assert {flag.option for flag in SHARED_FLAGS} <= _options_of(command)


def test_every_shared_flag_fills_a_solve_option_or_the_config() -> None:
    for flag in SHARED_FLAGS:
        assert flag.to_config or (flag.field or flag.name) in SolveOptions.model_fields, flag.name


ALL_FLAGS = ["--samples", "3", "--no-early-stop", "--stop-rule", "conservative",
             "--stop-threshold", "0.9", "--budget-tokens", "500", "--budget-usd", "0.5",
             "--set", "beam_width=4", "--seed", "11", "--reasoner", "local/smollm2-135m",
             "--sandbox", "subprocess"]


def _expect(options: SolveOptions, config: Any) -> None:
    assert (options.samples, options.early_stop, options.stop_rule, options.stop_threshold,
            options.budget_tokens, options.budget_usd, options.settings, options.seed) == (
        3, False, "conservative", 0.9, 500, 0.5, {"beam_width": 4}, 11)
    assert config.roles["reasoner"].model == "local/smollm2-135m"
    assert config.sandbox.backend == "subprocess"


def test_solve_sends_every_shared_flag_into_its_options(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Any) -> None:
    seen: dict[str, Any] = {}

    def fake_solve(question: str, name: str, *, config: Any, options: SolveOptions) -> Any:
        seen.update(question=question, config=config, options=options)
        raise typer.Exit(0)

    monkeypatch.setattr("ponder.graphs.api.solve", fake_solve)
    result = runner.invoke(app, ["solve", "What is 2+2?", "--plan", *ALL_FLAGS,
                                 "--store", str(tmp_path / "p.db")])
    assert result.exit_code == 0, result.output
    assert seen["options"].plan is True
    _expect(seen["options"], seen["config"])


def test_batch_sends_every_shared_flag_into_its_settings(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Any) -> None:
    seen: dict[str, Any] = {}

    async def fake_run_batch(spec: Any, config: Any, settings: Any, **_: Any) -> Any:
        seen.update(config=config, settings=settings)
        raise typer.Exit(0)

    monkeypatch.setattr("ponder.graphs.batch.run_batch", fake_run_batch)
    data = tmp_path / "d.jsonl"
    data.write_text('{"question": "2+2?", "answer": "4"}\n')
    result = runner.invoke(app, ["batch", str(data), *ALL_FLAGS, "--store", str(tmp_path / "p.db")])
    assert result.exit_code == 0, result.output
    _expect(seen["settings"].options, seen["config"])


def test_a_bad_shared_value_in_batch_names_its_flag(tmp_path: Any) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text('{"question": "2+2?", "answer": "4"}\n')
    result = runner.invoke(app, ["batch", str(data), "--set", "nonsense", "--store",
                                 str(tmp_path / "p.db")])
    assert result.exit_code == 2
    assert "--set" in result.output


def test_a_new_shared_option_is_one_line_in_the_table(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Any) -> None:
    """keep_fraction is a SolveOptions field with no flag: one Flag line gives `solve` its
    flag, and its value reaches the run's options; nothing in the command changes."""
    assert common.flag_for("keep_fraction") is None
    flag = Flag("keep_fraction", Annotated[float | None, typer.Option("--keep-fraction")])
    monkeypatch.setattr(common, "SHARED_FLAGS", (*SHARED_FLAGS, flag))
    seen: dict[str, Any] = {}

    def fake_solve(question: str, name: str, *, config: Any, options: SolveOptions) -> Any:
        seen["options"] = options

    monkeypatch.setattr("ponder.graphs.api.solve", fake_solve)
    monkeypatch.setattr(solve_cmd, "_print_result", lambda result: None)
    one = typer.Typer()
    one.command()(with_solve_flags(solve_cmd.solve.__wrapped__))  # type: ignore[attr-defined]
    one.command("other")(lambda: None)
    result = runner.invoke(one, ["solve", "2+2?", "--keep-fraction", "0.5",
                                 "--store", str(tmp_path / "p.db")])
    assert result.exit_code == 0, result.output
    assert seen["options"].keep_fraction == 0.5
    assert common.flag_for("keep_fraction") == "--keep-fraction"


def test_a_command_without_a_flags_parameter_is_refused() -> None:
    with pytest.raises(TypeError, match="flags"):
        with_solve_flags(lambda question: None)
