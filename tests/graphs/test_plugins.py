"""A strategy from outside the package (examples/best_of_n.py) registered by one config line
is a peer of the built-ins: the API, the CLI, batch, the UI and the registry's listing see it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import ponder
from ponder.config import load_config
from ponder.errors import ConfigError
from ponder.graphs.registry import STRATEGIES, load_plugins
from ponder.store import Store

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "best_of_n.py"
PONDER = str(Path(sys.executable).with_name("ponder"))

# A plugin module may register anything, here the scripted model the tests drive: branch 1
# reasons 42 and its program agrees (verified); the others reason 41 against the same program
# (refuted), so a vote by count would say 41 while best-of-N keeps the verified branch.
SCRIPT = '''
from ponder.scripted import register_script

def bon(messages, index):
    prompt = messages[-1]["content"]
    if "python" in prompt.lower() or "program" in prompt.lower():
        return "```python\\nanswer(6 * 7)\\n```"
    return "The answer is 42." if index == 1 else "The answer is 41."

register_script("bon", bon)
'''


@pytest.fixture
def plugin_config(tmp_path: Path) -> Path:
    (tmp_path / "bon_script.py").write_text(SCRIPT)
    config = tmp_path / "ponder.toml"
    config.write_text(
        f'plugins = ["{tmp_path / "bon_script.py"}", "{EXAMPLE}"]\n'
        f'store = "{tmp_path / "plugins.db"}"\n'
        '[roles.reasoner]\nmodel = "scripted/bon"\n[roles.standard]\nmodel = "scripted/bon"\n')
    return config


def ponder_cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PONDER_")}
    return subprocess.run([PONDER, *args], capture_output=True, text=True, timeout=300, env=env)


def test_the_api_runs_a_plugin_strategy(plugin_config: Path) -> None:
    config = load_config(plugin_config)
    assert load_plugins(config.plugins) or "best-verified" in STRATEGIES
    result = ponder.solve("What is 6 * 7?", "best-verified", samples=3, config=config)
    assert result.answer == "42" and result.strategy == "best-verified"
    assert result.samples_used == 3  # best-of-N draws all N: early stopping is off
    assert [b.verdict for b in result.branches].count("verified") == 1
    events = Store(config.store).events(result.run_id)
    vote = next(e for e in events if e.node == "vote")
    assert vote.outputs["best"] == 1  # the replaced vote node is traced like any other


def test_the_strategy_validates_its_own_settings(plugin_config: Path) -> None:
    config = load_config(plugin_config)
    with pytest.raises(ConfigError, match="require_verified"):
        ponder.solve("What is 6 * 7?", "best-verified", samples=2, config=config, beam_width=3)
    strict = ponder.solve("What is 6 * 7?", "best-verified", samples=3, config=config,
                          require_verified=True)
    assert strict.answer == "42"


@pytest.mark.slow
def test_the_cli_and_batch_pick_it_up_from_the_config(plugin_config: Path, tmp_path: Path) -> None:
    listing = ponder_cli("strategies", "--json", "--config", str(plugin_config))
    assert listing.returncode == 0, listing.stderr
    row = next(r for r in json.loads(listing.stdout) if r["name"] == "best-verified")
    assert row["runs_code"] and row["settings"] == {"require_verified": False}

    solved = ponder_cli("solve", "What is 6 * 7?", "--strategy", "best-verified", "-n", "3",
                        "--json", "--config", str(plugin_config))
    assert solved.returncode == 0, solved.stderr
    assert json.loads(solved.stdout)["answer"] == "42"

    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps({"id": f"p{i}", "question": f"What is 6 * 7? ({i})",
                                        "answer": "42"}) + "\n" for i in range(3)))
    batch = ponder_cli("batch", str(data), "--strategy", "best-verified,cot", "-n", "3", "--json",
                       "--config", str(plugin_config))
    assert batch.returncode == 0, batch.stderr
    outcome = json.loads(batch.stdout)
    assert outcome["solved"] == 6 and outcome["failed"] == 0
    stored = Store(tmp_path / "plugins.db")
    results = list(stored.results(outcome["run"]["id"], strategy="best-verified"))
    assert len(results) == 3 and all(r.correct for r in results)


def test_the_ui_offers_it(plugin_config: Path, tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_STORE", str(tmp_path / "ui.db"))
    monkeypatch.setenv("PONDER_PLUGINS", json.dumps(load_config(plugin_config).plugins))
    at = AppTest.from_file(str(ROOT / "ui" / "main.py"), default_timeout=120)
    at.run()
    at.switch_page("solve_page.py")
    at.run()
    assert "best-verified" in at.selectbox(key="solve_strategy").options
    at.text_area(key="solve_question").input("What is 6 * 7?")
    at.selectbox(key="solve_strategy").select("best-verified")
    at.number_input(key="solve_samples").set_value(3)
    at.text_input(key="solve_reasoner").input("scripted/bon")
    at.text_input(key="solve_standard").input("scripted/bon")
    at.button[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = "\n".join(str(e.value) for e in at.markdown)
    assert "### Answer: 42" in shown
    [run] = Store(tmp_path / "ui.db").list_runs()
    assert run.strategies == ["best-verified"] and run.status == "done"
