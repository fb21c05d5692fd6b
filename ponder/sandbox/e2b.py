"""The ``e2b`` backend: programs run in a remote E2B code-interpreter sandbox.

The only module that imports ``e2b_code_interpreter`` (lazily: ``pip install 'ponder[e2b]'``).
One remote sandbox, created with internet access off, serves an instance; every program gets a
fresh code context. The API key is passed in by the caller (``make_sandbox`` reads it from
``E2B_API_KEY`` at the edge); nothing else of the launcher's environment is sent.
"""

from __future__ import annotations

import asyncio
import importlib.util
import time
import uuid
import weakref
from contextlib import suppress
from typing import Any

from ponder.config import SandboxConfig
from ponder.errors import SandboxUnavailable
from ponder.sandbox.base import OUTPUT_KILL_FACTOR, BoundedSandbox, Captured, parse_value, plain_json
from ponder.types import ExecResult

INSTALL_HINT = "the 'e2b' sandbox needs e2b-code-interpreter: pip install 'ponder[e2b]'"
NO_KEY = (
    "E2B_API_KEY is not set, so the 'e2b' sandbox cannot start: export E2B_API_KEY=... "
    "(https://e2b.dev/dashboard) or use --sandbox local"
)
SANDBOX_LIFETIME_S = 900  # idle remote sandboxes expire; a dead one is replaced

PRELUDE = r"""
def _ponder_prelude(path, stdin, cap):
    import io, json, sys
    sys.stdin = io.StringIO(stdin)
    state = {"open": True}

    def answer(value):
        '''Report the program's result to the verifier (JSON); only the first call counts.'''
        if state.pop("open", False):
            data = json.dumps(value, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
            if len(data.encode()) >= cap:
                state["open"] = True
                raise ValueError(f"answer() value is {len(data.encode())} bytes; the limit is {cap}")
            with open(path, "w") as fh:
                fh.write(data)
    def read_line(prompt=""):
        # ipykernel replaces input() with a frontend request; read the given stdin instead
        print(prompt, end="")
        line = sys.stdin.readline()
        if not line:
            raise EOFError("EOF when reading a line")
        return line.rstrip("\n")
    return answer, read_line

answer, input = _ponder_prelude(%r, %r, %d)
del _ponder_prelude
"""


def e2b_installed() -> bool:
    """Whether ``e2b_code_interpreter`` is installed (without paying for importing it)."""
    return importlib.util.find_spec("e2b_code_interpreter") is not None


def import_e2b() -> Any:
    """The ``e2b_code_interpreter`` module, or ``SandboxUnavailable`` with the install hint."""
    try:
        import e2b_code_interpreter
    except ImportError as exc:
        raise SandboxUnavailable(INSTALL_HINT) from exc
    return e2b_code_interpreter


def _error(message: str, start: float | None = None) -> ExecResult:
    took = time.monotonic() - start if start is not None else 0.0
    return ExecResult(status="sandbox_error", message=message, duration_s=round(took, 4))


def _utf8(text: str) -> bytes:
    """``text`` as bytes, lone surrogates included (they decode to U+FFFD later, not raise)."""
    return text.encode("utf-8", "surrogatepass")


class E2BSandbox(BoundedSandbox):
    """Runs programs in an E2B cloud sandbox (no internet inside).

    >>> box = E2BSandbox(SandboxConfig(backend="e2b"), api_key=os.environ["E2B_API_KEY"])  # doctest: +SKIP
    >>> box.run("answer(2 + 2)").value  # doctest: +SKIP
    4
    """

    name = "e2b"

    def __init__(self, cfg: SandboxConfig, *, api_key: str | None = None, template: str | None = None):
        super().__init__(cfg)
        self._api_key = api_key
        self._template = template
        self._box: Any = None
        self._box_loop: weakref.ref[asyncio.AbstractEventLoop] | None = None
        self._create_lock = asyncio.Lock()

    async def _remote(self) -> Any:
        """The remote sandbox for this event loop, created on first use.

        The SDK's HTTP client belongs to one loop, so a new loop (each sync ``run``) gets a new
        sandbox and the old one is killed.
        """
        loop = asyncio.get_running_loop()
        if self._box_loop is None or self._box_loop() is not loop:
            await self._forget_box()
            self._create_lock, self._box_loop = asyncio.Lock(), weakref.ref(loop)
        async with self._create_lock:
            if self._box is None:
                sdk = import_e2b()
                self._box = await sdk.AsyncSandbox.create(
                    template=self._template,
                    api_key=self._api_key,
                    allow_internet_access=False,
                    timeout=SANDBOX_LIFETIME_S,
                )
        return self._box

    async def _forget_box(self) -> None:
        """Drop the current remote sandbox, killing it by id (best effort)."""
        box, self._box = self._box, None
        if box is not None:
            with suppress(Exception):
                await import_e2b().AsyncSandbox.kill(box.sandbox_id, api_key=self._api_key)

    async def _execute(self, code: str, stdin: str | None, timeout_s: float) -> ExecResult:
        if not self._api_key:
            return _error(NO_KEY)
        start = time.monotonic()
        try:
            sdk = import_e2b()
            box = await self._remote()
            context = await box.create_code_context()
        except SandboxUnavailable as exc:
            return _error(str(exc))
        except Exception as exc:  # auth, network, quota, expired sandbox: "could not start"
            self._box = None
            return _error(f"could not start an E2B sandbox: {type(exc).__name__}: {exc}", start)
        try:
            return await self._run_in(sdk, box, context, code, stdin or "", timeout_s, start)
        finally:
            with suppress(Exception):
                await box.remove_code_context(context)

    async def _run_in(
        self, sdk: Any, box: Any, context: Any, code: str, stdin: str, timeout_s: float, start: float
    ) -> ExecResult:
        """Install ``answer``/stdin in the context, run the program, read the value back."""
        path = f"/tmp/ponder-value-{uuid.uuid4().hex}.json"
        try:
            setup = PRELUDE % (path, stdin, self.cfg.max_output_bytes)
            prelude = await box.run_code(setup, context=context, timeout=30)
            if prelude.error is not None:
                return _error(f"the E2B prelude failed: {prelude.error.name}: {prelude.error.value}", start)
            execution = await box.run_code(code, context=context, timeout=timeout_s)
        except sdk.TimeoutException as exc:
            if isinstance(exc, (sdk.SandboxNotRunningException, sdk.SandboxUnreachableException)):
                self._box = None
                return _error(f"the E2B sandbox went away: {exc}", start)
            return ExecResult(status="timeout", message=f"wall-clock limit of {timeout_s:g}s exceeded",
                              duration_s=round(time.monotonic() - start, 4))  # fmt: skip
        except Exception as exc:
            return _error(f"E2B execution failed: {type(exc).__name__}: {exc}", start)
        raw = ""
        with suppress(Exception):  # no file: the program never called answer()
            raw = await box.files.read(path)
            await box.files.remove(path)
        return self._result(execution, raw, time.monotonic() - start)

    def _result(self, execution: Any, raw_value: str, duration: float) -> ExecResult:
        """Map an E2B ``Execution`` onto ``ExecResult`` (caps applied after the fact)."""
        cap = self.cfg.max_output_bytes
        out = _utf8("".join(execution.logs.stdout))
        err = _utf8("".join(execution.logs.stderr))
        status, exit_code, message = "ok", 0, ""
        error = execution.error
        if error is not None and not (error.name == "SystemExit" and error.value in ("", "0", "None")):
            err += _utf8(f"{error.traceback}\n")
            status = "oom" if error.name == "MemoryError" else "error"
            exit_code, message = 1, plain_json(f"{error.name}: {error.value}")
        if max(len(out), len(err)) > OUTPUT_KILL_FACTOR * cap:
            status, message = "output_limit", f"output exceeded {OUTPUT_KILL_FACTOR * cap} bytes"
        raw = _utf8(raw_value)
        value, note = parse_value(Captured(raw[: cap + 1], len(raw)), cap)
        return ExecResult(
            status=status,  # type: ignore[arg-type]
            stdout=out[:cap].decode("utf-8", "replace"),
            stderr=err[:cap].decode("utf-8", "replace"),
            truncated=max(len(out), len(err)) > cap,
            exit_code=exit_code,
            duration_s=round(duration, 4),
            value=value,
            message="; ".join(m for m in (message, note) if m),
        )

    async def aclose(self) -> None:
        """Kill the remote sandbox, if one was started."""
        await self._forget_box()
