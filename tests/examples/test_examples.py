"""Every script in examples/ runs, on the embedded models, and prints what it promises."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EXPECTED = {
    "quickstart.py": ["answer:", "tokens", "branch 0:"],
    "custom_verifier.py": ["answer:", "verdicts:"],
    "custom_graph.py": ["start --> route", "answer:", "difficulty:"],
    "remote_providers.py": ["deepseek/deepseek-reasoner", "set DEEPSEEK_API_KEY"],
    "batch_gsm8k.py": ["accuracy", "exported"],
    "best_of_n.py": ["answer:", "from 4 samples", "verdicts:"],
}


def test_every_example_is_covered():
    assert {p.name for p in EXAMPLES.glob("*.py")} == set(EXPECTED)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name, tmp_path):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PONDER_") and k not in ("DEEPSEEK_API_KEY", "OPENAI_API_KEY")}
    env["PONDER_STORE"] = str(tmp_path / "examples.db")
    out = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True,
                         timeout=600, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    for expected in EXPECTED[name]:
        assert expected in out.stdout, (expected, out.stdout[-2000:])
