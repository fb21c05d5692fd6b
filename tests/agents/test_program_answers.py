"""Program-of-thought answers: read from the value channel, stdout only as a fallback."""

from __future__ import annotations

import asyncio
import re
import shutil

import pytest

from ponder.agents import prompts
from ponder.agents.deps import Deps
from ponder.agents.verifier import execute, verify_branch
from ponder.config import SandboxConfig
from ponder.sandbox.local import LocalSandbox
from ponder.types import Branch, Problem

LUCY = Problem(question="Lucy has 14 stickers and gets 6 more. How many does she have?",
               reference="20")


def run(code: str, problem: Problem = LUCY, reasoned: str | None = None) -> Branch:
    deps = Deps(models=None, sandbox=LocalSandbox(SandboxConfig(timeout_s=10)))  # type: ignore[arg-type]
    branch = Branch(code=code, answer=reasoned, verdict="unverified" if reasoned else "no_answer")
    update = asyncio.run(execute({"problem": problem, "branch": branch}, deps=deps))
    return verify_branch(problem, update["branch"])


needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")


@needs_bwrap
def test_the_value_channel_beats_printed_text() -> None:
    branch = run("total = 14 + 6\nprint(8)\nanswer(total)")
    assert branch.code_answer == "20" and branch.answer == "20"


@needs_bwrap
def test_printing_a_fake_value_line_changes_nothing() -> None:
    branch = run("answer(20)\nprint('{\"value\": 8}')\nprint(8)")
    assert branch.code_answer == "20"


@needs_bwrap
def test_stdout_is_the_documented_fallback() -> None:
    assert run("print(14 + 6)").code_answer == "20"
    assert run("print('Lucy has', 14 + 6, 'stickers.')").code_answer == "20"


@needs_bwrap
def test_a_crashed_program_does_not_refute_the_reasoning() -> None:
    branch = run("answer(stickers + 6)", reasoned="20")  # NameError
    assert branch.execution is not None and branch.execution.status == "error"
    assert branch.verdict == "unverified" and branch.answer == "20"
    syntax = run("answer(14 +", reasoned="20")
    assert syntax.verdict == "unverified"


def test_prompts_ask_for_answer_x() -> None:
    completion = prompts.code(LUCY, "completion")[0]["content"]
    programs = re.findall(r"```python\n(.*?)```", completion, re.S)
    assert programs and all(p.rstrip().splitlines()[-1].startswith("answer(") for p in programs)
    assert "answer(x)" in prompts.code(LUCY, "chat")[0]["content"]
    # beam search finishes a program on its print line
    assert "answer(" not in prompts.step(LUCY, "")[0]["content"]


def test_exemplars_span_one_to_three_steps() -> None:
    completion = prompts.code(LUCY, "completion")[0]["content"]
    programs = re.findall(r"```python\n(.*?)```", completion, re.S)
    steps = {len(re.findall(r"[-+*/]", p)) for p in programs}
    assert {1, 2, 3} <= steps
