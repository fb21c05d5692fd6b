"""Tamper-proof grading of code problems: the solution never shares a process with the check.

HumanEval's layout (``solution + tests + check(entry_point)`` in one process, success read
from the exit status) lets a wrong solution pass: ``os._exit(0)``, ``raise SystemExit(0)``,
a patched builtin or an object whose ``__eq__`` is always true. Here the sandboxed program is
a small *grader* that

1. reads a per-run nonce from stdin into a buffer, then closes stdin;
2. forks: the child zeroes its copy of the nonce, closes every descriptor but one request
   pipe and one reply pipe (so it holds neither stdin nor the value channel), runs the
   solution, and then serves calls: arguments in, return value out, as tagged JSON of plain
   data (None, bool, int, float, str, bytes, list, tuple, set, dict) — a custom object
   cannot cross, so neither can an always-equal one;
3. the parent never runs solution code: it runs the problem's prompt (for helpers the tests
   use, such as HumanEval's ``poly``), the tests and ``check`` against proxies of the
   child's functions, and only after ``check`` returns does it send
   ``answer({"ponder_check": nonce})`` through the value channel.

A branch passes only when that value carries the nonce the verifier sent (:func:`passed`).
The parent makes itself non-dumpable, so the child cannot read its memory or descriptors
through ``/proc``. Exiting, killing the parent, printing, or returning wrong values all end
without the nonce, so they fail. Sandboxes that cannot fork or give no stdin (E2B) fail
closed: nothing passes there.

Known limit: a test that checks an argument mutated in place sees the parent's copy.
"""

from __future__ import annotations

import secrets
from typing import Any

from ponder.types import ExecResult, Problem

KEY = "ponder_check"

GRADER = r'''
def _ponder_grade(prompt, solution, tests, entry):
    import builtins, json, os, sys
    buf = bytearray(64)
    size = os.readv(0, [buf])
    os.close(0)
    os.open(os.devnull, os.O_RDONLY)  # takes fd 0 again, so the pipes below are >= 3
    try:
        import ctypes
        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: /proc/<pid> closed to the child
    except Exception:
        pass

    def enc(v):
        if v is None or isinstance(v, (bool, int, str)):
            return v
        if isinstance(v, float):
            return {"t": "float", "v": repr(v)}
        if isinstance(v, bytes):
            return {"t": "bytes", "v": v.hex()}
        for t, kind in ((list, "list"), (tuple, "tuple"), (set, "set"), (frozenset, "frozenset")):
            if type(v) is t:
                return {"t": kind, "v": [enc(x) for x in v]}
        if type(v) is dict:
            return {"t": "dict", "v": [[enc(k), enc(x)] for k, x in v.items()]}
        raise TypeError(f"a {type(v).__name__} cannot cross to the grader")

    def dec(v):
        if not isinstance(v, dict):
            return v
        t, x = v["t"], v["v"]
        if t == "float":
            return float(x)
        if t == "bytes":
            return bytes.fromhex(x)
        if t == "dict":
            return {dec(k): dec(y) for k, y in x}
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[t](dec(y) for y in x)

    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        buf[:] = bytes(len(buf))
        keep = sorted((req_r, rep_w))
        os.closerange(3, keep[0])
        os.closerange(keep[0] + 1, keep[1])
        os.closerange(keep[1] + 1, 1 << 16)
        inbox, outbox = os.fdopen(req_r, "r"), os.fdopen(rep_w, "w")
        ns = {"__name__": "__main__", "__builtins__": builtins}
        exec(compile(solution, "<solution>", "exec"), ns)
        names = [n for n, f in ns.items() if callable(f) and not n.startswith("__")]
        outbox.write(json.dumps(names) + "\n")
        outbox.flush()
        for line in inbox:
            name, args, kwargs = json.loads(line)
            try:
                reply = {"ok": enc(ns[name](*dec(args), **dec(kwargs)))}
            except BaseException as exc:
                reply = {"error": type(exc).__name__, "message": str(exc)[:200]}
            outbox.write(json.dumps(reply) + "\n")
            outbox.flush()
        os._exit(0)
    os.close(req_r)
    os.close(rep_w)
    to_child, from_child = os.fdopen(req_w, "w"), os.fdopen(rep_r, "r")
    line = from_child.readline()
    if not line:
        raise RuntimeError("the solution ended before defining its functions")
    defined = json.loads(line)

    def proxy(name):
        def call(*args, **kwargs):
            to_child.write(json.dumps([name, enc(args), enc(kwargs)]) + "\n")
            to_child.flush()
            reply = from_child.readline()
            if not reply:
                raise RuntimeError(f"the solution exited while running {name}()")
            reply = json.loads(reply)
            if "error" in reply:
                kind = getattr(builtins, reply["error"], None)
                if not (isinstance(kind, type) and issubclass(kind, Exception)):
                    kind = RuntimeError
                raise kind(reply["message"])
            return dec(reply["ok"])
        call.__name__ = name
        return call

    ns = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec(compile(prompt, "<prompt>", "exec"), ns)
    except Exception:
        ns = {"__name__": "__main__", "__builtins__": builtins}
    trusted = {n for n in ns if not n.startswith("__")} - {entry}
    for name in defined:
        if name not in trusted:
            ns[name] = proxy(name)
    exec(compile(tests, "<tests>", "exec"), ns)
    if entry:
        if entry not in defined:
            raise NameError(f"the solution defines no {entry}()")
        ns["check"](ns[entry])
    answer({"ponder_check": buf[:size].decode()})
    to_child.close()
    os.kill(pid, 9)
    os.waitpid(pid, 0)

_ponder_grade(%r, %r, %r, %r)
'''


def grading_program(problem: Problem, solution: str) -> str:
    """The sandboxed grader for ``solution`` against ``problem``'s tests (module doc)."""
    return GRADER % (problem.question, solution, problem.tests or "", problem.entry_point or "")


def new_nonce() -> str:
    """A fresh secret for one grading run (sent on stdin, never in the program text)."""
    return secrets.token_hex(16)


def passed(result: ExecResult, nonce: str) -> bool:
    """Whether the check completed: the value channel carries this run's nonce."""
    value: Any = result.value
    return isinstance(value, dict) and secrets.compare_digest(str(value.get(KEY, "")), nonce)
