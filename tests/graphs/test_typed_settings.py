"""Strategy settings are typed from the flag to the node: ``Strategy[SettingsT]`` and
``Deps[SettingsT]`` carry a strategy's settings model, so a node reads its settings without a
cast. Checked twice: by mypy (the built-in strategies, the examples' plugin and a test plugin)
and at run time (the settings a run is given reach the plugin's node as its model)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import ponder
from ponder.config import SolveOptions
from ponder.errors import ConfigError
from ponder.graphs.registry import get_strategy, load_plugins, scoped
from ponder.scripted import register_script
from ponder.store import Store

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = Path(__file__).with_name("plugins") / "pick_nth.py"
# Type-checked as written: the strategies, the generic pieces they are typed by, the
# examples' plugin and this test's.
CHECKED = [*sorted((ROOT / "graphs" / "strategies").glob("*.py")),
           ROOT / "graphs" / "strategy.py", ROOT / "graphs" / "registry.py",
           ROOT / "agents" / "deps.py", ROOT / "ponder" / "registries.py",
           ROOT / "examples" / "best_of_n.py", PLUGIN]
PACKAGE_DIRS = {"ponder": "ponder", "agents": "ponder/agents", "graphs": "ponder/graphs",
                "ui": "ponder/ui"}


def source_tree(tmp_path: Path) -> Path:
    """The package as installed (``agents/`` is ``ponder.agents``...), for mypy, which does
    not follow setuptools' ``package-dir`` mapping: a folder of links."""
    root = tmp_path / "src"
    package = root / "ponder"
    package.mkdir(parents=True)
    for entry in (ROOT / "ponder").iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for folder in ("agents", "graphs", "ui"):
        (package / folder).symlink_to(ROOT / folder)
    return root


PROBE = """\
from ponder.agents.deps import Deps
from ponder.graphs.strategies.checked import CheckedSettings, STRATEGY

def node(deps: Deps[CheckedSettings]) -> float:
    return deps.settings.check_belo

reveal_type(STRATEGY)
"""


@pytest.fixture(scope="module")
def mypy_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One mypy run over the checked files and a probe that reads a setting wrongly."""
    pytest.importorskip("mypy", reason="the dev extra installs mypy: pip install -e '.[dev]'")
    tmp_path = tmp_path_factory.mktemp("mypy")
    root = source_tree(tmp_path)
    (tmp_path / "probe.py").write_text(PROBE)
    files = [str(_linked(root, f)) for f in CHECKED]
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
         "--cache-dir", str(tmp_path / "cache"), *files, str(tmp_path / "probe.py")],
        capture_output=True, text=True, env={**os.environ, "MYPYPATH": str(root)},
        cwd=tmp_path, timeout=600)
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: errors were found
    return done.stdout


def _linked(root: Path, path: Path) -> Path:
    """A file of the package through the link tree, so mypy checks it as its module."""
    for folder, package in PACKAGE_DIRS.items():
        if path.is_relative_to(ROOT / folder):
            return root / package / path.relative_to(ROOT / folder)
    return path


def test_the_strategies_and_plugins_type_check(mypy_output: str) -> None:
    errors = [line for line in mypy_output.splitlines() if ": error:" in line]
    # The probe's wrong read is the only error: every checked file is clean.
    assert errors and all("probe.py:" in line for line in errors), mypy_output
    assert f"(checked {len(CHECKED) + 1} source files)" in mypy_output


def test_the_checker_sees_the_settings_type(mypy_output: str) -> None:
    """A wrong read of a node's settings is a type error, and the spec's type is inferred."""
    assert '"CheckedSettings" has no attribute "check_belo"' in mypy_output
    assert "Strategy[ponder.graphs.strategies.checked.CheckedSettings]" in mypy_output


def test_the_settings_reach_the_plugin_node_as_its_model(scripted_config) -> None:
    model = register_script("typed-pick", lambda messages, index: f"The answer is {index * 10}.")
    config = scripted_config(model, plugins=[str(PLUGIN)])
    with scoped():
        assert load_plugins(config.plugins) == ["pick-nth"]
        assert get_strategy("pick-nth").settings.__name__ == "PickSettings"
        result = ponder.solve("What is 2 + 2?", "pick-nth", config=config,
                              options=SolveOptions(samples=2, settings={"pick": 2}))
        assert result.answer == "20" and result.samples_used == 3
        [vote] = [e for e in Store(config.store).events(result.run_id) if e.node == "vote"]
        assert vote.outputs == {"settings": "PickSettings", "pick": 2, "answer": "20"}
        with pytest.raises(ConfigError, match=r"pick-nth.*pick.*greater than or equal to 0"):
            ponder.solve("What is 2 + 2?", "pick-nth", config=config, pick=-1)
    with pytest.raises(ConfigError, match="unknown strategy 'pick-nth'"):
        get_strategy("pick-nth")  # the scope ended: the plugin's registration is undone


def test_the_former_name_of_the_settings_still_works_and_warns() -> None:
    with pytest.warns(DeprecationWarning, match="strategy_options is now SolveOptions.settings"):
        options = SolveOptions(strategy_options={"beam_width": 2})
    assert options.settings == {"beam_width": 2}
    with pytest.warns(DeprecationWarning):
        assert options.strategy_options == {"beam_width": 2}
