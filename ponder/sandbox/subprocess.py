"""Running a program as a supervised child process, and the unisolated ``subprocess`` backend.

``run_process`` is the pipeline both process backends share: the source and stdin travel in
anonymous files, stdout/stderr/value through pipes the launcher reads with caps, the wall
clock is enforced by killing the whole process group. ``SubprocessSandbox`` uses it with only
resource limits around it: it is **not isolation** and says so every time it is made.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from ponder.config import SandboxConfig
from ponder.sandbox.base import (
    OUTPUT_KILL_FACTOR,
    PIPE_GRACE_S,
    BoundedSandbox,
    Captured,
    Outcome,
    build_result,
    data_fd,
    read_capped,
    runner_args,
)
from ponder.types import ExecResult

NOT_ISOLATED = (
    "the 'subprocess' sandbox does NOT isolate programs: they can read your files and "
    "environment and use the network; use it only for code you trust (default: 'local')"
)


@dataclass
class ProcessSpec:
    """How a process backend starts one program.

    ``command`` gets the source and value-channel descriptors and returns the argv;
    ``pass_fds`` are further descriptors the child inherits; ``kill_extra`` and ``oom_killed``
    let a backend reach processes outside the process group (a cgroup) and report a kernel
    OOM kill.
    """

    command: Callable[[int, int], list[str]]
    env: dict[str, str]
    preexec_fn: Callable[[], None] | None = None
    cwd: str | None = None
    pass_fds: tuple[int, ...] = ()
    kill_extra: Callable[[], None] | None = None
    oom_killed: Callable[[], bool] | None = None


async def run_process(
    spec: ProcessSpec, code: str, *, stdin: str | None, timeout_s: float, cap: int
) -> ExecResult:
    """Start the runner as a child process, supervise it and build the result."""
    src = data_fd(code.encode("utf-8", "surrogatepass"))
    stdin_fd = data_fd(stdin.encode()) if stdin is not None else os.open(os.devnull, os.O_RDONLY)
    (val_r, val_w), (out_r, out_w), (err_r, err_w) = os.pipe(), os.pipe(), os.pipe()
    start = time.monotonic()
    try:
        proc = await asyncio.create_subprocess_exec(
            *spec.command(src, val_w),
            stdin=stdin_fd,
            stdout=out_w,
            stderr=err_w,
            env=spec.env,
            cwd=spec.cwd,
            pass_fds=(src, val_w, *spec.pass_fds),
            preexec_fn=spec.preexec_fn,
            start_new_session=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        for fd in (val_r, out_r, err_r):
            os.close(fd)
        return ExecResult(status="sandbox_error", message=f"could not start the program: {exc}")
    finally:
        for fd in (src, stdin_fd, val_w, out_w, err_w):
            os.close(fd)
    return await _supervise(proc, spec, (out_r, err_r, val_r), timeout_s, cap, start)


async def _supervise(
    proc: asyncio.subprocess.Process,
    spec: ProcessSpec,
    fds: tuple[int, int, int],
    timeout_s: float,
    cap: int,
    start: float,
) -> ExecResult:
    """Collect output, enforce the wall clock and the output limit, and kill on the way out."""
    overflow: list[bool] = []

    def kill(reason: str = "") -> None:
        if reason == "output":
            overflow.append(True)
        kill_group(proc.pid, spec.kill_extra)

    limit = OUTPUT_KILL_FACTOR * cap
    readers = [asyncio.create_task(read_capped(fd, cap, limit, lambda: kill("output"))) for fd in fds[:2]]
    readers.append(asyncio.create_task(read_capped(fds[2], cap, cap)))
    try:
        timed_out = await _wait(proc, timeout_s)
        if timed_out:
            kill()
            await proc.wait()
    except BaseException:  # cancelled by the caller: never leave the program running
        kill()
        for task in readers:
            task.cancel()
        raise
    duration = time.monotonic() - start
    out, err, value = await _collect(readers)
    oom = bool(spec.oom_killed and spec.oom_killed())
    outcome = Outcome(proc.returncode, timed_out, bool(overflow), out, err, value, duration, oom)
    return build_result(outcome, timeout_s=timeout_s, cap=cap)


async def _wait(proc: asyncio.subprocess.Process, timeout_s: float) -> bool:
    """Wait for the process; True when the wall-clock limit ran out first."""
    try:
        await asyncio.wait_for(proc.wait(), timeout_s)
    except asyncio.TimeoutError:
        return True
    return False


async def _collect(readers: list[asyncio.Task[Captured]]) -> list[Captured]:
    """The readers' captures; a reader still blocked after the grace period (a pipe held open
    by an escaped process) is cancelled and counts as empty."""
    _, pending = await asyncio.wait(readers, timeout=PIPE_GRACE_S)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)
    return [t.result() if not t.cancelled() else Captured() for t in readers]


def kill_group(pid: int, extra: Callable[[], None] | None = None) -> None:
    """SIGKILL the process group led by ``pid`` (and whatever ``extra`` reaches)."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if extra is not None:
        extra()


def rlimits(cfg: SandboxConfig) -> list[tuple[int, tuple[int, int]]]:
    """The resource limits every process backend applies (CPU, memory, file size, open files)."""
    mb = 1024 * 1024
    return [
        (resource.RLIMIT_CPU, (cfg.cpu_s, cfg.cpu_s + 1)),
        (resource.RLIMIT_AS, (cfg.memory_mb * mb, cfg.memory_mb * mb)),
        (resource.RLIMIT_FSIZE, (cfg.max_file_mb * mb, cfg.max_file_mb * mb)),
        (resource.RLIMIT_NOFILE, (cfg.max_open_files, cfg.max_open_files)),
    ]


def limiter(limits: list[tuple[int, tuple[int, int]]]) -> Callable[[], None]:
    """A ``preexec_fn`` that applies ``limits`` in the child before it execs."""

    def apply() -> None:
        for which, value in limits:
            resource.setrlimit(which, value)

    return apply


class SubprocessSandbox(BoundedSandbox):
    """Runs programs as plain child processes with rlimits and a timeout — no isolation.

    >>> SubprocessSandbox(SandboxConfig(backend="subprocess")).run("print(1)").stdout  # doctest: +SKIP
    '1\\n'
    """

    name = "subprocess"

    def __init__(self, cfg: SandboxConfig):
        super().__init__(cfg)
        warnings.warn(NOT_ISOLATED, RuntimeWarning, stacklevel=2)
        self._python = shutil.which(cfg.python) if cfg.python else sys.executable
        self._preexec = limiter(rlimits(cfg))

    async def _execute(self, code: str, stdin: str | None, timeout_s: float) -> ExecResult:
        if not self._python:
            return ExecResult(status="sandbox_error", message=f"python {self.cfg.python!r} not found")
        workdir = tempfile.mkdtemp(prefix="ponder-run-")
        spec = ProcessSpec(
            command=lambda src, val: [self._python, "-I", *runner_args(src, val, self.cfg.max_output_bytes, 0, [])],
            env={"PATH": os.defpath, "HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8"},
            preexec_fn=self._preexec,
            cwd=workdir,
        )
        try:
            return await run_process(spec, code, stdin=stdin, timeout_s=timeout_s, cap=self.cfg.max_output_bytes)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
