"""Dataset sources besides JSONL/CSV: rows in memory, Hugging Face datasets, Parquet files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ponder.errors import DatasetError
from ponder.eval.datasets import DatasetSpec, iter_problems, validate
from ponder.graphs.batch import BatchSettings, run_batch
from ponder.scripted import register_script
from ponder.store import Store

ROWS = [{"question": "What is 2 + 3?", "answer": "2 + 3 = 5\n#### 5"},
        {"question": "What is 4 + 4?", "answer": "#### 8"}]


def problems(spec: DatasetSpec) -> list:
    validate(spec)
    return [p for _, p in iter_problems(spec)]


def test_a_list_of_dicts_is_read_like_a_file() -> None:
    spec = DatasetSpec(source=ROWS)
    info = validate(spec)
    assert (info.format, info.kind, info.rows) == ("gsm8k", "math", 2)
    assert [(p.id, p.reference) for p in problems(spec)] == [("row-1", "5"), ("row-2", "8")]
    assert spec.in_memory and spec.label == "rows" and spec.identity == "memory:rows"


def test_an_iterator_is_read_once_into_rows_and_columns_become_rows() -> None:
    spec = DatasetSpec(source=(dict(r) for r in ROWS), name="gen")
    assert [p.reference for p in problems(spec)] == ["5", "8"]  # read twice, still whole
    assert spec.label == "gen"
    columns = DatasetSpec(source={"question": ["a?", "b?"], "answer": ["1", "2"]})
    assert [p.reference for p in problems(columns)] == ["1", "2"]


def test_a_pandas_frame_gives_its_records() -> None:
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"question": ["a?", "b?"], "answer": [3, 4]})
    assert [(p.question, p.reference) for p in problems(DatasetSpec(source=frame))] == [
        ("a?", "3"), ("b?", "4")]


def test_the_content_hash_follows_the_rows() -> None:
    one = validate(DatasetSpec(source=ROWS)).sha256
    assert validate(DatasetSpec(source=[dict(r) for r in ROWS])).sha256 == one
    changed = [ROWS[0], {**ROWS[1], "answer": "#### 9"}]
    assert validate(DatasetSpec(source=changed)).sha256 != one


def test_bad_rows_in_memory_are_reported_by_row_number() -> None:
    rows = [ROWS[0], "not a row", {"question": "x"}, {"answer": "#### 1"}]
    with pytest.raises(DatasetError) as info:
        validate(DatasetSpec(source=rows, name="mine"))
    message = str(info.value)
    assert message.startswith("mine: 3 bad rows")
    assert "row 2: not a dict of fields (a str)" in message
    assert "row 3: missing field 'answer'" in message
    assert "row 4: missing field 'question'" in message
    with pytest.raises(DatasetError, match="empty"):
        validate(DatasetSpec(source=[]))
    with pytest.raises(DatasetError, match="not a int"):
        DatasetSpec(source=5)
    with pytest.raises(DatasetError, match="equal length"):
        DatasetSpec(source={"question": ["a"], "answer": ["1", "2"]})


def test_hugging_face_datasets_are_iterated_as_they_are() -> None:
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_list([{"problem": "Simplify 2/4.", "solution": "\\boxed{\\frac{1}{2}}"},
                                     {"problem": "3*3?", "solution": "\\boxed{9}"}])
    spec = DatasetSpec(source=ds)
    assert spec.source is ds
    got = problems(spec)
    assert [(p.question, p.reference, p.kind) for p in got] == [
        ("Simplify 2/4.", "\\frac{1}{2}", "math"), ("3*3?", "9", "math")]
    streamed = DatasetSpec(source=ds.to_iterable_dataset(), name="stream")
    assert [p.reference for p in problems(streamed)] == ["\\frac{1}{2}", "9"]
    with pytest.raises(DatasetError, match=r"DatasetDict; pass one split, e.g. dataset\['train'\]"):
        DatasetSpec(source=datasets.DatasetDict({"train": ds, "test": ds}))


def test_parquet_files_are_read_in_batches(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "gsm.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS * 600), path, row_group_size=500)
    spec = DatasetSpec(source=path)
    info = validate(spec)
    assert (info.rows, info.format) == (1200, "gsm8k")
    assert [p.reference for _, p in iter_problems(spec, limit=3)] == ["5", "8", "5"]
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(DatasetError, match="not a readable Parquet file"):
        validate(DatasetSpec(source=tmp_path / "bad.parquet"))


def arith(messages: list[dict[str, str]], index: int) -> str:
    a, b = map(int, re.findall(r"(\d+) \+ (\d+)", messages[-1]["content"])[-1])
    return f"{a} + {b} = {a + b}.\nAnswer: {a + b}"


@pytest.mark.parametrize("kind", ["list", "hf"])
async def test_a_batch_runs_from_rows_in_memory(kind: str, scripted_config) -> None:
    cfg = scripted_config(register_script("sources-arith", arith))
    rows = [{"id": f"q{i}", "question": f"What is {i} + 2?", "answer": str(i + 2)} for i in range(4)]
    source = rows
    if kind == "hf":
        source = pytest.importorskip("datasets").Dataset.from_list(rows)
    store = Store(cfg.store)
    spec = DatasetSpec(source=source, name="adds")
    outcome = await run_batch(spec, cfg, BatchSettings(strategies=["cot"], samples=1), store=store)
    assert outcome.solved == 4 and outcome.run.status == "done"
    assert outcome.run.name.startswith("adds-") and outcome.run.dataset == "adds"
    results = store.result_rows(outcome.run.id)
    assert sorted((r["problem_id"], r["correct"]) for r in results) == [
        (f"q{i}", 1) for i in range(4)]
    again = await run_batch(DatasetSpec(source=rows, name="adds"), cfg,
                            BatchSettings(strategies=["cot"], samples=1), store=store)
    assert (again.run.id, again.solved, again.resumed) == (outcome.run.id, 0, 4)  # resumes
