"""The ``local`` backend: each program runs in a fresh bubblewrap sandbox.

Inside: no network, its own PID/IPC/UTS/user namespaces (uid 65534, no capabilities), a
read-only view of ``/usr``, the interpreter and the allow-listed packages, a size-capped tmpfs
at ``/tmp`` as the only writable place, and an environment that holds nothing of the
launcher's. The kernel is narrowed too: a seccomp filter denies the keyring, ptrace, BPF,
mount and namespace calls (``syscall_filter``), each run has its own empty session keyring,
and ``/proc/keys`` reads empty. Limits: rlimits set on bwrap (CPU, address space, file size,
open files) and a process cap — RLIMIT_NPROC set by the runner where it binds (a non-root
launcher), a throwaway pids/memory cgroup as root, where RLIMIT_NPROC does not bind.

Known and accepted: ``/proc/self/mountinfo`` names the host directories the interpreter and
packages are bound from (e.g. ``/home/me/proj/.venv/lib/python3.11/site-packages/numpy``).
Its fourth field is the bind source's path within its filesystem, which no choice of mount
point changes; hiding it would take copying the interpreter and packages onto a filesystem of
their own for every launcher (hundreds of MB) or running without ``/proc``. It reveals those
path names only; the directories are the ones already visible, read-only, in the sandbox.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import stat
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ponder.config import SandboxConfig
from ponder.errors import SandboxUnavailable
from ponder.sandbox.base import BoundedSandbox, data_fd, runner_args
from ponder.sandbox.cgroups import CgroupParents, RunCgroup, find_cgroup_parents, sweep_stale
from ponder.sandbox.subprocess import ProcessSpec, limiter, rlimits, run_process
from ponder.sandbox.syscall_filter import build_filter, keyring_joiner
from ponder.types import ExecResult

PYTHON_DIR = "/opt/python"
SITE_DIR = "/opt/ponder/site"
NOBODY = 65534
FIX_INSTALL = "install bubblewrap: apt-get install -y bubblewrap (Debian/Ubuntu)"
FIX_USERNS = (
    "allow user namespaces: sysctl -w kernel.unprivileged_userns_clone=1 (Debian) or "
    "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu 24.04+)"
)
FIX_UNSAFE = "or run with --sandbox subprocess (NO isolation; trusted code only)"
SANDBOX_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "LD_LIBRARY_PATH": f"{PYTHON_DIR}/lib",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
_PROBED: set[tuple[str, ...]] = set()


def _locate(names: list[str]) -> dict[str, Any]:
    """This interpreter's prefix, real executable and version, and the paths of each package
    in ``names`` (plus a ``<name>.libs`` dir of bundled shared libraries, as numpy has).

    Self-contained, so it also runs inside another interpreter (``sandbox.python``) via ``-c``.
    """
    import importlib.util
    import os
    import sys

    found: dict[str, list[str]] = {}
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or not (spec.submodule_search_locations or spec.origin):
            continue
        paths = list(spec.submodule_search_locations or [spec.origin])[:1]
        libs = os.path.join(os.path.dirname(paths[0]), name + ".libs")
        found[name] = paths + ([libs] if os.path.isdir(libs) else [])
    version = "%d.%d" % sys.version_info[:2]
    return {"prefix": sys.base_prefix, "executable": os.path.realpath(sys.executable),
            "version": version, "packages": found}


def describe_python(python: str | None, packages: list[str]) -> dict[str, Any]:
    """``_locate`` for the launcher's interpreter, or for ``python`` run once as a child."""
    if python is None:
        return _locate(packages)
    exe = shutil.which(python)
    if exe is None:
        raise SandboxUnavailable(f"sandbox.python {python!r} not found; fix the path or unset it")
    script = "\n".join(["from __future__ import annotations", inspect.getsource(_locate),
                         "import json, sys", "print(json.dumps(_locate(sys.argv[1:])))"])  # fmt: skip
    out = subprocess.run([exe, "-c", script, *packages], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise SandboxUnavailable(f"could not inspect {exe}: {out.stderr.strip()[-300:]}")
    return json.loads(out.stdout)


def find_bwrap(bwrap: str) -> str:
    """The bwrap executable, or ``SandboxUnavailable`` saying how to get it."""
    found = shutil.which(bwrap)
    if found is None:
        raise SandboxUnavailable(
            f"bubblewrap ({bwrap!r}) is not installed or not executable, so the 'local' sandbox "
            f"cannot start. Fix: {FIX_INSTALL}; {FIX_UNSAFE}."
        )
    return found


@dataclass
class Layout:
    """The bwrap arguments for one interpreter and package allow-list, computed once."""

    args: list[str]
    python: str
    sources: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    masked: list[str] = field(default_factory=list)


def _system_binds() -> list[str]:
    """Read-only /usr, the merged-/usr links (or dirs), and the few /etc files python needs."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ("/etc/ld.so.cache", "/etc/localtime"):
        if os.path.exists(name):
            args += ["--ro-bind", os.path.realpath(name), name]
    return args


MASKED_PROC = ("/proc/keys", "/proc/key-users")
"""/proc files that list the uid's kernel keys (names, counts): the sandbox uid maps to the
launcher's, so the launcher's keys would show there. Each run sees them empty."""


def build_layout(cfg: SandboxConfig) -> Layout:
    """Every bwrap argument up to the command, plus the in-sandbox interpreter path."""
    info = describe_python(cfg.python, cfg.packages)
    prefix, exe = info["prefix"], info["executable"]
    if os.path.commonpath([prefix, exe]) != prefix:
        raise SandboxUnavailable(f"interpreter {exe} is outside its prefix {prefix}; set sandbox.python")
    args = [
        "--unshare-all", "--unshare-user", "--disable-userns", "--uid", str(NOBODY),
        "--gid", str(NOBODY), "--hostname", "sandbox", "--die-with-parent", "--new-session",
        "--cap-drop", "ALL", *_system_binds(), "--proc", "/proc", "--dev", "/dev",
        "--remount-ro", "/dev",
        "--perms", "1777", "--size", str(cfg.tmpfs_mb * 1024 * 1024), "--tmpfs", "/tmp",
        "--ro-bind", prefix, PYTHON_DIR,
    ]  # fmt: skip
    own_site = f"{PYTHON_DIR}/lib/python{info['version']}/site-packages"
    if os.path.isdir(os.path.join(prefix, "lib", f"python{info['version']}", "site-packages")):
        args += ["--size", "4096", "--tmpfs", own_site, "--remount-ro", own_site]
    sources = [prefix]
    for paths in info["packages"].values():
        for path in paths:
            args += ["--ro-bind", path, f"{SITE_DIR}/{os.path.basename(path)}"]
            sources.append(path)
    args += ["--remount-ro", "/", "--chdir", "/tmp", "--clearenv"]  # bwrap's root tmpfs: read-only
    for key, value in SANDBOX_ENV.items():
        args += ["--setenv", key, value]
    missing = [p for p in cfg.packages if p not in info["packages"]]
    python = f"{PYTHON_DIR}/{os.path.relpath(exe, prefix)}"
    masked = [name for name in MASKED_PROC if os.path.exists(name)]
    return Layout(args, python, sources, missing, masked)


def _reachable_by_others(path: str) -> bool:
    """Whether a uid with no special rights can reach ``path`` (every parent dir is o+x)."""
    parts = Path(path).resolve().parents
    return all(p.stat().st_mode & stat.S_IXOTH for p in parts)


def _drop_to_nobody() -> None:
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


@dataclass
class ProcessCap:
    """How this launcher caps the number of processes a program may start."""

    mode: str  # "rlimit" (non-root), "cgroup" (root), "drop" (root, run bwrap as nobody)
    parents: CgroupParents | None = None


def choose_process_cap(layout: Layout) -> ProcessCap:
    """Pick the process cap that actually binds here (RLIMIT_NPROC is ignored for uid 0)."""
    if os.geteuid() != 0:
        return ProcessCap("rlimit")
    parents = find_cgroup_parents()
    if parents is not None:
        return ProcessCap("cgroup", parents)
    if all(_reachable_by_others(s) for s in layout.sources):
        return ProcessCap("drop")
    raise SandboxUnavailable(
        "running as root, where RLIMIT_NPROC does not bind, and no writable pids cgroup was "
        "found to cap processes. Fix: run ponder as a non-root user, or mount a writable "
        f"cgroup (pids controller); {FIX_UNSAFE}."
    )


class LocalSandbox(BoundedSandbox):
    """Runs each program in a fresh bubblewrap sandbox (see the module docstring).

    >>> box = LocalSandbox(SandboxConfig())       # raises SandboxUnavailable without bwrap
    >>> box.run("answer(sum(range(10)))").value   # doctest: +SKIP
    45
    """

    name = "local"

    def __init__(self, cfg: SandboxConfig):
        super().__init__(cfg)
        self.bwrap = find_bwrap(cfg.bwrap)
        self.layout = build_layout(cfg)
        self.cap = choose_process_cap(self.layout)
        if self.cap.parents is not None:
            sweep_stale(self.cap.parents)  # groups a launcher killed with SIGKILL left behind
        self._limits = rlimits(cfg)
        self._filter = build_filter()
        self._join_keyring = keyring_joiner()
        self._probe()

    def version(self) -> str:
        """bwrap's version line (for ``ponder sandbox check``)."""
        done = subprocess.run([self.bwrap, "--version"], capture_output=True, text=True, timeout=10)
        return done.stdout.strip() or "bwrap"

    def _run_fds(self) -> list[int]:
        """Descriptors bwrap reads to the end, so each run needs its own: the seccomp filter,
        then an empty file for each masked /proc entry (a file, as /proc is mounted nodev)."""
        return [data_fd(self._filter)] + [data_fd(b"") for _ in self.layout.masked]

    def _python(self, fds: list[int]) -> list[str]:
        """bwrap with this run's descriptors (``_run_fds``), starting the interpreter."""
        masks = [arg for fd, name in zip(fds[1:], self.layout.masked)
                 for arg in ("--ro-bind-data", str(fd), name)]  # fmt: skip
        return [self.bwrap, *self.layout.args, *masks, "--seccomp", str(fds[0]),
                self.layout.python, "-I", "-S", "-B"]  # fmt: skip

    def _command(self, src: int, val: int, fds: list[int]) -> list[str]:
        nproc = self.cfg.max_processes + 1  # + bwrap's init, which shares the sandbox uid
        return [*self._python(fds), *runner_args(src, val, self.cfg.max_output_bytes, nproc, [SITE_DIR])]

    def _preexec(self, group: RunCgroup | None) -> Callable[[], None]:
        apply_limits = limiter(self._limits)
        drop = self.cap.mode == "drop"
        join_keyring = self._join_keyring

        def preexec() -> None:
            join_keyring()
            if group is not None:
                group.join()
            apply_limits()
            if drop:
                _drop_to_nobody()

        return preexec

    def _new_cgroup(self) -> RunCgroup | None:
        if self.cap.parents is None:
            return None
        tasks = self.cfg.max_processes + 2  # + bwrap's monitor and init
        memory = (self.cfg.memory_mb + self.cfg.tmpfs_mb) * 1024 * 1024
        return RunCgroup.create(self.cap.parents, tasks=tasks, memory_bytes=memory)

    def _spec(self, group: RunCgroup | None, fds: list[int]) -> ProcessSpec:
        return ProcessSpec(
            command=lambda src, val: self._command(src, val, fds),
            env={},  # bwrap's own environment shows at /proc/1/environ inside: keep it empty
            pass_fds=tuple(fds),
            preexec_fn=self._preexec(group),
            kill_extra=group.kill if group else None,
            oom_killed=group.oom_killed if group else None,
        )

    async def _execute(self, code: str, stdin: str | None, timeout_s: float) -> ExecResult:
        try:
            group = self._new_cgroup()
        except OSError as exc:
            return ExecResult(status="sandbox_error", message=f"could not create a cgroup: {exc}")
        fds = self._run_fds()
        try:
            spec = self._spec(group, fds)
            return await run_process(spec, code, stdin=stdin, timeout_s=timeout_s, cap=self.cfg.max_output_bytes)
        finally:
            for fd in fds:
                os.close(fd)
            if group is not None:
                await group.remove()

    def _probe(self) -> None:
        """Start one empty sandbox (once per process and layout) so a broken setup fails now,
        with a message saying what to fix, rather than on the first program."""
        key = (self.bwrap, self.cap.mode, *self.layout.args)
        if key in _PROBED:
            return
        group = self._new_cgroup()
        fds = self._run_fds()
        argv = [*self._python(fds), "-c", "pass"]
        try:
            done = subprocess.run(argv, env={}, capture_output=True, text=True, timeout=30,
                                  pass_fds=fds, preexec_fn=self._preexec(group))  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            raise SandboxUnavailable(f"bubblewrap failed to start: {exc}. Fix: {FIX_INSTALL}") from exc
        finally:
            for fd in fds:
                os.close(fd)
            if group is not None:
                group.remove_sync()
        if done.returncode != 0:
            raise SandboxUnavailable(
                f"bubblewrap could not create the sandbox: {done.stderr.strip()[-400:]}. "
                f"Fix: {FIX_USERNS}; {FIX_UNSAFE}."
            )
        _PROBED.add(key)
