"""The kernel surfaces a sandboxed program must not reach: a seccomp filter and the keyring.

The filter is built by libseccomp (the library bubblewrap, systemd, Docker and Flatpak use),
called through ``ctypes`` so nothing has to be compiled or importable from the system Python:
only ``libseccomp.so.2`` is needed, which apt itself depends on. libseccomp resolves syscall
numbers for this architecture and rejects foreign ones (the i386 and x32 entry points), so
the filter is correct on x86-64 and arm64 alike. bwrap loads it (``--seccomp FD``) after its
own setup, right before it starts the program, so bwrap may still mount and unshare.

Denied calls fail with ``EPERM`` rather than killing the program: ordinary Python never makes
them, and a library that probes for one gets an error it can handle.

The keyring is the other half: a process inherits its parent's session keyring (what
``pam_keyinit`` gives every login), and keys are shared per uid. Each run therefore joins a
fresh anonymous session keyring before bwrap starts, and the filter denies every keyring call.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable

from ponder.errors import SandboxUnavailable

FIX_LIBSECCOMP = "install libseccomp: apt-get install -y libseccomp2 (Debian/Ubuntu)"

DENIED = (
    # The kernel keyring: host secrets, and keys a program could plant for the next run.
    "keyctl", "add_key", "request_key",
    # Reading or steering another process, or the kernel's own tracing and BPF machinery.
    "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "bpf", "perf_event_open",
    "userfaultfd",
    # Namespaces and mounts (bwrap has made its own by the time the filter applies).
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig",
    "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr", "open_by_handle_at",
    # The running kernel itself.
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "acct", "quotactl", "syslog", "iopl", "ioperm",
    # io_uring runs its operations outside the reach of this filter.
    "io_uring_setup", "io_uring_enter", "io_uring_register",
)  # fmt: skip

# clone() may not make namespaces either (unshare's other door); the exit-signal byte of its
# flags is why CLONE_NEWTIME (0x80) is not listed.
CLONE_NAMESPACE_FLAGS = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000,
                         0x20000000, 0x40000000)  # fmt: skip

# The socket address families a program may open: Unix sockets (socketpair, multiprocessing,
# asyncio) and IP, which inside the sandbox's empty network namespace reaches only its own
# loopback. Every other family is denied: AF_VSOCK reaches the hypervisor outside every network
# namespace, and netlink, packet, AF_ALG and the rest are kernel attack surface with no use
# here. Families are compared on the low 32 bits (the kernel reads an int), so high bits set in
# the register cannot slip a family past the filter.
ALLOWED_SOCKET_FAMILIES = (1, 2, 10)  # AF_UNIX, AF_INET, AF_INET6
_AF_MAX = 64  # above every family Linux defines (46 in 6.x); anything higher is denied too

_ACT_ALLOW = 0x7FFF0000
_CMP_GE = 5
_CMP_MASKED_EQ = 7
_NR_ERROR = -1
_KEYCTL_JOIN_SESSION_KEYRING = 1


def _act_errno(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


class _ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int),
                ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]  # fmt: skip


def _libseccomp() -> ctypes.CDLL:
    try:
        lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
    except OSError as exc:
        raise SandboxUnavailable(
            f"libseccomp is not installed ({exc}), so the 'local' sandbox cannot filter system "
            f"calls. Fix: {FIX_LIBSECCOMP}."
        ) from None
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int,
                                           ctypes.c_uint, ctypes.POINTER(_ArgCmp)]  # fmt: skip
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    return lib


def syscall_number(name: str) -> int | None:
    """This architecture's number for syscall ``name``, or None where it has no such call."""
    number = _libseccomp().seccomp_syscall_resolve_name(name.encode())
    return None if number == _NR_ERROR else int(number)


def build_filter() -> bytes:
    """The classic-BPF program (as bwrap's ``--seccomp`` reads it) denying ``DENIED``."""
    lib = _libseccomp()
    ctx = lib.seccomp_init(_ACT_ALLOW)
    if not ctx:
        raise SandboxUnavailable(f"libseccomp could not start a filter. Fix: {FIX_LIBSECCOMP}.")
    try:
        deny = _act_errno(errno.EPERM)
        rules: list[tuple[str, int, list[_ArgCmp]]] = [(name, deny, []) for name in DENIED]
        rules += [("clone", deny, [_ArgCmp(0, _CMP_MASKED_EQ, flag, flag)]) for flag in CLONE_NAMESPACE_FLAGS]
        # clone3 passes its flags in memory a filter cannot read: ENOSYS makes libc use clone().
        rules.append(("clone3", _act_errno(errno.ENOSYS), []))
        rules += [(call, deny, [cmp]) for call in ("socket", "socketpair") for cmp in _family_denials()]
        for name, action, args in rules:
            _add_rule(lib, ctx, name, action, args)
        return _export(lib, ctx)
    finally:
        lib.seccomp_release(ctx)


def _family_denials() -> list[_ArgCmp]:
    """One comparison per denied address family (argument 0 of socket and socketpair)."""
    low = 0xFFFFFFFF
    denied = [_ArgCmp(0, _CMP_MASKED_EQ, low, family) for family in range(_AF_MAX)
              if family not in ALLOWED_SOCKET_FAMILIES]
    return [*denied, _ArgCmp(0, _CMP_GE, _AF_MAX, 0)]


def _add_rule(lib: ctypes.CDLL, ctx: int, name: str, action: int, args: list[_ArgCmp]) -> None:
    number = lib.seccomp_syscall_resolve_name(name.encode())
    if number == _NR_ERROR:  # not a syscall on this architecture (iopl on arm64)
        return
    array = (_ArgCmp * len(args))(*args) if args else None
    rc = lib.seccomp_rule_add_array(ctx, action, number, len(args), array)
    if rc < 0:
        raise SandboxUnavailable(
            f"libseccomp refused the rule for {name}: {os.strerror(-rc)}. Fix: {FIX_LIBSECCOMP}."
        )


def _export(lib: ctypes.CDLL, ctx: int) -> bytes:
    fd = os.memfd_create("ponder-seccomp")
    try:
        rc = lib.seccomp_export_bpf(ctx, fd)
        if rc < 0:
            raise SandboxUnavailable(f"libseccomp could not export the filter: {os.strerror(-rc)}")
        os.lseek(fd, 0, os.SEEK_SET)
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def keyring_joiner() -> Callable[[], None]:
    """A ``preexec_fn`` step: join a new, empty, anonymous session keyring.

    Made before the fork (it resolves the syscall number and loads libc there). Where the
    keyring calls are unavailable (no CONFIG_KEYS, or a container's seccomp profile denies
    them) there is no keyring to inherit either, and the step does nothing.
    """
    number = syscall_number("keyctl")
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long

    def join() -> None:
        if number is None:
            return
        if libc.syscall(ctypes.c_long(number), ctypes.c_long(_KEYCTL_JOIN_SESSION_KEYRING), None) < 0:
            code = ctypes.get_errno()
            if code not in (errno.ENOSYS, errno.EPERM, errno.EACCES):
                raise OSError(code, f"could not join a new session keyring: {os.strerror(code)}")

    return join
