"""Throwaway cgroups that cap one run's processes and memory, and the sweep of stale ones.

As root, RLIMIT_NPROC does not bind, so each run of the ``local`` backend gets its own pids
(and memory) cgroup under the launcher's own. The group is named after the launcher's pid
(``ponder-<pid>-<random>``): a launcher killed with SIGKILL cannot remove its groups, and the
next launcher recognises them as stale because that pid is gone.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

LEGACY_MIN_AGE_S = 60.0
"""A group named without a pid (older ponder) counts as stale once empty for this long."""

_NAME = re.compile(r"ponder-(?:(?P<pid>\d+)-[0-9a-f]{8}|[0-9a-f]{12})")


@dataclass
class CgroupParents:
    """Where run cgroups go: this process's pids (and memory) cgroup directories."""

    pids: Path
    memory: Path | None
    v2: bool


def find_cgroup_parents(root: Path = Path("/sys/fs/cgroup")) -> CgroupParents | None:
    """Our own cgroup dirs with a pids controller we may create children in, if any."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    v1: dict[str, Path] = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "" and (root / "cgroup.controllers").exists():
            return _v2_parents(root / path.lstrip("/"))
        for name in set(controllers.split(",")) & {"pids", "memory"}:
            if os.access(root / name / path.lstrip("/"), os.W_OK):
                v1[name] = root / name / path.lstrip("/")
    return CgroupParents(v1["pids"], v1.get("memory"), v2=False) if "pids" in v1 else None


def _v2_parents(here: Path) -> CgroupParents | None:
    try:
        enabled = (here / "cgroup.subtree_control").read_text().split()
    except OSError:
        return None
    if "pids" not in enabled or not os.access(here, os.W_OK):
        return None
    return CgroupParents(here, here if "memory" in enabled else None, v2=True)


class RunCgroup:
    """A throwaway cgroup holding one run: caps its tasks and memory, kills them, goes away."""

    def __init__(self, dirs: list[Path], memory: Path | None, v2: bool):
        self.dirs, self.memory, self.v2 = dirs, memory, v2

    @classmethod
    def create(cls, parents: CgroupParents, *, tasks: int, memory_bytes: int) -> RunCgroup:
        name = f"ponder-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        memory = parents.memory / name if parents.memory else None
        dirs = [parents.pids / name] + ([memory] if memory and memory != parents.pids / name else [])
        group = cls(dirs, memory, parents.v2)
        try:
            for path in dirs:
                path.mkdir()
            (dirs[0] / "pids.max").write_text(str(tasks))
            if memory is not None:
                limit_file = "memory.max" if parents.v2 else "memory.limit_in_bytes"
                (memory / limit_file).write_text(str(memory_bytes))
        except OSError:
            group.remove_sync()
            raise
        return group

    def join(self) -> None:
        """Move the calling process in (called in the child before exec)."""
        for path in self.dirs:
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def kill(self) -> None:
        """SIGKILL every task left in the group."""
        for _ in range(3):
            if not self.dirs:
                return
            try:
                pids = [int(p) for p in (self.dirs[0] / "cgroup.procs").read_text().split()]
            except OSError:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def oom_killed(self) -> bool:
        """Whether the kernel killed a task of this group for exceeding its memory."""
        if self.memory is None:
            return False
        events = "memory.events" if self.v2 else "memory.oom_control"
        try:
            lines = (self.memory / events).read_text().splitlines()
        except OSError:
            return False
        return any(line.startswith("oom_kill ") and line.split()[1] != "0" for line in lines)

    def _try_remove(self) -> bool:
        for path in list(self.dirs):
            try:
                path.rmdir()
                self.dirs.remove(path)
            except FileNotFoundError:
                self.dirs.remove(path)
            except OSError:
                self.kill()
        return not self.dirs

    async def remove(self) -> None:
        """Remove the group once its (killed) tasks have gone; gives up after 2 s."""
        deadline = time.monotonic() + 2
        while not self._try_remove() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    def remove_sync(self) -> None:
        deadline = time.monotonic() + 2
        while not self._try_remove() and time.monotonic() < deadline:
            time.sleep(0.01)


def sweep_stale(parents: CgroupParents, *, legacy_min_age_s: float = LEGACY_MIN_AGE_S) -> list[Path]:
    """Remove the empty run groups that dead launchers left in our parent groups.

    Only names ``RunCgroup.create`` makes are touched, only when the launcher that made them
    is gone, and only when empty (the kernel also refuses to remove a group holding tasks).
    """
    removed = []
    for parent in {parents.pids, parents.memory} - {None}:
        try:
            entries = list(parent.iterdir())  # type: ignore[union-attr]
        except OSError:
            continue
        for path in entries:
            found = _NAME.fullmatch(path.name)
            if found is None or not _abandoned(path, found["pid"], legacy_min_age_s):
                continue
            try:
                path.rmdir()
            except OSError:
                continue
            removed.append(path)
    return removed


def _abandoned(path: Path, pid: str | None, legacy_min_age_s: float) -> bool:
    """Whether the group's launcher is gone and the group holds no task."""
    try:
        if pid is None and time.time() - path.stat().st_mtime < legacy_min_age_s:
            return False
        if pid is not None and _alive(int(pid)):
            return False
        return not (path / "cgroup.procs").read_text().strip()
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
