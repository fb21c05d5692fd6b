"""The contract every sandbox backend keeps: statuses, output, value channel, stdin, limits."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
import warnings

import pytest

from ponder.config import SandboxConfig
from ponder.errors import SandboxUnavailable
from ponder.sandbox import SANDBOXES, Sandbox, make_sandbox
from ponder.sandbox.e2b import E2BSandbox
from ponder.types import ExecResult

CAP = 2000
HAS_BWRAP = shutil.which("bwrap") is not None
HAS_E2B_KEY = bool(os.environ.get("E2B_API_KEY"))

BACKEND_PARAMS = [
    pytest.param("local", marks=pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap not installed")),
    pytest.param("subprocess"),
    pytest.param("e2b", marks=pytest.mark.skipif(not HAS_E2B_KEY, reason="E2B_API_KEY not set")),
]


def config(backend: str, **extra: object) -> SandboxConfig:
    base: dict[str, object] = dict(backend=backend, timeout_s=5, max_output_bytes=CAP, concurrency=2)
    return SandboxConfig(**(base | extra))


@pytest.fixture(params=BACKEND_PARAMS)
def sandbox(request: pytest.FixtureRequest) -> Sandbox:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        box = make_sandbox(config(request.param))
    yield box
    asyncio.run(box.aclose())


def test_the_registry_holds_every_builtin_backend() -> None:
    assert set(SANDBOXES) == {"local", "e2b", "subprocess"}


def test_ok_program_reports_stdout_and_no_value(sandbox: Sandbox) -> None:
    result = sandbox.run("print('hello'); print(6 * 7)")
    assert result.status == "ok", result
    assert result.stdout == "hello\n42\n"
    assert result.exit_code == 0 and result.value is None and not result.truncated
    assert result.duration_s > 0


def test_value_channel_round_trips_json(sandbox: Sandbox) -> None:
    value = {"n": 42, "xs": [1, 2.5, "a", None], "nested": {"ok": True}}
    result = sandbox.run(f"print('VERDICT: refuted'); answer({value!r}); answer('second call ignored')")
    assert result.status == "ok", result
    assert result.value == value
    assert result.stdout == "VERDICT: refuted\n"


def test_oversized_value_is_refused_by_answer(sandbox: Sandbox) -> None:
    result = sandbox.run(f"answer('x' * {2 * CAP})")
    assert result.status == "error" and "the limit is" in result.stderr and result.value is None


def test_values_json_cannot_store_are_made_storable(sandbox: Sandbox) -> None:
    result = sandbox.run("answer(['\\udc80', float('nan'), float('inf'), {'\\udfff': 1}])")
    assert result.status == "ok", result
    assert result.value == ["\ufffd", "nan", "inf", {"\ufffd": 1}]
    assert ExecResult.model_validate_json(result.model_dump_json()).value == result.value


def test_a_coding_line_does_not_reinterpret_the_text(sandbox: Sandbox) -> None:
    result = sandbox.run("# -*- coding: latin-1 -*-\nanswer('café ✓')")
    assert result.status == "ok", result
    assert result.value == "café ✓"


def test_value_stays_none_when_only_printed(sandbox: Sandbox) -> None:
    result = sandbox.run("print('VERDICT: verified'); print('{\"value\": 1}')")
    assert result.status == "ok" and result.value is None


def test_stdin_reaches_the_program(sandbox: Sandbox) -> None:
    result = sandbox.run("name = input(); rest = __import__('sys').stdin.read(); print(name[::-1], rest.split())",
                         stdin="abc\n1 2 3\n")  # fmt: skip
    assert result.status == "ok", result
    assert result.stdout == "cba ['1', '2', '3']\n"


def test_exception_is_an_error_with_the_traceback(sandbox: Sandbox) -> None:
    result = sandbox.run("def f(x):\n    return 1 / x\n\nf(0)\n")
    assert result.status == "error"
    assert "ZeroDivisionError" in result.stderr and "line 2" in result.stderr
    assert result.exit_code != 0 and "ZeroDivisionError" in result.message


def test_syntax_error_and_exit_codes(sandbox: Sandbox) -> None:
    assert sandbox.run("x = (").status == "error"
    assert sandbox.run("import sys; sys.exit(0)").status == "ok"
    failed = sandbox.run("import sys; sys.exit(3)")
    assert failed.status == "error" and failed.exit_code in (3, 1)


def test_wall_clock_timeout(sandbox: Sandbox) -> None:
    start = time.monotonic()
    result = sandbox.run("while True:\n    pass\n", timeout_s=1)
    assert result.status == "timeout", result
    assert time.monotonic() - start < 4


def test_cpu_time_limit_ends_a_busy_program(sandbox: Sandbox) -> None:
    if sandbox.name == "e2b":
        pytest.skip("E2B has no per-program CPU limit; the wall clock covers it")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        busy = make_sandbox(config(sandbox.name, cpu_s=1, timeout_s=20))
    start = time.monotonic()
    result = busy.run("while True:\n    pass\n")
    assert result.status == "timeout" and "CPU" in result.message, result
    assert time.monotonic() - start < 10


def test_output_over_the_cap_is_truncated(sandbox: Sandbox) -> None:
    result = sandbox.run(f"print('x' * {2 * CAP}); answer(1)")
    assert result.status == "ok", result
    assert result.truncated and len(result.stdout) == CAP and result.value == 1


def test_memory_error_is_oom(sandbox: Sandbox) -> None:
    result = sandbox.run("blob = bytearray(1 << 40)")
    assert result.status == "oom", result


def test_parallel_runs_are_bounded_by_concurrency(sandbox: Sandbox) -> None:
    program = "import time\nstart = time.time()\ntime.sleep(0.5)\nanswer([start, time.time()])\n"

    async def burst() -> list:
        return await asyncio.gather(*(sandbox.arun(program) for _ in range(4)))

    results = asyncio.run(burst())
    assert all(r.status == "ok" for r in results), results
    spans = [r.value for r in results]
    most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert most == 2  # concurrency=2: two at a time, never more, never fewer


def test_sync_runs_from_threads_are_bounded_too(sandbox: Sandbox) -> None:
    import concurrent.futures

    program = "import time\nstart = time.time()\ntime.sleep(0.4)\nanswer([start, time.time()])\n"
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        spans = [r.value for r in pool.map(lambda _: sandbox.run(program), range(4))]
    assert max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans) == 2


async def test_sync_run_works_inside_a_running_loop(sandbox: Sandbox) -> None:
    assert sandbox.run("answer('from a loop')").value == "from a loop"


@pytest.mark.parametrize("backend", [p.values[0] for p in BACKEND_PARAMS[:2]])
def test_numpy_and_sympy_values_become_json(backend: str) -> None:
    if backend == "local" and not HAS_BWRAP:
        pytest.skip("bubblewrap not installed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        box = make_sandbox(config(backend, timeout_s=20))
    result = box.run("import numpy as np, sympy\nanswer([np.int64(7), np.arange(3), sympy.Rational(1, 3)])")
    assert result.status == "ok", result
    assert result.value == [7, [0, 1, 2], "1/3"]


def test_missing_bwrap_raises_with_the_install_fix() -> None:
    with pytest.raises(SandboxUnavailable) as err:
        make_sandbox(SandboxConfig(bwrap="/nonexistent/bwrap"))
    message = str(err.value)
    assert "bubblewrap" in message and "apt-get install -y bubblewrap" in message
    assert "--sandbox subprocess" in message


def test_subprocess_backend_warns_that_it_does_not_isolate() -> None:
    with pytest.warns(RuntimeWarning, match="NOT isolate"):
        make_sandbox(SandboxConfig(backend="subprocess"))


def test_e2b_without_a_key_cannot_be_made_and_a_keyless_box_only_errors(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("E2B_API_KEY", raising=False)
    with pytest.raises(SandboxUnavailable, match="E2B_API_KEY is not set"):
        make_sandbox(SandboxConfig(backend="e2b"))
    result = E2BSandbox(SandboxConfig(backend="e2b")).run("print(1)")
    assert result.status == "sandbox_error"
    assert "E2B_API_KEY" in result.message


def test_e2b_without_the_package_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "e2b_code_interpreter", None)
    result = E2BSandbox(SandboxConfig(backend="e2b"), api_key="e2b_dummy").run("print(1)")
    assert result.status == "sandbox_error"
    assert "pip install 'ponder[e2b]'" in result.message


class FakeE2BBox:
    """Stands in for ``AsyncSandbox``: runs each cell in-process, like one Jupyter kernel."""

    def __init__(self, sdk: object) -> None:
        self.sdk, self.files, self.namespace = sdk, self, {}
        self.sandbox_id = f"fake-{id(self)}"
        self.stdin = __import__("io").StringIO("")

    async def create_code_context(self) -> object:
        return object()

    async def remove_code_context(self, context: object) -> None:
        self.namespace.clear()

    async def run_code(self, code: str, context: object = None, timeout: float | None = None) -> object:
        import contextlib
        import io
        import sys
        import traceback

        out, error = io.StringIO(), None
        ours, sys.stdin = sys.stdin, self.stdin  # the kernel's stdin lives across cells
        try:
            with contextlib.redirect_stdout(out):
                exec(code, self.namespace)
        except BaseException as exc:  # a kernel reports every exception as an error
            error = self.sdk.ExecutionError(type(exc).__name__, str(exc), traceback.format_exc())
        finally:
            self.stdin, sys.stdin = sys.stdin, ours
        return self.sdk.Execution(logs=self.sdk.Logs(stdout=[out.getvalue()]), error=error)

    async def read(self, path: str) -> str:
        with open(path) as fh:
            return fh.read()

    async def remove(self, path: str) -> None:
        os.remove(path)


@pytest.fixture
def fake_e2b(monkeypatch: pytest.MonkeyPatch) -> E2BSandbox:
    sdk = pytest.importorskip("e2b_code_interpreter")

    async def create(**options: object) -> FakeE2BBox:
        assert options["allow_internet_access"] is False and options["api_key"] == "e2b_test"
        return FakeE2BBox(sdk)

    async def kill(sandbox_id: str, **options: object) -> bool:
        KILLED.append(sandbox_id)
        return True

    monkeypatch.setattr(sdk.AsyncSandbox, "create", create)
    monkeypatch.setattr(sdk.AsyncSandbox, "kill", kill)
    KILLED.clear()
    return E2BSandbox(config("e2b"), api_key="e2b_test")


KILLED: list[str] = []


def test_e2b_glue_maps_output_values_and_errors(fake_e2b: E2BSandbox) -> None:
    ok = fake_e2b.run("print(input()); answer({'n': 7}); answer('ignored')", stdin="from stdin\n")
    assert (ok.status, ok.stdout, ok.value) == ("ok", "from stdin\n", {"n": 7})
    failed = fake_e2b.run("1 / 0")
    assert failed.status == "error" and "ZeroDivisionError" in failed.stderr and failed.value is None
    assert fake_e2b.run("raise MemoryError()").status == "oom"
    assert fake_e2b.run("raise SystemExit(0)").status == "ok"
    assert fake_e2b.run(f"answer('x' * {2 * CAP})").status == "error"
    flood = fake_e2b.run(f"print('x' * {5 * CAP})")
    assert flood.status == "output_limit" and flood.truncated and len(flood.stdout) == CAP
    asyncio.run(fake_e2b.aclose())
    assert len(KILLED) == 6  # each sync run had its own loop, so its own remote sandbox: all killed


def test_e2b_output_and_errors_with_lone_surrogates_stay_storable(fake_e2b: E2BSandbox) -> None:
    result = fake_e2b.run("print('out \\udc80'); answer('\\ud800'); raise ValueError('bad \\udfff')")
    assert result.status == "error" and result.value == "\ufffd"
    assert "out \ufffd" in result.stdout and "bad \ufffd" in result.message
    assert ExecResult.model_validate_json(result.model_dump_json()).stdout == result.stdout
    asyncio.run(fake_e2b.aclose())
