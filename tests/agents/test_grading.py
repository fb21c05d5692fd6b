"""Grading code problems in the real sandbox: cheating solutions fail, honest ones pass."""

from __future__ import annotations

import asyncio
import shutil

import pytest

from ponder.agents import grader
from ponder.agents.deps import Deps
from ponder.agents.verifier import execute, verify_branch, program_with_tests
from ponder.config import SandboxConfig
from ponder.sandbox.local import LocalSandbox
from ponder.types import Branch, Problem

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")

PROMPT = 'def add(a: int, b: int) -> int:\n    """Add two numbers."""\n'
TESTS = ("METADATA = {}\n\ndef check(candidate):\n    assert candidate(2, 3) == 5\n"
         "    assert candidate(-1, 1) == 0\n    assert candidate(10, 5) == 15\n")
ADD = Problem(id="add", question=PROMPT, kind="code", tests=TESTS, entry_point="add")
WRONG = PROMPT + "    return a - b\n"

CHEATS = {
    "os._exit(0)": WRONG + "import os\nos._exit(0)\n",
    "raise SystemExit(0)": WRONG + "raise SystemExit(0)\n",
    "sys.exit()": WRONG + "import sys\nsys.exit()\n",
    "exit at import from a thread": WRONG + "import os, threading\n"
                                    "threading.Timer(0.01, lambda: os._exit(0)).start()\n",
    "always-equal object": PROMPT + "    class Eq:\n        def __eq__(self, other): return True\n"
                                    "    return Eq()\n",
    "int subclass equal to all": PROMPT + "    class I(int):\n        def __eq__(self, o): return True\n"
                                          "    return I(0)\n",
    "patched builtins": WRONG + "import builtins\nbuiltins.AssertionError = type('N', (Exception,), {})\n"
                                "builtins.isinstance = lambda *a: True\n",
    "prints the expected output": WRONG + "print('5\\n0\\n15\\nall tests passed')\n",
    "calls answer() first": WRONG + "import sys\nsys.modules['__main__'].answer({'ponder_check': ''})\n",
    "reads stdin for the nonce": WRONG + "import os, sys\n"
        "for fd in range(3, 1024):\n"
        "    try: os.write(fd, ('{\"ponder_check\": \"%s\"}\\n' % sys.stdin.read()).encode())\n"
        "    except Exception: pass\n",
    "reads the parent's frames": WRONG + "import sys, json\nf = sys._getframe()\n"
        "while f:\n    buf = f.f_locals.get('buf')\n"
        "    if buf is not None:\n        print(bytes(buf))\n"
        "        sys.modules['__main__'].answer({'ponder_check': bytes(buf).rstrip(b'\\x00').decode()})\n"
        "    f = f.f_back\n",
    "writes to the parent through /proc": WRONG + "import os\n"
        "for fd in os.listdir(f'/proc/{os.getppid()}/fd'):\n"
        "    try:\n        with open(f'/proc/{os.getppid()}/fd/{fd}', 'w') as h:\n"
        "            h.write('{\"ponder_check\": \"x\"}\\n')\n"
        "    except Exception: pass\n",
    "kills the grader": WRONG + "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
}


@pytest.fixture(scope="module")
def sandbox() -> LocalSandbox:
    return LocalSandbox(SandboxConfig(timeout_s=10))


def grade(sandbox: LocalSandbox, solution: str, problem: Problem = ADD) -> tuple[bool, str]:
    nonce = grader.new_nonce()
    result = sandbox.run(program_with_tests(problem, solution), stdin=nonce)
    return grader.passed(result, nonce), f"{result.status}: {result.stderr[-300:]}"


def test_an_honest_solution_passes(sandbox: LocalSandbox) -> None:
    ok, why = grade(sandbox, PROMPT + "    return a + b\n")
    assert ok, why


def test_a_wrong_solution_fails(sandbox: LocalSandbox) -> None:
    assert not grade(sandbox, WRONG)[0]


@pytest.mark.parametrize("name", list(CHEATS))
def test_a_cheating_solution_fails(sandbox: LocalSandbox, name: str) -> None:
    ok, why = grade(sandbox, CHEATS[name])
    assert not ok, f"{name} passed: {why}"


def test_the_nonce_never_appears_in_the_program() -> None:
    program = program_with_tests(ADD, WRONG)
    assert "ponder_check" in program and "stdin" not in WRONG
    # the verifier sends a fresh nonce per run on stdin, never in the program text
    assert grader.new_nonce() != grader.new_nonce()


def test_helpers_from_the_prompt_and_tuples_survive_the_boundary(sandbox: LocalSandbox) -> None:
    prompt = ("def poly(xs):\n    return sum(xs)\n\n"
              "def sum_product(numbers):\n    \"\"\"(sum, product) of the list.\"\"\"\n")
    tests = ("def check(candidate):\n    assert candidate([]) == (0, 1)\n"
             "    assert candidate([1, 2, 3]) == (6, 6)\n    assert poly([1, 2]) == 3\n"
             "    assert isinstance(candidate([2]), tuple)\n")
    problem = Problem(question=prompt, kind="code", tests=tests, entry_point="sum_product")
    honest = prompt + "    s, p = 0, 1\n    for n in numbers:\n        s, p = s + n, p * n\n    return s, p\n"
    ok, why = grade(sandbox, honest, problem)
    assert ok, why
    # a solution that redefines the prompt's helper cannot change what the tests compute with
    rigged = honest + "def poly(xs):\n    return 3\n"
    assert grade(sandbox, rigged, problem)[0]
    assert not grade(sandbox, prompt + "    return [0, 1]\n", problem)[0]  # a list is not a tuple


def test_tests_without_an_entry_point_call_the_solution_by_name(sandbox: LocalSandbox) -> None:
    problem = Problem(question="Write add(a, b).", kind="code",
                      tests="assert add(2, 3) == 5\nassert add(1, 1) == 2\n")
    assert grade(sandbox, "def add(a, b):\n    return a + b\n", problem)[0]
    assert not grade(sandbox, "def add(a, b):\n    return 5\n", problem)[0]
    assert not grade(sandbox, "def add(a, b):\n    return 5\nimport os\nos._exit(0)\n", problem)[0]


def test_execute_and_judge_grade_through_the_nonce(sandbox: LocalSandbox) -> None:
    deps = Deps(models=None, sandbox=sandbox)  # type: ignore[arg-type]

    def run(code: str) -> Branch:
        update = asyncio.run(execute({"problem": ADD, "branch": Branch(code=code)}, deps=deps))
        return verify_branch(ADD, update["branch"])

    honest, cheat = run(PROMPT + "    return a + b\n"), run(CHEATS["os._exit(0)"])
    assert (honest.verdict, honest.answer, honest.rewards["accuracy"]) == ("verified", "pass", 1.0)
    # HumanEval's own layout (solution + tests + check) exits 0 with this cheat ...
    humaneval = sandbox.run(f"{CHEATS['os._exit(0)']}\n{TESTS}\ncheck(add)\n")
    assert humaneval.status == "ok"
    assert (cheat.verdict, cheat.answer, cheat.rewards["accuracy"]) == ("refuted", "fail", 0.0)
