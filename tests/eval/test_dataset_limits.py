"""Dataset rows are read with a size cap: a file with no line breaks (or a gzip that expands
to one) is a clear error, not all of memory. Files themselves may be any size: rows stream."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from ponder.errors import DatasetError
from ponder.eval import datasets
from ponder.eval.datasets import DatasetSpec, iter_problems, validate


@pytest.fixture
def small_cap(monkeypatch) -> int:
    monkeypatch.setattr(datasets, "MAX_LINE_CHARS", 1000)
    return 1000


@pytest.mark.parametrize("name", ["long.jsonl", "long.csv", "long.jsonl.gz"])
def test_a_row_longer_than_the_cap_is_refused_naming_its_line(tmp_path: Path, small_cap: int,
                                                              name: str) -> None:
    good = (json.dumps({"question": "1 + 1?", "answer": "2"}) if "jsonl" in name
            else "question,answer\n1 + 1?,2")
    text = f"{good}\n{'x' * (small_cap * 50)}\n"
    path = tmp_path / name
    path.write_bytes(gzip.compress(text.encode()) if name.endswith(".gz") else text.encode())
    with pytest.raises(DatasetError, match=rf"{name}: line {3 if name.endswith('csv') else 2} is "
                                           "longer than"):
        validate(DatasetSpec(source=str(path)))


def test_rows_up_to_the_cap_and_files_past_it_are_read(tmp_path: Path, small_cap: int) -> None:
    row = json.dumps({"question": "What is 1 + 1?" + " " * 900, "answer": "2"})
    assert len(row) < small_cap
    path = tmp_path / "many.jsonl"
    path.write_text((row + "\r\n") * 50)  # 50 rows: the file is far past the cap, each row is not
    assert len(list(iter_problems(DatasetSpec(source=str(path))))) == 50
