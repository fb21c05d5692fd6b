"""Exports in TRL's shapes and as Hugging Face datasets; the distillation selection rules."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ponder.eval.distill import ContaminationIndex, Selection, decontaminate, ngrams, select_traces
from ponder.eval.export import export_run, to_dataset
from ponder.store import Store
from ponder.types import Branch, Problem, Result


def filled(tmp_path: Path) -> Store:
    """One run: p0 has two verified-correct branches (one with separate reasoning) and a
    refuted one; p1 a verified-correct one."""
    store = Store(tmp_path / "s.db")
    run = store.create_run(kind="batch", name="r", strategies=["verified"], config={})
    for pos, (pid, branches) in enumerate({
        "p0": [Branch(index=0, text="<think>2+2 is 4</think>Answer: 4", answer="4", verdict="verified",
                      rewards={"accuracy": 1.0}),
               Branch(index=1, text="Answer: 4", reasoning="two and two", answer="4",
                      verdict="verified", rewards={"accuracy": 1.0}),
               Branch(index=2, text="Answer: 5", answer="5", verdict="refuted", rewards={"accuracy": 0.0})],
        "p1": [Branch(index=0, text="<think>3+3</think>Answer: 6", answer="6", verdict="verified",
                      rewards={"accuracy": 1.0})],
    }.items()):
        problem = Problem(id=pid, question=f"What is {pos + 2} + {pos + 2}?", reference=str(2 * pos + 4))
        store.add_problem(run.id, problem, pos)
        store.save_result(Result(run_id=run.id, problem_id=pid, strategy="verified", answer=problem.reference,
                                 reference=problem.reference, correct=True, branches=branches))
    return store


def records(store: Store, fmt: str, **kw) -> list[dict]:
    out = io.StringIO()
    export_run(store, "r", fmt, out, **kw)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_sft_messages_with_reasoning_in_think_tags_or_a_field(tmp_path: Path) -> None:
    store = filled(tmp_path)
    think = records(store, "sft")
    assert [r["problem_id"] for r in think] == ["p0", "p0", "p1"]
    assert think[0]["messages"] == [
        {"role": "user", "content": "What is 2 + 2?"},
        {"role": "assistant", "content": "<think>\n2+2 is 4\n</think>\n\nAnswer: 4"}]
    field = records(store, "sft", reasoning="field")
    assert field[1]["messages"][1] == {"role": "assistant", "content": "Answer: 4",
                                       "reasoning_content": "two and two"}
    assert all("<think>" not in r["messages"][1]["content"] for r in field)


def test_a_program_of_thought_trace_keeps_its_program_as_the_reasoning() -> None:
    from ponder.eval.export import assistant_turn

    problem = Problem(question="What is 2 + 2?", reference="4")
    branch = Branch(text="", code="print(2 + 2)", answer="4", verdict="unverified")
    assert assistant_turn(problem, branch) == {
        "role": "assistant", "content": "<think>\n```python\nprint(2 + 2)\n```\n</think>\n\n4"}


def test_prompt_completion_pairs(tmp_path: Path) -> None:
    pairs = records(filled(tmp_path), "prompt-completion")
    assert pairs[2]["prompt"] == [{"role": "user", "content": "What is 3 + 3?"}]
    assert pairs[2]["completion"] == [{"role": "assistant", "content": "<think>\n3+3\n</think>\n\nAnswer: 6"}]
    assert "messages" not in pairs[2]


def test_exports_load_as_hugging_face_datasets(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    store = filled(tmp_path)
    path = tmp_path / "train.jsonl"
    with path.open("w") as fh:
        export_run(store, "r", "sft", fh)
    loaded = datasets.load_dataset("json", data_files=str(path), split="train",
                                   cache_dir=str(tmp_path / "hf-cache"))
    assert loaded.num_rows == 3 and "messages" in loaded.column_names
    assert all(set(m) == {"role", "content"} for row in loaded["messages"] for m in row)
    direct = to_dataset(store, "r", format="sft", reasoning="field")
    assert direct.num_rows == 3 and direct[1]["messages"][1]["reasoning_content"] == "two and two"
    assert to_dataset(store, "r", format="rewards").num_rows == 4
    direct.save_to_disk(str(tmp_path / "ds"))
    assert datasets.load_from_disk(str(tmp_path / "ds"))[0]["messages"][0]["role"] == "user"


def test_ngram_overlap_finds_leaked_questions() -> None:
    eval_set = ["Natalia sold clips to 48 of her friends in April, and then she sold half as many",
                "What is 7 + 8?"]
    index = ContaminationIndex(eval_set, n=8)
    leaked = "NATALIA sold clips to 48 of her friends in April!! How many in May?"
    assert leaked in index                              # 8 shared words, case and punctuation aside
    assert "what is 7+8" in index                       # short questions compare whole
    assert "What is 7 + 9?" not in index
    assert "Natalia sold clips to her friends" not in index
    assert ngrams("a b c", 2) == {("a", "b"), ("b", "c")}
    kept, removed = decontaminate([Problem(id="x", question=leaked), Problem(id="y", question="New one")],
                                  index)
    assert ([p.id for p in kept], [p.id for p in removed]) == (["y"], ["x"])


def test_select_traces_drops_duplicates_and_caps_per_problem() -> None:
    def rec(pid: str, content: str) -> dict:
        return {"problem_id": pid, "messages": [{"role": "user", "content": "q"},
                                                {"role": "assistant", "content": content}]}

    rows = [rec("a", "<think>x</think> 1"), rec("a", "<think>X</think>  1"), rec("a", "<think>y</think> 1"),
            rec("a", "<think>z</think> 1"), rec("b", "<think>x</think> 1")]
    stats = Selection()
    kept = list(select_traces(rows, 2, stats))
    assert [(r["problem_id"], r["messages"][1]["content"]) for r in kept] == [
        ("a", "<think>x</think> 1"), ("a", "<think>y</think> 1"), ("b", "<think>x</think> 1")]
    assert (stats.kept, stats.duplicates, stats.over_cap) == (3, 1, 1)
