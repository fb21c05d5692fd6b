"""Dataset loading: format detection, every supported layout, and validation errors with rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ponder.errors import DatasetError
from ponder.eval.datasets import DatasetSpec, iter_problems, validate


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


def test_csv_errors_in_the_first_data_row_name_line_2(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_bytes(b"\xef\xbb\xbfquestion,answer\nq1,1,surplus\n\nq2,2\nq3,3,x\n")
    with pytest.raises(DatasetError) as err:
        validate(DatasetSpec(source=str(path)))
    assert "2 bad rows" in str(err.value)
    assert "line 2: more values than header columns\n  line 5: more values" in str(err.value)
    path.write_bytes(b"\xef\xbb\xbfquestion,answer\n\nq1,1\n")  # a BOM is not part of the header
    assert [(p.question, p.meta["line"]) for p in problems(DatasetSpec(source=str(path)))] == [
        ("q1", 3)]


def test_a_file_of_only_bad_rows_shows_them(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("question,answer\nq1,1,surplus\n")
    with pytest.raises(DatasetError, match=r"no readable rows \(line 2: more values than header"):
        validate(DatasetSpec(source=str(path)))


def test_non_utf8_and_broken_gzip_files_say_where_and_what_to_do(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "d.csv"
    path.write_bytes(b"question,answer\nq1,1\nq\xe92,2\n")
    with pytest.raises(DatasetError, match=r"d.csv is not UTF-8 text \(line 3, byte 2: 0xe9\); "
                                           r"convert it, e.g. `iconv"):
        validate(DatasetSpec(source=str(path)))
    packed = tmp_path / "d.jsonl.gz"
    packed.write_bytes(gzip.compress(b'{"question": "q\xe9", "answer": "1"}\n'))
    with pytest.raises(DatasetError, match=r"d.jsonl.gz is not UTF-8 text \(line 1, byte 16"):
        validate(DatasetSpec(source=str(packed)))
    packed.write_bytes(b'{"question": "q", "answer": "1"}\n')
    with pytest.raises(DatasetError, match=r"not a readable gzip file \(Not a gzipped file"):
        validate(DatasetSpec(source=str(packed)))


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
