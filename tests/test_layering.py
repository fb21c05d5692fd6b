"""Imports go downward only, and nothing imports itself in a loop.

Layers, bottom up: the core (``ponder/`` without its front ends) → ``ponder.agents`` (graph
nodes) → ``ponder.graphs`` (strategies, runs, batches) → the front ends ``ponder.cli``,
``ponder.serve`` and ``ponder.ui``. Read from the source's syntax tree, every import counts:
module-level, inside a function (a lazy import is still a dependency) and under
``TYPE_CHECKING`` (a type from a higher layer is one too). Cycles are looked for among the
imports that run (``TYPE_CHECKING`` blocks never do).
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"ponder": "ponder", "agents": "ponder.agents", "graphs": "ponder.graphs",
           "ui": "ponder.ui"}

# Which layer each package is in (the longest matching prefix wins).
LAYER_OF = {"ponder": "core", "ponder.agents": "agents", "ponder.graphs": "graphs",
            "ponder.cli": "cli", "ponder.serve": "serve", "ponder.ui": "ui",
            # the reward functions grade code with the agents' tamper-proof grader
            "ponder.rewards": "agents"}
# What each layer may import besides itself.
MAY_IMPORT = {
    "core": set(),
    "agents": {"core"},
    "graphs": {"core", "agents"},
    "serve": {"core", "agents", "graphs"},
    "ui": {"core", "agents", "graphs"},
    "cli": {"core", "agents", "graphs", "serve", "ui"},  # it starts the server and the UI
}
# Single modules allowed more than their layer, and why.
EXCEPTIONS = {
    "ponder": {"graphs"},  # the package's face: ponder.solve etc., imported on first use
    "ponder.__main__": {"cli"},  # python -m ponder runs the command line
}
# Floor packages that stand on only a few other core modules (besides their own modules).
FLOOR_PACKAGES = {
    # the embedded engine sits below the model client and its backends
    "ponder.embedded": {"ponder.errors", "ponder.registries", "ponder.types"},
}
# One framework per module: third-party packages only these modules may import.
FRAMEWORKS = {
    "litellm": ("ponder.backends.litellm",),
    "e2b_code_interpreter": ("ponder.sandbox.e2b",),
    "streamlit": ("ponder.ui",),
    "opentelemetry.sdk": ("ponder.cli", "ponder.serve", "ponder.ui"),
    "psycopg": ("ponder.store.postgres", "ponder.graphs.checkpoints"),
    "psycopg_pool": ("ponder.store.postgres", "ponder.graphs.checkpoints"),
}


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # what it imports, resolved to a module of ours (or the dotted name)
    line: int
    runs: bool  # False under ``if TYPE_CHECKING:``


def modules() -> dict[str, Path]:
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = [package, *path.relative_to(ROOT / folder).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(module: str, path: Path, known: dict[str, Path]) -> list[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    typing_only = _type_checking_lines(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # ``from ponder import answers`` imports the module ponder.answers.
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                     for a in node.names]
        else:
            continue
        for name in dict.fromkeys(names):
            found.append(Import(module, _resolve(name, known), node.lineno,
                                node.lineno not in typing_only))
    return found


def _resolve(name: str, known: dict[str, Path]) -> str:
    """The module of ours ``name`` is in (``ponder.x.y`` → ``ponder.x`` if that is one)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in known:
            return ".".join(parts[:end])
    return name


def layer(module: str) -> str:
    owner = max((p for p in LAYER_OF if module == p or module.startswith(p + ".")), key=len)
    return LAYER_OF[owner]


@functools.cache
def all_imports() -> list[Import]:
    known = modules()
    return [i for module, path in known.items() for i in imports_of(module, path, known)]


def test_the_modules_are_found() -> None:
    found = modules()
    assert {"ponder.config", "ponder.agents.voter", "ponder.graphs.lifecycle",
            "ponder.cli.solve_cmd", "ponder.serve.app", "ponder.ui.live"} <= set(found)
    assert len(found) > 80


def test_every_import_goes_down_the_layers() -> None:
    known, wrong = modules(), []
    for i in all_imports():
        if i.target not in known:
            continue
        mine, theirs = layer(i.module), layer(i.target)
        allowed = MAY_IMPORT[mine] | {mine} | EXCEPTIONS.get(i.module, set())
        if theirs not in allowed:
            wrong.append(f"{i.module} ({mine}) imports {i.target} ({theirs}), line {i.line}")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


@pytest.mark.parametrize("package", sorted(FLOOR_PACKAGES))
def test_floor_packages_import_only_what_they_stand_on(package: str) -> None:
    known, allowed = modules(), FLOOR_PACKAGES[package]
    inside = [m for m in known if m == package or m.startswith(package + ".")]
    assert len(inside) > 1
    wrong = [f"{i.module} imports {i.target}, line {i.line}" for i in all_imports()
             if i.module in inside and i.target in known and i.target not in inside
             and i.target not in allowed]
    assert not wrong, f"{package} imports more than {sorted(allowed)}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_each_framework_is_imported_only_where_it_belongs(framework: str) -> None:
    owners = FRAMEWORKS[framework]
    wrong = [f"{i.module} line {i.line}" for i in all_imports()
             if (i.target == framework or i.target.startswith(framework + "."))
             and not any(i.module == o or i.module.startswith(o + ".") for o in owners)]
    assert not wrong, f"{framework} is imported outside {', '.join(owners)}: {wrong}"


def test_no_module_imports_itself_through_others() -> None:
    known = modules()
    graph: dict[str, set[str]] = {m: set() for m in known}
    for i in all_imports():
        if i.runs and i.target in known and i.target != i.module:
            graph[i.module].add(i.target)
    cycles = [sorted(c) for c in _strongly_connected(graph) if len(c) > 1]
    assert not cycles, f"import loops: {cycles}"


def test_a_planted_upward_import_and_loop_are_caught(tmp_path: Path) -> None:
    """The checks can fail: a core module importing a front end, and a two-module loop."""
    (tmp_path / "a.py").write_text("from ponder.cli import main\n")
    (tmp_path / "b.py").write_text("def f():\n    from ponder import c\n")
    (tmp_path / "c.py").write_text("import ponder.b\n")
    known = {"ponder.a": tmp_path / "a.py", "ponder.b": tmp_path / "b.py",
             "ponder.c": tmp_path / "c.py", "ponder.cli": tmp_path / "a.py"}
    [up] = imports_of("ponder.a", known["ponder.a"], known)
    assert (layer(up.module), layer(up.target)) == ("core", "cli")
    assert "cli" not in MAY_IMPORT["core"]
    graph = {m: {i.target for i in imports_of(m, known[m], known)} for m in ("ponder.b", "ponder.c")}
    assert [sorted(c) for c in _strongly_connected(graph) if len(c) > 1] == [["ponder.b", "ponder.c"]]


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(component)
    return out
