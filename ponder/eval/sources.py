"""Dataset sources other than JSONL/CSV files: rows in memory and Parquet files.

Rows in memory are a list of dicts, any iterable of dicts (an iterator is read into a list
once, since validation reads the rows twice), a dict of equal-length columns, a pandas
``DataFrame`` (its records), or a Hugging Face ``datasets.Dataset`` / ``IterableDataset``,
iterated as it is (never converted, so the ``datasets`` package is not imported here).
Parquet files are read a record batch at a time with ``pyarrow`` (``pip install
'ponder[hf]'``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ponder.errors import DatasetError


def rows_source(value: Any) -> Any:
    """A ``DatasetSpec`` source as kept: a path as ``str``, rows as a re-iterable object.

    An iterator is read into a list (validation reads the rows twice); a dict of columns
    becomes rows; a Hugging Face ``DatasetDict`` is refused with the splits to choose from.
    """
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, (bytes, bytearray)):
        raise DatasetError("a dataset source is a path or rows, not bytes")
    if isinstance(value, Mapping):
        return columns_to_rows(value)
    if callable(getattr(value, "to_dict", None)) and hasattr(value, "columns"):  # a pandas DataFrame
        return value.to_dict("records")
    if not isinstance(value, Iterable):
        raise DatasetError(f"a dataset source is a path, a list of dicts, an iterable of "
                           f"dicts or a datasets.Dataset, not a {type(value).__name__}")
    return list(value) if iter(value) is value else value


def columns_to_rows(columns: Mapping[Any, Any]) -> list[dict[str, Any]]:
    """Rows from a dict of equal-length column lists (refusing a DatasetDict)."""
    values = list(columns.values())
    if values and all(type(v).__name__ in ("Dataset", "IterableDataset") for v in values):
        raise DatasetError(f"this is a DatasetDict; pass one split, e.g. "
                           f"dataset[{next(iter(columns))!r}] (splits: {', '.join(map(str, columns))})")
    if not values or not all(isinstance(v, (list, tuple)) for v in values) \
            or len({len(v) for v in values}) != 1:
        raise DatasetError("a dict source must map column names to lists of equal length "
                           "(or pass a list of row dicts)")
    names = [str(k) for k in columns]
    return [dict(zip(names, row)) for row in zip(*values)]


def dataset_name(source: Any) -> str | None:
    """A Hugging Face dataset's own name, if it has one."""
    info = getattr(source, "info", None)
    name = getattr(info, "dataset_name", None) or getattr(info, "builder_name", None)
    return str(name) if name else None


def memory_records(rows: Any) -> Iterator[tuple[int, dict[str, Any] | str]]:
    for number, row in enumerate(rows, 1):
        if isinstance(row, Mapping):
            yield number, dict(row)
        else:
            yield number, f"not a dict of fields (a {type(row).__name__})"


def parquet_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Rows of a Parquet file, a record batch at a time (needs ``pyarrow``)."""
    if not path.is_file():
        raise DatasetError(f"dataset {path} not found")
    try:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]
    except ImportError:
        raise DatasetError("reading Parquet needs pyarrow: pip install 'ponder[hf]'") from None
    number = 0
    try:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            for row in batch.to_pylist():
                number += 1
                yield number, row
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DatasetError(f"dataset {path} is not a readable Parquet file ({exc})") from None


def rows_sha256(rows: Any) -> str:
    """The rows' content hash, as canonical JSON lines."""
    digest = hashlib.sha256()
    for _, record in memory_records(rows):
        digest.update(json.dumps(record, sort_keys=True, default=str).encode() + b"\n")
    return digest.hexdigest()
