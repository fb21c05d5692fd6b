"""Run cgroups as root: a launcher killed with SIGKILL leaves its groups behind, and the next
launcher sweeps them — only ponder's own, only those of dead launchers, only empty ones."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ponder.config import SandboxConfig
from ponder.sandbox.cgroups import CgroupParents, find_cgroup_parents, sweep_stale
from ponder.sandbox.local import LocalSandbox

PROJECT = Path(__file__).resolve().parents[2]
PARENTS = find_cgroup_parents() if os.geteuid() == 0 else None
pytestmark = [
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed"),
    pytest.mark.skipif(PARENTS is None, reason="needs root and a writable pids cgroup"),
]

LAUNCHER = """
from ponder.config import SandboxConfig
from ponder.sandbox.local import LocalSandbox
box = LocalSandbox(SandboxConfig(packages=[], timeout_s=60))
print("ready", flush=True)
box.run("import time; time.sleep(60)")
"""


def groups_of(parents: CgroupParents, pid: int) -> list[Path]:
    """The run groups launcher ``pid`` made, in every hierarchy."""
    dirs = {parents.pids, parents.memory} - {None}
    return [p for d in dirs for p in d.iterdir() if p.name.startswith(f"ponder-{pid}-")]  # type: ignore[union-attr]


def tasks(group: Path) -> str:
    return (group / "cgroup.procs").read_text().strip()


def wait_for(check: object, what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_groups_of_a_killed_launcher_are_swept_by_the_next() -> None:
    assert PARENTS is not None
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER], cwd=PROJECT, stdout=subprocess.PIPE, text=True)
    try:
        assert launcher.stdout is not None and launcher.stdout.readline() == "ready\n"
        wait_for(lambda: any(tasks(g) for g in groups_of(PARENTS, launcher.pid)), "the run to start")
    finally:
        launcher.kill()
        launcher.wait()
    left = groups_of(PARENTS, launcher.pid)
    wait_for(lambda: not any(tasks(g) for g in left), "the sandbox to die with its launcher")
    assert left and all(g.is_dir() for g in left)  # what SIGKILL leaves: empty groups
    LocalSandbox(SandboxConfig(packages=[]))
    assert [g for g in left if g.exists()] == []


@pytest.fixture
def scratch() -> Iterator[list[Path]]:
    """Directories the test makes under the pids parent; removed afterwards."""
    made: list[Path] = []
    yield made
    for path in made:
        if path.exists():
            for pid in tasks(path).split():
                os.kill(int(pid), 9)
            wait_for(lambda: not tasks(path), "the helper to die", 5)  # noqa: B023
            path.rmdir()


def test_sweep_takes_only_empty_groups_of_dead_launchers(scratch: list[Path]) -> None:
    assert PARENTS is not None
    dead = subprocess.Popen(["true"])  # once reaped, its pid stands for a dead launcher's
    dead.wait()
    tag = uuid.uuid4().hex[:8]
    names = {
        "stale": f"ponder-{dead.pid}-{tag}",
        "busy": f"ponder-{dead.pid}-{uuid.uuid4().hex[:8]}",
        "live": f"ponder-{os.getpid()}-{tag}",
        "old-legacy": f"ponder-{uuid.uuid4().hex[:12]}",  # named by older ponder: no pid
        "new-legacy": f"ponder-{uuid.uuid4().hex[:12]}",
        "foreign": f"other-{dead.pid}-{tag}",
    }
    for name in names.values():
        (PARENTS.pids / name).mkdir()
        scratch.append(PARENTS.pids / name)
    an_hour_ago = time.time() - 3600
    os.utime(PARENTS.pids / names["old-legacy"], (an_hour_ago, an_hour_ago))
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        (PARENTS.pids / names["busy"] / "cgroup.procs").write_text(str(sleeper.pid))
        removed = {p.name for p in sweep_stale(PARENTS) if p in scratch}
        assert removed == {names["stale"], names["old-legacy"]}
        assert all((PARENTS.pids / names[k]).is_dir() for k in ("busy", "live", "new-legacy", "foreign"))
    finally:
        sleeper.kill()
        sleeper.wait()
