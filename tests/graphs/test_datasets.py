"""Dataset loading: format detection, every supported layout, and validation errors with rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ponder.errors import DatasetError
from ponder.graphs.datasets import DatasetSpec, iter_problems, validate


def jsonl(path: Path, rows: list[dict | str]) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return str(path)


def problems(spec: DatasetSpec, **kw) -> list:
    validate(spec)
    return [p for _, p in iter_problems(spec, **kw)]


def test_gsm8k_rows_become_math_problems_with_numeric_references(tmp_path: Path) -> None:
    src = jsonl(tmp_path / "g.jsonl", [
        {"question": "Q1?", "answer": "3 + 4 = <<3+4=7>>7\n#### 7"},
        {"question": "Q2?", "answer": "lots\n#### 1,250"},
    ])
    info = validate(DatasetSpec(source=src))
    got = problems(DatasetSpec(source=src))
    assert (info.format, info.kind, info.rows) == ("gsm8k", "math", 2)
    assert [(p.id, p.question, p.reference, p.kind) for p in got] == [
        ("row-1", "Q1?", "7", "math"), ("row-2", "Q2?", "1250", "math")]


def test_limit_streams_only_the_first_rows(tmp_path: Path) -> None:
    src = jsonl(tmp_path / "g.jsonl", [{"question": f"q{i}", "answer": f"#### {i}"} for i in range(50)])
    assert [p.reference for p in problems(DatasetSpec(source=src), limit=3)] == ["0", "1", "2"]


def test_math_references_come_from_the_last_boxed(tmp_path: Path) -> None:
    src = jsonl(tmp_path / "m.jsonl", [
        {"id": "a", "problem": "Simplify.", "solution": "so $\\boxed{1}$ then $\\boxed{\\frac{1}{2}}$"},
    ])
    [p] = problems(DatasetSpec(source=src))
    assert (p.id, p.question, p.reference, p.kind) == ("a", "Simplify.", "\\frac{1}{2}", "math")


def test_multiple_choice_answers_become_letters(tmp_path: Path) -> None:
    choices = ["red", "green", "blue"]
    src = jsonl(tmp_path / "c.jsonl", [
        {"question": "Sky?", "choices": choices, "answer": "C"},
        {"question": "Grass?", "choices": choices, "answer": "green"},
        {"question": "Blood?", "choices": choices, "answer": 0},
        {"question": "Sea?", "choices": choices, "answer": "(c)"},
    ])
    got = problems(DatasetSpec(source=src))
    assert [p.reference for p in got] == ["C", "B", "A", "C"]
    assert all(p.kind == "choice" and p.choices == choices for p in got)


def test_generic_csv_with_named_fields_and_kind(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('key,prompt,gold\nk1,"Capital of France, please?",Paris\nk2,Two plus two?,four\n')
    spec = DatasetSpec(source=str(path), question_field="prompt", answer_field="gold",
                       id_field="key", kind="text")
    got = problems(spec)
    assert [(p.id, p.question, p.reference, p.kind) for p in got] == [
        ("k1", "Capital of France, please?", "Paris", "text"), ("k2", "Two plus two?", "four", "text")]


def test_generic_numeric_answers_are_detected_as_math(tmp_path: Path) -> None:
    src = jsonl(tmp_path / "n.jsonl", [{"question": "2+2?", "answer": "4"}])
    assert problems(DatasetSpec(source=src))[0].kind == "math"


def test_humaneval_comes_from_the_installed_package() -> None:
    spec = DatasetSpec(source="humaneval")
    info = validate(spec)
    [first] = problems(spec, limit=1)
    assert info.rows == 164 and info.kind == "code"
    assert first.id == "HumanEval/0" and first.kind == "code"
    assert first.entry_point == "has_close_elements" and "def check(candidate)" in first.tests
    assert first.question.lstrip().startswith("from typing import List")


def test_bad_rows_are_all_reported_with_line_numbers(tmp_path: Path) -> None:
    src = jsonl(tmp_path / "bad.jsonl", [
        {"id": "a", "question": "ok", "answer": "#### 1"},
        {"id": "b", "answer": "#### 2"},                      # line 2: no question
        {"id": "a", "question": "dup", "answer": "#### 3"},   # line 3: duplicate id
        {"id": "c", "question": "no number", "answer": "just words"},  # line 4: unparsable
        "{not json",                                          # line 5
        {"question": "no id", "answer": "#### 4"},            # line 6: missing id
    ])
    with pytest.raises(DatasetError) as err:
        validate(DatasetSpec(source=src))
    msg = str(err.value)
    assert "5 bad rows" in msg
    assert "line 2: missing field 'question'" in msg
    assert "line 3: duplicate id 'a' (first on line 1)" in msg
    assert "line 4: 'answer' does not end in '#### <number>'" in msg
    assert "line 5: not valid JSON" in msg
    assert "line 6: missing id field 'id'" in msg
    assert "--question-field" in msg


def test_error_list_is_capped_but_the_count_is_complete(tmp_path: Path) -> None:
    rows = [{"question": "q", "answer": "#### 1"}] + [{"question": f"q{i}"} for i in range(30)]
    with pytest.raises(DatasetError) as err:
        validate(DatasetSpec(source=jsonl(tmp_path / "many.jsonl", rows), format="gsm8k"))
    msg = str(err.value)
    assert "30 bad rows (the first 20 shown)" in msg
    assert "line 21:" in msg and "line 22:" not in msg


def test_bad_choice_and_boxed_answers_are_reported(tmp_path: Path) -> None:
    src = jsonl(tmp_path / "c.jsonl", [
        {"question": "Q?", "choices": ["x", "y"], "answer": "D"},
        {"question": "Q?", "choices": "x,y", "answer": "A"},
    ])
    with pytest.raises(DatasetError, match=r"line 1: answer 'D' is neither a letter A-B") as err:
        validate(DatasetSpec(source=src))
    assert "line 2: 'choices' must be a non-empty list" in str(err.value)
    boxed = jsonl(tmp_path / "b.jsonl", [{"problem": "P", "solution": "\\boxed{1"}])
    with pytest.raises(DatasetError, match="line 1: unbalanced braces"):
        validate(DatasetSpec(source=boxed, format="math"))


def test_csv_rows_are_numbered_by_file_line(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("question,answer\nq1,1\n\"multi\nline\",2\nq3,\n")
    with pytest.raises(DatasetError, match="line 5: missing field 'answer'"):
        validate(DatasetSpec(source=str(path)))


def test_missing_and_empty_files_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not found"):
        validate(DatasetSpec(source=str(tmp_path / "nope.jsonl")))
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DatasetError, match="no readable rows"):
        validate(DatasetSpec(source=str(tmp_path / "empty.jsonl")))


def test_validation_hashes_content_so_edits_are_noticed(tmp_path: Path) -> None:
    path = tmp_path / "g.jsonl"
    jsonl(path, [{"question": "q", "answer": "#### 1"}])
    first = validate(DatasetSpec(source=str(path))).sha256
    jsonl(path, [{"question": "q", "answer": "#### 2"}])
    assert validate(DatasetSpec(source=str(path))).sha256 != first
