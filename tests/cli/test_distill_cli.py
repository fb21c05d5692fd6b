"""``ponder distill`` and ``ponder export --hf`` end to end, with a scripted model."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.cli import app
from ponder.scripted import register_script

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")


def add(messages: list[dict[str, str]], index: int) -> str:
    """Right every time, in three wordings (so a few samples hold duplicates); code on request."""
    text = messages[-1]["content"]
    a, b = map(int, re.findall(r"(\d+) \+ (\d+)", text)[-1])
    if "python" in text.lower():
        return f"```python\nprint({a} + {b})\n```"
    return f"Adding {a} and {b}, way {index % 3}: {a + b}.\nAnswer: {a + b}"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    model = register_script("distill-add", add)
    config = tmp_path / "ponder.toml"
    config.write_text(f'[roles.reasoner]\nmodel = "{model}"\nmax_tokens = 64\n'
                      f'[roles.standard]\nmodel = "{model}"\nmax_tokens = 64\n')
    return {"config": str(config), "store": str(tmp_path / "s.db")}


def invoke(env: dict[str, str], *args: str):
    return CliRunner().invoke(app, [*args, "--config", env["config"], "--store", env["store"]])


def write_rows(path: Path, questions: list[str]) -> Path:
    def total(q: str) -> int:
        return sum(map(int, re.findall(r"(\d+) \+ (\d+)", q)[-1]))

    path.write_text("".join(json.dumps({"id": f"q{i}", "question": q, "answer": f"#### {total(q)}"})
                            + "\n" for i, q in enumerate(questions)))
    return path


QUESTIONS = [f"A shop sells {i} red pens and {i + 3} blue pens today. What is {i} + {i + 3}?"
             for i in range(1, 7)]


def test_distill_decontaminates_solves_and_writes_trl_sft_data(tmp_path: Path, env) -> None:
    data = write_rows(tmp_path / "train.jsonl", QUESTIONS)
    # the evaluation set holds problems 2 and 5, reworded at the edges
    evals = write_rows(tmp_path / "test.jsonl", ["Today: " + QUESTIONS[1].upper(),
                                                 QUESTIONS[4].replace("today.", "today!!")])
    out, hf = tmp_path / "sft.jsonl", tmp_path / "sft-ds"
    done = invoke(env, "distill", str(data), "-s", "verified", "-n", "4", "-k", "2",
                  "--decontaminate", str(evals), "-o", str(out), "--hf", str(hf), "--json")
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert (summary["problems"], summary["decontaminated"]) == (6, 2)
    assert sorted(summary["removed_ids"]) == ["q1", "q4"]
    assert summary["solved"] == 4
    # 4 samples in 3 wordings: one duplicate per problem, then 3 distinct capped at 2
    assert (summary["traces"], summary["duplicates"], summary["over_cap"]) == (8, 4, 4)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 8 and {r["problem_id"] for r in rows} == {"q0", "q2", "q3", "q5"}
    for row in rows:
        user, assistant = row["messages"]
        assert user["role"] == "user" and assistant["role"] == "assistant"
        assert assistant["content"].startswith("<think>\n") and "</think>" in assistant["content"]
    datasets = pytest.importorskip("datasets")
    loaded = datasets.load_dataset("json", data_files=str(out), split="train",
                                   cache_dir=str(tmp_path / "cache"))
    assert loaded.num_rows == 8 and all(set(m) == {"role", "content"}
                                        for row in loaded["messages"] for m in row)
    assert datasets.load_from_disk(str(hf)).num_rows == 8


def test_distill_text_report_and_the_export_hf_flag(tmp_path: Path, env) -> None:
    datasets = pytest.importorskip("datasets")
    data = write_rows(tmp_path / "train.jsonl", QUESTIONS[:2])
    out = tmp_path / "pc.jsonl"
    done = invoke(env, "distill", str(data), "-n", "2", "--format", "prompt-completion",
                  "--reasoning", "field", "-o", str(out), "--run", "d1")
    assert done.exit_code == 0, done.output
    assert "2 problems; 0 removed as contaminated" in done.output
    assert "wrote 4 verified-correct traces for 2 problems" in done.output
    first = json.loads(out.read_text().splitlines()[0])
    assert first["prompt"][0]["role"] == "user"
    assert set(first["completion"][0]) == {"role", "content", "reasoning_content"}
    res = invoke(env, "export", "d1", "--format", "sft", "--hf", str(tmp_path / "ds"))
    assert res.exit_code == 0, res.output
    ds = datasets.load_from_disk(str(tmp_path / "ds"))
    assert ds.num_rows == 4 and ds[0]["messages"][1]["role"] == "assistant"
    bad = invoke(env, "distill", str(data), "--reasoning", "inline", "-o", str(out))
    assert bad.exit_code == 2 and "--reasoning" in bad.output
    nowhere = invoke(env, "distill", str(data))
    assert nowhere.exit_code == 2 and "-o train.jsonl" in nowhere.output


@pytest.mark.slow
def test_distill_with_the_embedded_model(tmp_path: Path) -> None:
    """The real default models: whatever they get right is written, and every trace written
    earns ponder's own accuracy reward against its problem's reference."""
    from ponder.rewards import accuracy_reward

    data = tmp_path / "arith.jsonl"
    gen = subprocess.run([sys.executable, str(Path(__file__).resolve().parents[2] / "benchmarks" / "arith.py"),
                          "--steps", "1", "--n", "4"], capture_output=True, text=True, check=True)
    data.write_text(gen.stdout)
    references = {row["id"]: row["answer"] for row in map(json.loads, gen.stdout.splitlines())}
    out = tmp_path / "sft.jsonl"
    # pot's programs are not cross-checked by prose, so its right answers need --any-correct
    done = CliRunner().invoke(app, ["distill", str(data), "-s", "pot", "-n", "3", "-k", "2",
                                    "--any-correct", "--seed", "0", "-o", str(out), "--json",
                                    "--store", str(tmp_path / "s.db")])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert summary["problems"] == 4 and summary["solved"] == 4 and len(rows) == summary["traces"] <= 8
    completions = [row["messages"][1]["content"] for row in rows]
    assert all("```python" in c for c in completions)  # pot's program is the reasoning
    assert accuracy_reward(completions, answer=[references[r["problem_id"]] for r in rows]) == [1.0] * len(rows)


def test_help_names_the_extra_to_install() -> None:
    for command in ("distill", "export"):
        out = CliRunner().invoke(app, [command, "--help"]).output
        words = " ".join(out.replace("│", " ").split())
        assert "pip install 'ponder[hf]'" in words  # Rich markup would eat a bare [hf]
