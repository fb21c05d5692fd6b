"""Hostile programs against the kernel itself, from inside the ``local`` sandbox: the keyring
(host secrets, keys planted for the next run) and the system calls the seccomp filter denies.
Split from ``test_attacks.py`` to keep each file small; the same threat model applies."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ponder.config import SandboxConfig
from ponder.sandbox.local import LocalSandbox

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def box() -> LocalSandbox:
    return LocalSandbox(SandboxConfig(timeout_s=10, memory_mb=256, max_processes=16, packages=[]))


SYSCALLS = {  # numbers per architecture, so the attacks do not lean on the code under test
    "x86_64": {"keyctl": 250, "add_key": 248, "request_key": 249, "ptrace": 101, "bpf": 321,
               "perf_event_open": 298, "userfaultfd": 323, "unshare": 272, "setns": 308,
               "mount": 165, "umount2": 166, "process_vm_readv": 310, "process_vm_writev": 311,
               "kexec_load": 246, "io_uring_setup": 425},
    "aarch64": {"keyctl": 219, "add_key": 217, "request_key": 218, "ptrace": 117, "bpf": 280,
                "perf_event_open": 241, "userfaultfd": 282, "unshare": 97, "setns": 268,
                "mount": 40, "umount2": 39, "process_vm_readv": 270, "process_vm_writev": 271,
                "kexec_load": 104, "io_uring_setup": 425},
}  # fmt: skip
NR = SYSCALLS.get(os.uname().machine, {})
needs_syscall_table = pytest.mark.skipif(not NR, reason=f"no syscall table for {os.uname().machine}")
EPERM = 1

SYSCALL_PRELUDE = f"""
import ctypes, json, os
NR = {NR!r}
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long

def call(name, *args):
    args = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    got = libc.syscall(ctypes.c_long(NR[name]), *args)
    return got if got >= 0 else -ctypes.get_errno()
"""

KEYRING_HOST = SYSCALL_PRELUDE + """
import sys
from ponder.config import SandboxConfig
from ponder.sandbox.local import LocalSandbox

name, secret, planted, program = sys.argv[1:5]
SESSION, USER = -3, -4
assert call("keyctl", 1, b"ponder-test-session") > 0  # KEYCTL_JOIN_SESSION_KEYRING
serial = call("add_key", b"user", name.encode(), secret.encode(), len(secret), SESSION)
assert serial > 0, serial
result = LocalSandbox(SandboxConfig(packages=[], timeout_s=10)).run(program.replace("SERIAL", str(serial)))
found = {}
for ring in (SESSION, USER):
    found[ring] = call("keyctl", 10, ring, b"user", planted.encode(), 0)  # KEYCTL_SEARCH
    if found[ring] > 0:
        call("keyctl", 9, found[ring], ring)  # unlink what the attack planted
print(json.dumps({"result": result.model_dump(), "planted": list(found.values())}))
"""

KEYRING_ATTACK = SYSCALL_PRELUDE + """
buf = ctypes.create_string_buffer(4096)
out = {"proc_keys": open("/proc/keys").read(), "key_users": open("/proc/key-users").read()}
out["session"] = call("keyctl", 0, -3, 0)  # KEYCTL_GET_KEYRING_ID
out["read"] = call("keyctl", 11, SERIAL, buf, 4096)  # KEYCTL_READ the host's key by serial
out["describe"] = call("keyctl", 6, SERIAL, buf, 4096)
out["found"] = call("request_key", b"user", NAME.encode(), None, 0)
for ring in (-3, -4, -5):  # session, user, user-session keyrings
    out[f"plant{ring}"] = call("add_key", b"user", PLANTED.encode(), b"x", 1, ring)
print(json.dumps(out))
print(buf.raw.rstrip(b"\\0"))
"""


@needs_syscall_table
def test_kernel_keyring_is_out_of_reach() -> None:
    if not os.path.exists("/proc/keys"):
        pytest.skip("this kernel has no keyring (CONFIG_KEYS)")
    name, secret = f"ponder-host-key-{uuid.uuid4().hex[:8]}", f"s3cret-{uuid.uuid4().hex}"
    planted = f"ponder-planted-{uuid.uuid4().hex[:8]}"
    program = KEYRING_ATTACK.replace("NAME", repr(name)).replace("PLANTED", repr(planted))
    done = subprocess.run([sys.executable, "-c", KEYRING_HOST, name, secret, planted, program],
                          cwd=PROJECT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    result = report["result"]
    assert result["status"] == "ok", result
    seen = result["stdout"] + result["stderr"]
    assert secret not in seen and name not in seen  # neither the payload nor the key's name
    calls = json.loads(result["stdout"].split("\n")[0])
    assert calls["proc_keys"] == "" and calls["key_users"] == ""
    assert {k: v for k, v in calls.items() if k not in ("proc_keys", "key_users") and v != -EPERM} == {}
    assert report["planted"] == [-errno.ENOKEY, -errno.ENOKEY]  # the host sees no planted key


DENIED_CALLS = {  # harmless arguments; unfiltered, several of these succeed or fail otherwise
    "keyctl": (0, -3, 0), "ptrace": (2, "os.getppid()", 0, 0), "bpf": (0, 0, 0),
    "perf_event_open": (0, 0, -1, -1, 0), "userfaultfd": (0,), "unshare": (0,),
    "setns": (-1, 0), "mount": (0, 0, 0, 0, 0), "umount2": (b"/tmp", 0),
    "process_vm_readv": ("os.getpid()", 0, 0, 0, 0, 0), "process_vm_writev": ("os.getpid()", 0, 0, 0, 0, 0),
    "kexec_load": (0, 0, 0, 0), "io_uring_setup": (1, 0),
}  # fmt: skip


@needs_syscall_table
def test_dangerous_syscalls_fail_with_eperm_and_python_still_works(box: LocalSandbox) -> None:
    calls = ", ".join(f"{name!r}: call({name!r}, {', '.join(map(str, args))})".replace("'os.", "os.")
                      .replace("()'", "()") for name, args in DENIED_CALLS.items())  # fmt: skip
    program = SYSCALL_PRELUDE + (
        f"got = {{{calls}}}\n"
        "import subprocess, sys, threading\n"
        "child = subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True, text=True)\n"
        "threads = [threading.Thread(target=lambda: None) for _ in range(4)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os._exit(7)\n"
        "answer({'calls': got, 'child': child.stdout, 'forked': os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])})\n"
    )
    result = box.run(program, timeout_s=10)
    assert result.status == "ok", result  # denied calls return an error; nothing is killed
    assert result.value["calls"] == {name: -EPERM for name in DENIED_CALLS}
    assert result.value["child"] == "42\n" and result.value["forked"] == 7


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the x32 entry point is x86-64's")
def test_x32_syscall_numbers_do_not_slip_past_the_filter(box: LocalSandbox) -> None:
    x32_keyctl = 0x40000000 | NR["keyctl"]  # the same call through the x32 ABI's numbering
    program = SYSCALL_PRELUDE + f"NR['x32'] = {x32_keyctl}\nprint('got', call('x32', 0, -3, 0))\n"
    result = box.run(program)
    assert "got" not in result.stdout  # the kernel stops the program before the call returns
    assert result.status == "error" and "SIGSYS" in result.message


FAMILY_ATTACK = SYSCALL_PRELUDE + """
import socket
NR['socket'] = SOCKET_NR
got = {}
for name, family in (('vsock', 40), ('netlink', 16), ('packet', 17), ('alg', 38), ('unspec', 0),
                     ('bluetooth', 31), ('xdp', 44), ('rds', 21), ('tipc', 30), ('above', 200)):
    got[name] = call('socket', family, socket.SOCK_STREAM if family != 16 else socket.SOCK_RAW, 0)
    got[name + '_high_bits'] = call('socket', (1 << 32) | family, socket.SOCK_STREAM, 0)
try:
    socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    python_vsock = 'created'
except OSError as exc:
    python_vsock = exc.errno
a, b = socket.socketpair()
a.sendall(b'ping'); pair = b.recv(4).decode()
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(('127.0.0.1', 0)); server.listen(1)
client = socket.create_connection(server.getsockname()); conn, _ = server.accept()
client.sendall(b'pong'); loopback = conn.recv(4).decode()
answer({'denied': got, 'python_vsock': python_vsock, 'pair': pair, 'loopback': loopback,
        'unix': socket.socket(socket.AF_UNIX).family == socket.AF_UNIX})
"""


@needs_syscall_table
def test_only_unix_and_ip_sockets_can_be_opened(box: LocalSandbox) -> None:
    """AF_VSOCK reaches the hypervisor outside every network namespace; netlink, packet, AF_ALG
    and the rest are kernel surface the sandbox has no use for. Unix sockets and the sandbox's
    own loopback still work."""
    socket_nr = {"x86_64": 41, "aarch64": 198}[os.uname().machine]
    result = box.run(FAMILY_ATTACK.replace("SOCKET_NR", str(socket_nr)), timeout_s=10)
    assert result.status == "ok", result
    denied = result.value["denied"]
    assert denied == {name: -EPERM for name in denied}, denied
    assert result.value["python_vsock"] == EPERM
    assert result.value["pair"] == "ping" and result.value["loopback"] == "pong"
    assert result.value["unix"] is True
