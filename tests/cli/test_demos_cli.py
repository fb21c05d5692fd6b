"""``--demos RUN`` on ``ponder solve`` and ``ponder batch``: a stored run's verified-correct
programs reach the model's prompt (a scripted model records what it was sent)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli import app
from ponder.errors import ConfigError
from ponder.scripted import register_script

SEEN: list[list[dict[str, str]]] = []


def add(messages: list[dict[str, str]], index: int) -> str:
    """Adds the two numbers of the last question; records every prompt it is sent."""
    SEEN.append(messages)
    a, b = map(int, re.findall(r"(\d+) \+ (\d+)", messages[-1]["content"])[-1])
    if "python" in messages[-1]["content"].lower():
        return f"```python\nprint({a} + {b})\n```"
    return f"{a} + {b} = {a + b}.\nAnswer: {a + b}"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    model = register_script("demos-add", add)
    config = tmp_path / "ponder.toml"
    config.write_text(f'[roles.reasoner]\nmodel = "{model}"\nmax_tokens = 64\n'
                      f'[roles.standard]\nmodel = "{model}"\nmax_tokens = 64\n')
    data = tmp_path / "add.jsonl"
    data.write_text("".join(json.dumps({"id": f"q{i}", "question": f"What is {i} + 2?",
                                        "answer": str(i + 2)}) + "\n" for i in range(3)))
    SEEN.clear()
    return {"config": str(config), "store": str(tmp_path / "s.db"), "data": str(data)}


def invoke(env: dict[str, str], *args: str):
    return CliRunner().invoke(app, [*args, "--config", env["config"], "--store", env["store"],
                                    "--sandbox", "subprocess"])


def solved(env: dict[str, str], *args: str) -> None:
    done = invoke(env, *args)
    assert done.exit_code == 0, done.output


def test_solve_with_demos_from_a_run_shows_its_programs_never_the_question_itself(
        env: dict[str, str]) -> None:
    solved(env, "batch", env["data"], "-s", "pot", "-n", "1", "--run", "one-step", "--json")
    SEEN.clear()
    solved(env, "solve", "What is 1 + 2?", "-s", "pot", "-n", "1", "--demos", "one-step",
           "--json")
    [messages] = SEEN
    turns = [(m["role"], m["content"]) for m in messages]
    # The two other questions of the run, as earlier turns with their verified programs; the
    # run's own "What is 1 + 2?" is the question itself, so it is not a demo.
    assert [role for role, _ in turns] == ["user", "assistant", "user", "assistant", "user"]
    shown = [content for role, content in turns[:-1] if role == "user"]
    assert sorted(q.rsplit("\n\n", 1)[-1] for q in shown) == ["What is 0 + 2?", "What is 2 + 2?"]
    assert {c for r, c in turns if r == "assistant"} == {"```python\nanswer(0 + 2)\n```",
                                                         "```python\nanswer(2 + 2)\n```"}
    assert sum("What is 1 + 2?" in content for _, content in turns) == 1


def test_batch_with_demos_gives_each_problem_the_others(env: dict[str, str]) -> None:
    solved(env, "batch", env["data"], "-s", "pot", "-n", "1", "--run", "one-step")
    SEEN.clear()
    solved(env, "batch", env["data"], "-s", "pot", "-n", "1", "--run", "with-demos",
           "--demos", "one-step")
    assert len(SEEN) == 3
    for messages in SEEN:
        own = messages[-1]["content"].rsplit("\n\n", 1)[-1]
        earlier = [m["content"] for m in messages[:-1]]
        assert len(earlier) == 4 and not any(own in text for text in earlier)


def test_demos_from_a_run_without_verified_correct_traces_is_a_clear_error(
        env: dict[str, str]) -> None:
    solved(env, "batch", env["data"], "-s", "cot", "-n", "1", "--run", "prose-only")
    refused = invoke(env, "solve", "What is 1 + 2?", "--demos", "prose-only")
    assert isinstance(refused.exception, ConfigError)
    assert "no verified-correct traces" in str(refused.exception)
    assert "3 results, 3 with a reference" in str(refused.exception)
