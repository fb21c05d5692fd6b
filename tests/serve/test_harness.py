"""lm-evaluation-harness, unmodified, scoring a small local gsm8k-style task through
``ponder serve`` (its ``local-chat-completions`` model): strict-match reads ponder's answer
line, so it scores what flexible-extract scores."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ponder.scripted import register_script
from ponder.serve import BackgroundServer, ServeSettings

lm_eval = pytest.importorskip("lm_eval", reason="lm-evaluation-harness is not installed")

# Sums the script gets right; the last it gets wrong (so a score of 1.0 proves nothing).
PROBLEMS = [(3, 4), (12, 30), (250, 750), (8, 9)]
TASK = """
task: ponder_tiny_gsm8k
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
output_type: generate_until
test_split: test
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_target: "{{{{answer}}}}"
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
    ignore_case: true
    ignore_punctuation: false
    regexes_to_ignore: [",", "\\\\$", "(?s).*#### ", "\\\\.$"]
generation_kwargs:
  until: ["Question:", "</s>", "<|im_end|>"]
  do_sample: false
  temperature: 0.0
num_fewshot: 0
filter_list:
  - name: "strict-match"
    filter:
      - function: "regex"
        regex_pattern: "#### (\\\\-?[0-9\\\\.\\\\,]+)"
      - function: "take_first"
  - name: "flexible-extract"
    filter:
      - function: "regex"
        group_select: -1
        regex_pattern: "(-?[$0-9.,]{{2,}})|(-?[0-9]+)"
      - function: "take_first"
"""


def adder(messages, index):
    """Writes a program that adds the question's two numbers (wrong for 8 + 9)."""
    a, b = (int(n) for n in re.findall(r"\d+", messages[-1]["content"])[-2:])
    wrong = 1 if (a, b) == (8, 9) else 0
    return f"```python\nx = {a}\ny = {b}\nprint(x + y + {wrong})\n```"


@pytest.mark.slow  # importing the harness (datasets, scikit-learn) takes most of a minute
def test_lm_eval_gsm8k_strict_match_scores_what_flexible_extract_scores(scripted_config,
                                                                       tmp_path: Path,
                                                                       monkeypatch):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    data = tmp_path / "tiny.jsonl"
    data.write_text("".join(json.dumps({
        "question": f"Mia has {a} stickers and gets {b} more. How many stickers does she have?",
        "answer": f"She has {a} + {b} = {a + b} stickers.\n#### {a + b:,}"}) + "\n"
        for a, b in PROBLEMS))
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "ponder_tiny_gsm8k.yaml").write_text(TASK.format(data=data))
    config = scripted_config(register_script("serve-adder", adder))

    with BackgroundServer(config, ServeSettings()) as server:
        out = simple_evaluate(
            model="local-chat-completions",
            model_args={"base_url": f"{server.base_url}/chat/completions", "model": "pot",
                        "num_concurrent": 1, "max_retries": 1, "tokenized_requests": False},
            tasks=["ponder_tiny_gsm8k"], task_manager=TaskManager(include_path=str(tasks)),
            apply_chat_template=True, log_samples=True)
        served = server.runner.store.list_runs(kind="serve")

    scores = out["results"]["ponder_tiny_gsm8k"]
    assert scores["exact_match,strict-match"] == scores["exact_match,flexible-extract"] == 0.75
    assert len(served) == len(PROBLEMS) and {r.status for r in served} == {"done"}
    [sample, *_] = out["samples"]["ponder_tiny_gsm8k"]
    assert "Program:" in sample["resps"][0][0]  # the harness saw the work, not a bare number
