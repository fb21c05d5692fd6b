"""``ponder models`` tells the truth: reachable is checked, not assumed from a set key."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.providers.standins import deepseek_reasoner

PONDER = str(Path(sys.executable).with_name("ponder"))


def run_models(tmp_path, toml: str, **env: str) -> list[dict]:
    (tmp_path / "ponder.toml").write_text(toml)
    full = {k: v for k, v in os.environ.items() if not k.startswith("PONDER_")}
    full.update(env, LITELLM_LOCAL_MODEL_COST_MAP="True")
    out = subprocess.run([PONDER, "models", "--json", "--timeout", "3"], capture_output=True,
                         text=True, cwd=tmp_path, env=full, timeout=120)
    assert out.returncode == 0, out.stderr
    return {row["role"]: row for row in json.loads(out.stdout)}


def test_models_checks_reachability_and_lists_capabilities(serve, tmp_path):
    api = serve(deepseek_reasoner())
    rows = run_models(tmp_path, f'[roles.reasoner]\nmodel = "deepseek/deepseek-reasoner"\n'
                                f'api_base = "{api.base}"\n', DEEPSEEK_API_KEY="sk-ds")
    reasoner = rows["reasoner"]
    assert reasoner["usable"] is True and reasoner["reachable"] == "yes"
    assert "no logprobs (confidence off)" in reasoner["capabilities"]
    assert "reasoning model" in reasoner["capabilities"]
    assert api.paths == ["/models"] and api.headers[0]["authorization"] == "Bearer sk-ds"
    assert api.requests == []  # no completion was bought to find this out


def test_models_says_unreachable_when_nothing_listens(tmp_path):
    rows = run_models(tmp_path, '[roles.reasoner]\nmodel = "hosted_vllm/qwen3"\n'
                                'api_base = "http://127.0.0.1:9/v1"\n')
    reasoner = rows["reasoner"]
    assert reasoner["usable"] is False and reasoner["reachable"] == "no"
    assert "cannot reach http://127.0.0.1:9/v1/models" in reasoner["detail"]
