"""Sandboxed execution of generated Python: pick a backend, run programs, check the setup.

>>> sandbox = make_sandbox(SandboxConfig())                 # bubblewrap, the default
>>> result = sandbox.run("print(6 * 7); answer(6 * 7)")    # doctest: +SKIP
>>> result.status, result.stdout, result.value              # doctest: +SKIP
('ok', '42\\n', 42)

Backends come from the registry :data:`SANDBOXES`, which ``sandbox.backend`` in ``ponder.toml``
names: the built-ins (``local``, ``e2b``, ``subprocess``), one a plugin registers with
:func:`register_sandbox`, or one an installed package offers in the ``ponder.sandboxes``
entry-point group. A missing or broken backend raises ``SandboxUnavailable`` saying how to fix
it, and never falls back to another one.

>>> register_sandbox("docker", DockerSandbox)   # DockerSandbox(cfg: SandboxConfig) -> Sandbox
>>> make_sandbox(SandboxConfig(backend="docker"))
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable
from importlib.metadata import entry_points

from pydantic import BaseModel

from ponder.config import SandboxConfig
from ponder.errors import ConfigError, SandboxUnavailable
from ponder.registries import Registry
from ponder.sandbox.base import Sandbox
from ponder.sandbox.e2b import E2BSandbox, e2b_installed
from ponder.sandbox.local import FIX_INSTALL, LocalSandbox
from ponder.sandbox.subprocess import NOT_ISOLATED, SubprocessSandbox
from ponder.types import ExecResult

__all__ = [
    "SANDBOXES",
    "BackendCheck",
    "E2BSandbox",
    "ExecResult",
    "LocalSandbox",
    "Sandbox",
    "SubprocessSandbox",
    "check_backends",
    "make_sandbox",
    "register_sandbox",
]

SandboxFactory = Callable[..., Sandbox]
"""``(cfg: SandboxConfig) -> Sandbox``: builds a backend (``e2b``'s also takes ``api_key``)."""
SANDBOXES: Registry[str, SandboxFactory] = Registry("sandboxes", {
    "local": LocalSandbox,
    "e2b": E2BSandbox,
    "subprocess": SubprocessSandbox,
})
ENTRY_POINTS = "ponder.sandboxes"


def register_sandbox(name: str, factory: SandboxFactory) -> None:
    """Make ``factory`` the sandbox ``sandbox.backend = "<name>"`` selects (it replaces a
    backend of that name). ``factory(cfg)`` gets the ``[sandbox]`` config and returns a
    :class:`Sandbox`."""
    if not name or not name.replace("-", "_").isidentifier():
        raise ConfigError(f"sandbox name {name!r} must be a plain name such as 'docker'")
    if not callable(factory):
        raise ConfigError(f"register_sandbox({name!r}, ...) takes a factory (cfg) -> Sandbox, "
                          f"not {type(factory).__name__}")
    SANDBOXES[name] = factory


def sandbox_factory(name: str) -> SandboxFactory:
    """The registered backend ``name``, else the installed entry point of that name; a
    ``ConfigError`` lists the known ones."""
    if name not in SANDBOXES:
        for ep in entry_points(group=ENTRY_POINTS, name=name):
            register_sandbox(name, ep.load())
    try:
        return SANDBOXES[name]
    except KeyError:
        known = ", ".join(sorted(SANDBOXES))
        raise ConfigError(f"sandbox.backend: unknown sandbox {name!r}; choose one of {known}, "
                          "or register yours (ponder.sandbox.register_sandbox in a plugin, or "
                          f"the {ENTRY_POINTS!r} entry-point group)") from None


def make_sandbox(cfg: SandboxConfig, *, api_key: str | None = None) -> Sandbox:
    """The sandbox ``cfg.backend`` names; for ``e2b`` the key defaults to ``$E2B_API_KEY``.

    Raises ``SandboxUnavailable`` when the backend cannot run here (the message says why),
    ``ConfigError`` when no backend has that name.
    """
    backend = sandbox_factory(cfg.backend)
    if cfg.backend == "e2b":
        from ponder.sandbox.e2b import NO_KEY, import_e2b

        key = api_key or os.environ.get("E2B_API_KEY")
        if not key:  # a run would only collect sandbox errors: stop before it starts
            raise SandboxUnavailable(NO_KEY)
        import_e2b()  # the install hint, now rather than at the first program
        return backend(cfg, api_key=key)
    return backend(cfg)


class BackendCheck(BaseModel):
    """Whether one backend can run here, what was found, and how to fix it if not."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def _split_fix(message: str) -> tuple[str, str]:
    """Split a ``SandboxUnavailable`` message into (problem, fix)."""
    problem, _, fix = message.partition(" Fix: ")
    return problem.rstrip("."), fix.rstrip(".")


def _check_local(cfg: SandboxConfig) -> BackendCheck:
    try:
        box = LocalSandbox(cfg)
    except SandboxUnavailable as exc:
        problem, fix = _split_fix(str(exc))
        return BackendCheck(name="local", ok=False, detail=problem, fix=fix or FIX_INSTALL)
    detail = f"{box.version()} at {box.bwrap}; process cap: {box.cap.mode}"
    if box.layout.missing:
        missing = ", ".join(box.layout.missing)
        return BackendCheck(name="local", ok=True, detail=f"{detail}; packages not installed: {missing}",
                            fix=f"pip install {' '.join(box.layout.missing)} or drop them from sandbox.packages")  # fmt: skip
    return BackendCheck(name="local", ok=True, detail=f"{detail}; packages: {', '.join(cfg.packages)}")


def _check_e2b(api_key: str | None) -> BackendCheck:
    if not e2b_installed():
        return BackendCheck(name="e2b", ok=False, detail="e2b-code-interpreter is not installed",
                            fix="pip install 'ponder[e2b]'")  # fmt: skip
    if not api_key:
        return BackendCheck(name="e2b", ok=False, detail="E2B_API_KEY is not set",
                            fix="export E2B_API_KEY=... (https://e2b.dev/dashboard) or use --sandbox local")  # fmt: skip
    return BackendCheck(name="e2b", ok=True, detail="package installed and E2B_API_KEY set (not contacted)")


def _check_subprocess(cfg: SandboxConfig) -> BackendCheck:
    python = shutil.which(cfg.python) if cfg.python else "the running interpreter"
    if python is None:
        return BackendCheck(name="subprocess", ok=False, detail=f"python {cfg.python!r} not found",
                            fix="fix sandbox.python or unset it")  # fmt: skip
    return BackendCheck(name="subprocess", ok=True, detail=f"available ({python}); {NOT_ISOLATED}")


def check_backends(cfg: SandboxConfig, *, api_key: str | None = None) -> list[BackendCheck]:
    """One ``BackendCheck`` per backend, for ``ponder sandbox check`` (starts no remote sandbox)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [
            _check_local(cfg),
            _check_e2b(api_key or os.environ.get("E2B_API_KEY")),
            _check_subprocess(cfg),
        ]

