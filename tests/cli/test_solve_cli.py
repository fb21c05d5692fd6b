"""`ponder solve`, `ponder models`, `ponder trace` run as subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PONDER = str(Path(sys.executable).with_name("ponder"))


def run(*args: str, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("PONDER_")}
    full_env.update(env or {})
    return subprocess.run([PONDER, *args], capture_output=True, text=True, timeout=timeout,
                          env=full_env)


def test_help_lists_commands():
    out = run("--help")
    assert out.returncode == 0
    for command in ("solve", "batch", "report", "trace", "ui", "sandbox", "models"):
        assert command in out.stdout


@pytest.mark.slow
def test_solve_json_with_embedded_model_then_trace(tmp_path):
    store = tmp_path / "cli.db"
    out = run("solve", "What is 17 + 25?", "--json", "--strategy", "verified", "--samples", "2",
              "--store", str(store))
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["strategy"] == "verified" and data["models"]["reasoner"] == "local/gemma-3-270m"
    usage = data["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0 and usage["calls"] >= 2
    assert set(usage) >= {"prompt_tokens", "completion_tokens", "reasoning_tokens", "cost_usd",
                          "latency_s", "calls"}
    assert data["run_id"].startswith("run-") and 1 <= data["samples_used"] <= 2
    assert data["branches"] and all(b["code"] is not None for b in data["branches"])
    assert sum(v["count"] for v in data["votes"].values()) <= data["samples_used"]

    trace = run("trace", data["run_id"], "--store", str(store))
    assert trace.returncode == 0, trace.stderr
    for node in ("problem", "reason", "code", "execute", "verify", "vote", "result"):
        assert node in trace.stdout


@pytest.mark.slow
def test_solve_plain_output_uses_env_store(tmp_path):
    store = tmp_path / "env.db"
    out = run("solve", "What is 2 + 2?", "--strategy", "cot", env={"PONDER_STORE": str(store)})
    assert out.returncode == 0, out.stderr
    assert "Answer:" in out.stdout and "tokens" in out.stdout
    assert store.exists()


def test_missing_api_key_is_a_clear_error(tmp_path):
    env = {k: "" for k in ("OPENAI_API_KEY",)}
    out = run("solve", "What is 1 + 1?", "--reasoner", "openai/o4-mini", "--store",
              str(tmp_path / "x.db"), env=env)
    assert out.returncode == 2
    assert "OPENAI_API_KEY" in out.stderr and "Traceback" not in out.stderr


def test_bad_model_string_and_strategy(tmp_path):
    out = run("solve", "q", "--reasoner", "gpt4", "--store", str(tmp_path / "x.db"))
    assert out.returncode == 2 and "provider/name" in out.stderr
    out = run("solve", "q", "--strategy", "magic", "--store", str(tmp_path / "x.db"))
    assert out.returncode == 2 and "unknown strategy" in out.stderr


def test_bad_config_file(tmp_path):
    bad = tmp_path / "ponder.toml"
    bad.write_text("samples = 0\n")
    out = run("solve", "q", "--config", str(bad), "--store", str(tmp_path / "x.db"))
    assert out.returncode == 2 and "samples" in out.stderr and "Traceback" not in out.stderr


def test_models_lists_roles_and_usability():
    out = run("models", "--json")
    assert out.returncode == 0, out.stderr
    roles = {row["role"]: row for row in json.loads(out.stdout)}
    assert roles["reasoner"]["model"] == "local/gemma-3-270m" and roles["reasoner"]["usable"]
    assert roles["standard"]["model"] == "local/smollm2-135m" and roles["standard"]["usable"]


def test_trace_of_unknown_run(tmp_path):
    out = run("trace", "run-nope", "--store", str(tmp_path / "x.db"))
    assert out.returncode == 2 and "ponder runs" in out.stderr
