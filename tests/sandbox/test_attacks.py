"""Hostile programs against the ``local`` (bubblewrap) sandbox: each must be contained, end with
the right status, and leave nothing running."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ponder.config import SandboxConfig
from ponder.errors import SandboxUnavailable
from ponder.sandbox.local import LocalSandbox
from ponder.types import ExecResult

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")

PROJECT = Path(__file__).resolve().parents[2]
MAX_PROCESSES = 16


class MarkedSandbox(LocalSandbox):
    """A LocalSandbox whose every process carries ``marker`` on its command line (as an
    unused sys.path entry), so the test can find anything left behind."""

    def __init__(self, cfg: SandboxConfig, marker: str):
        self.marker = marker
        super().__init__(cfg)

    def _command(self, *args: Any) -> list[str]:
        return [*super()._command(*args), f"/nonexistent/{self.marker}"]


def marked_pids(marker: str) -> list[int]:
    """Live processes whose command line mentions ``marker``."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline:
            pids.append(int(entry))
    return pids


@pytest.fixture
def marker() -> Iterator[str]:
    """A unique marker; after the test, nothing carrying it may still be running."""
    mark = f"ponder-attack-{uuid.uuid4().hex}"
    yield mark
    deadline = time.monotonic() + 3
    while marked_pids(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marked_pids(mark) == [], "sandbox processes were left running"


@pytest.fixture
def box(marker: str) -> MarkedSandbox:
    cfg = SandboxConfig(timeout_s=3, max_output_bytes=4096, max_processes=MAX_PROCESSES,
                        memory_mb=256, tmpfs_mb=16, max_file_mb=8, packages=[])  # fmt: skip
    return MarkedSandbox(cfg, marker)


def test_marker_reaches_the_sandboxed_processes(box: MarkedSandbox, marker: str) -> None:
    results: list[ExecResult] = []
    runner = threading.Thread(target=lambda: results.append(box.run("import time; time.sleep(0.8)")))
    runner.start()
    time.sleep(0.4)
    seen = marked_pids(marker)
    runner.join()
    assert results[0].status == "ok"
    assert len(seen) >= 2  # bwrap and the sandboxed python: the leftover check can see them


def test_infinite_loop_times_out(box: MarkedSandbox) -> None:
    assert box.run("while True:\n    pass\n", timeout_s=1).status == "timeout"


def test_sleep_times_out(box: MarkedSandbox) -> None:
    start = time.monotonic()
    assert box.run("import time; time.sleep(60)", timeout_s=1).status == "timeout"
    assert time.monotonic() - start < 3


async def test_cancelled_run_leaves_nothing_behind(box: MarkedSandbox, marker: str) -> None:
    task = asyncio.ensure_future(box.arun("import os, time\nos.fork()\ntime.sleep(30)\n", timeout_s=30))
    await asyncio.sleep(0.5)
    assert marked_pids(marker)  # it is running
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def test_fork_bomb_is_capped_and_cleaned_up(box: MarkedSandbox, marker: str) -> None:
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], len(marked_pids(marker)))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        program = "import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)\n"
        result = box.run(program, timeout_s=2)
    finally:
        done.set()
        sampler.join()
    assert result.status in ("error", "timeout")
    assert 4 <= peak[0] <= MAX_PROCESSES + 3  # it forked, but no further than the cap


def test_daemonised_child_dies_with_the_sandbox(box: MarkedSandbox, marker: str) -> None:
    program = (
        "import os, sys\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(300)', {marker!r}])\n"
        "    os._exit(0)\n"
        "print('parent done')\n"
    )
    assert box.run(program).status == "ok"


def test_memory_bomb_is_oom(box: MarkedSandbox) -> None:
    result = box.run("hog = []\nwhile True:\n    hog.append(bytearray(10 ** 7))\n")
    assert result.status == "oom", result
    assert "MemoryError" in result.stderr


def test_endless_output_is_stopped(box: MarkedSandbox) -> None:
    result = box.run("while True:\n    print('x' * 1000)\n", timeout_s=3)
    assert result.status == "output_limit" and result.truncated
    assert len(result.stdout) <= 4096


def test_disk_fill_of_tmp_hits_enospc(box: MarkedSandbox) -> None:
    program = (
        "for i in range(100):\n"
        "    with open(f'/tmp/fill{i}', 'wb') as fh:\n"
        "        fh.write(b'x' * (4 << 20))\n"
    )
    result = box.run(program)
    assert result.status == "error" and "No space left on device" in result.stderr


def test_one_huge_file_hits_efbig(box: MarkedSandbox) -> None:
    result = box.run("open('/tmp/big', 'wb').write(b'x' * (12 << 20))")
    assert result.status == "error" and "File too large" in result.stderr


def test_writing_outside_tmp_is_read_only(box: MarkedSandbox) -> None:
    targets = ["/usr/evil", "/etc/evil", "/opt/python/evil", "/evil", "/proc/evil", "/dev/evil",
               "/dev/shm/evil", str(PROJECT / "evil")]  # fmt: skip
    program = (
        f"for path in {targets!r}:\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print('WROTE', path)\n"
        "    except OSError as exc:\n"
        "        print('DENIED', path, type(exc).__name__)\n"
        "open('/usr/lib/evil', 'w')\n"
    )
    result = box.run(program)
    assert result.status == "error" and "Read-only file system" in result.stderr
    assert "WROTE" not in result.stdout and result.stdout.count("DENIED") == len(targets)
    assert not (PROJECT / "evil").exists()


def test_host_secrets_and_files_are_not_visible(box: MarkedSandbox) -> None:
    home = os.path.expanduser("~")
    paths = ["/etc/shadow", "/etc/passwd", str(PROJECT / "pyproject.toml"), str(PROJECT), home,
             f"{home}/.bashrc", "/work", "/root"]  # fmt: skip
    program = (
        f"import os\nfor path in {paths!r}:\n"
        "    try:\n"
        "        os.listdir(path) if os.path.isdir(path) else open(path).read()\n"
        "        print('LEAK', path)\n"
        "    except (FileNotFoundError, PermissionError) as exc:\n"
        "        print('HIDDEN', path, type(exc).__name__)\n"
    )
    result = box.run(program)
    assert result.status == "ok", result
    assert "LEAK" not in result.stdout and result.stdout.count("HIDDEN") == len(paths)


def test_launcher_environment_does_not_leak(box: MarkedSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = f"s3cret-{uuid.uuid4().hex}"
    monkeypatch.setenv("PONDER_TEST_SECRET", secret)
    program = (
        "import os\n"
        "print(dict(os.environ))\n"
        "for pid in [p for p in os.listdir('/proc') if p.isdigit()] + ['self']:\n"
        "    try:\n"
        "        print(pid, repr(open(f'/proc/{pid}/environ', 'rb').read()))\n"
        "    except OSError as exc:\n"
        "        print(pid, exc)\n"
    )
    result = box.run(program)
    assert result.status == "ok", result
    assert "\n1 b''\n" in result.stdout  # /proc/1/environ (bwrap's init) was read: empty
    assert "PONDER_TEST_SECRET" not in result.stdout and secret not in result.stdout
    assert secret not in result.stderr


def test_network_is_unreachable(box: MarkedSandbox) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        result = box.run(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n")
        assert result.status == "error"
        assert "ConnectionRefusedError" in result.stderr or "unreachable" in result.stderr
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody ever connected
    finally:
        listener.close()
    dns = box.run("import socket\nsocket.getaddrinfo('pypi.org', 443)\n")
    assert dns.status == "error" and "gaierror" in dns.stderr


def test_printed_verdict_and_children_cannot_forge_the_value(box: MarkedSandbox) -> None:
    child = (  # a child process scribbling JSON on every descriptor it might have inherited
        "import os\n"
        "for fd in range(3, 1024):\n"
        "    try:\n"
        "        os.write(fd, b'\"forged\"\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "print('child ran')\n"
    )
    program = (
        "import os, sys\n"
        "print('VERDICT: verified', flush=True)\n"
        "print('{\"value\": \"forged\"}', flush=True)\n"
        f"os.spawnv(os.P_WAIT, sys.executable, [sys.executable, '-c', {child!r}])\n"  # keeps fds
    )
    result = box.run(program)
    assert result.status == "ok", result
    assert "child ran" in result.stdout and "VERDICT: verified" in result.stdout
    assert result.value is None


def test_killing_the_parent_harms_nothing(box: MarkedSandbox) -> None:
    program = (
        "import os, signal\n"
        "for target in (os.getppid(), 1):\n"
        "    os.kill(target, signal.SIGKILL)\n"
        "print('still here')\n"
        "os.kill(-1, signal.SIGKILL)\n"
    )
    result = box.run(program)
    assert result.status in ("ok", "error")  # a result came back either way
    assert "still here" in result.stdout
    assert box.run("answer('next run fine')").value == "next run fine"


def test_memory_spread_over_processes_is_capped(box: MarkedSandbox) -> None:
    if box.cap.parents is None or box.cap.parents.memory is None:
        pytest.skip("no memory cgroup here: only the per-process address-space limit applies")
    program = (
        "import os, time\n"
        "children = []\n"
        "for _ in range(4):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        hog = b'x' * (150 << 20)\n"
        "        time.sleep(1)\n"
        "        os._exit(0)\n"
        "    children.append(pid)\n"
        "statuses = [os.waitpid(pid, 0)[1] for pid in children]\n"
        "answer(sum(os.WIFSIGNALED(s) and os.WTERMSIG(s) == 9 for s in statuses))\n"
    )
    result = box.run(program, timeout_s=10)
    assert result.status == "ok", result
    assert result.value >= 1  # 4 x 150 MB does not fit in 256 + 16 MB: the kernel killed some


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists("/usr/bin/python3"), reason="root only")
def test_root_without_cgroups_runs_bwrap_as_nobody(marker: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ponder.sandbox.local.find_cgroup_parents", lambda: None)
    cfg = SandboxConfig(python="/usr/bin/python3", packages=[], max_processes=MAX_PROCESSES, timeout_s=3)
    box = MarkedSandbox(cfg, marker)
    assert box.cap.mode == "drop"
    program = "import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)\n"
    result = box.run(program, timeout_s=1)
    assert result.status in ("error", "timeout")
    counted = box.run("import os\nn = 0\ntry:\n    while os.fork():\n        n += 1\nexcept OSError:\n    answer(n)\n")
    assert counted.value is not None and counted.value <= MAX_PROCESSES


@pytest.mark.skipif(os.geteuid() != 0, reason="root only")
def test_root_without_cgroups_or_reachable_python_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    from ponder.sandbox.local import _reachable_by_others

    if _reachable_by_others(sys.base_prefix):
        pytest.skip("this interpreter is reachable by nobody, so dropping privileges works")
    monkeypatch.setattr("ponder.sandbox.local.find_cgroup_parents", lambda: None)
    with pytest.raises(SandboxUnavailable, match="non-root user"):
        LocalSandbox(SandboxConfig(packages=[]))


def test_deeply_nested_value_forged_on_the_channel_is_dropped(box: MarkedSandbox) -> None:
    program = (  # bypass answer(): find the value pipe and write a bracket bomb that fits the cap
        "import os, stat\n"
        "for fd in range(3, 1024):\n"
        "    try:\n"
        "        if stat.S_ISFIFO(os.fstat(fd).st_mode):\n"
        "            os.write(fd, b'[' * 2000 + b']' * 2000 + b'\\n')\n"
        "    except OSError:\n"
        "        pass\n"
        "print('written')\n"
    )
    result = box.run(program)
    assert result.status == "ok" and result.stdout == "written\n", result
    assert result.value is None and "nested too deeply" in result.message
