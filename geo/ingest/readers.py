"""Read CSV, Parquet and JSON Lines exports in batches, every value kept as it came.

A reader yields :class:`Batch` objects: the rows as strings (numbers and times of a typed
format are turned into text once, so that one validator serves every format), the line of
each row, and the raw row for the rejected table. A malformed file (wrong encoding, ragged
rows, an empty or a binary file) raises :class:`~geo.errors.ValidationError` naming the file
and the problem; nothing of it is stored, because the loader commits only at the end.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from geo.errors import ValidationError
from geo.ingest.limits import ReadBudget, UploadLimits, check_file
from geo.ingest.mapping import FIELDS, Mapping
from geo.strings import BLANK, NO_TEXT, TEXT, pandas_text

FORMATS = ("csv", "parquet", "jsonl")
BATCH_BYTES = 16 << 20
BATCH_ROWS = 50_000
# A file is read in at least this many batches (down to 1 MB or 5,000 rows each), so that the
# loader's thread checks the next while the database takes the one before, even for a day.
MIN_BATCHES = 4
_SUFFIXES = {".csv": "csv", ".txt": "csv", ".parquet": "parquet", ".pq": "parquet",
             ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}


@dataclass
class Batch:
    """Some rows of a file.

    Attributes
    ----------
    columns : dict of str to pandas.Series
        One string column per field that the file holds (named by field), missing as NA, on a
        range index.
    line : numpy.ndarray
        The line of each row in the file (CSV: the header is line 1, and a quoted value that
        spans lines counts once; JSON Lines: the physical line; Parquet: the row number).
    table : pyarrow.Table
        The rows as read, under the file's own column names, for the raw row of a rejection.
    read_bytes : int
        How far into the file the reader got, for a progress bar.
    row_hash : numpy.ndarray, optional
        Each row's hash, when the loader has computed it already.
    """

    columns: dict[str, pd.Series]
    line: np.ndarray
    table: pa.Table
    read_bytes: int
    row_hash: np.ndarray | None = None
    """Each row's hash, once computed (:func:`geo.ingest.validate.row_hashes`)."""
    given: frozenset[str] | None = None
    """The fields with a value in some row (every column when None): the checks of a field
    that no row gives are skipped, as for a field the file does not have."""

    @property
    def size(self) -> int:
        """How many rows."""
        return self.table.num_rows

    @property
    def frame(self) -> pd.DataFrame:
        """The columns as a frame (the checks read the columns: a frame of a request's dozen
        fields cost as much to make and to read back as a third of its checks)."""
        return pd.DataFrame(self.columns, index=pd.RangeIndex(self.size), copy=False)

    def subset(self, keep: np.ndarray) -> Batch:
        """The rows where ``keep`` is true, as a batch of their own."""
        rows = np.flatnonzero(keep)
        return Batch({name: column.iloc[rows].reset_index(drop=True) for name, column in self.columns.items()},
                     self.line[rows], self.table.take(pa.array(rows, type=pa.int64())), self.read_bytes,
                     None if self.row_hash is None else self.row_hash[rows], self.given)

    def raw(self, positions) -> list[dict]:
        """Return the raw rows at ``positions``, as JSON-ready dicts."""
        rows = self.table.take(pa.array(positions, type=pa.int64())).to_pylist()
        return [json.loads(json.dumps(row, default=str, ensure_ascii=False)) for row in rows]


def batch_from_rows(rows: list[dict]) -> Batch:
    """One batch of rows given as ``{field: value}`` dicts (an API request's), line ``i + 1``
    for row ``i``; values that are not text are written as JSON, as a JSON Lines file's are."""
    table = _jsonl_table([{name: _jsonl_value(value) for name, value in row.items()} for row in rows])
    columns, given = _fields(table, Mapping())
    return Batch(columns, np.arange(1, len(rows) + 1), table, 0, given=given)


def detect_format(path: Path) -> str:
    """Tell the format from the file's first bytes and its suffix."""
    with path.open("rb") as handle:
        head = handle.read(8192)
    if not head:
        raise ValidationError(f"{path.name} is empty: there is nothing to ingest")
    if head.startswith(b"PAR1"):
        return "parquet"
    if b"\x00" in head:
        raise ValidationError(f"{path.name} looks like a binary file, not CSV, Parquet or JSON Lines")
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind == "parquet":
        raise ValidationError(f"{path.name} is named .parquet but is not a Parquet file")
    if kind is None:
        kind = "jsonl" if head.lstrip().startswith(b"{") else "csv"
    return kind


def read_batches(path: Path | str, mapping: Mapping, *, encoding: str = "utf-8",
                 batch_rows: int = BATCH_ROWS, limits: UploadLimits | None = None) -> Iterator[Batch]:
    """Yield the rows of a file in batches.

    Parameters
    ----------
    path : path-like
        A CSV, Parquet or JSON Lines file.
    mapping : Mapping
        Which column holds each field.
    encoding : str
        The text encoding of a CSV or JSON Lines file (``gbk`` for many Chinese exports).
    batch_rows : int
        About how many rows per batch.
    limits : UploadLimits, optional
        Bounds on the file's size, rows and fields (an upload's); none when omitted.

    Raises
    ------
    ValidationError
        If the file is missing, empty, binary, badly encoded or ragged, or lacks the id or
        received-at column, or exceeds ``limits``.
    """
    path = Path(path)
    if not path.is_file():
        raise ValidationError(f"{path} does not exist or is not a file")
    kind = detect_format(path)
    budget = None
    if limits is not None:
        check_file(path, kind, limits)
        budget = ReadBudget(path, limits)
    reader = {"csv": _csv, "parquet": _parquet, "jsonl": _jsonl}[kind]
    first_line = 2 if kind == "csv" else 1
    seen = 0
    try:
        for table, lines, read_bytes in reader(path, encoding, batch_rows):
            if budget is not None:
                budget.take(table)
            if seen == 0:
                _check_columns(path, table.column_names, mapping)
            if lines is None:
                lines = np.arange(first_line + seen, first_line + seen + table.num_rows)
            seen += table.num_rows
            columns, given = _fields(table, mapping)
            yield Batch(columns, lines, table, read_bytes, given=given)
    except pa.ArrowInvalid as exc:
        raise ValidationError(_explain(path, kind, encoding, str(exc))) from None
    if seen == 0:
        raise ValidationError(f"{path.name} holds a header but no rows")


def _explain(path: Path, kind: str, encoding: str, message: str) -> str:
    message = message.strip().splitlines()[0]
    if "UTF8" in message or "utf-8" in message.lower() or "UTF-8" in message:
        return (f"{path.name} is not valid {encoding} text ({message}); if it was exported as "
                "GBK, ingest it with --encoding gbk")
    if kind == "csv" and "columns" in message:
        return f"{path.name} has ragged rows: {message}; every row needs the header's columns"
    return f"{path.name} is not a readable {kind} file: {message}"


def _check_columns(path: Path, columns: list[str], mapping: Mapping) -> None:
    missing = [f"{name} (column {mapping.column(name)!r})" for name in ("id", "received_at")
               if mapping.column(name) not in columns]
    if missing:
        raise ValidationError(f"{path.name} has no column for {', '.join(missing)}; its columns are "
                              f"{columns[:20]}; map them with --mapping or --map field=column")
    if len(set(columns)) != len(columns):
        raise ValidationError(f"{path.name} repeats column names: {columns}")
    has_place = any(mapping.column(n) in columns for n in ("lon", "address", "footprint"))
    if not has_place:
        raise ValidationError(f"{path.name} has no location: it needs lon/lat, an address or a "
                              "footprint column")


def _fields(table: pa.Table, mapping: Mapping) -> tuple[dict[str, pd.Series], frozenset[str]]:
    """The fields' columns as text, and the fields with a value in some row."""
    texts = {}
    for name in FIELDS:
        column = mapping.column(name)
        if column in table.column_names:
            texts[name] = _as_text(table.column(column))
    if UNREADABLE in table.column_names:
        texts[UNREADABLE] = _as_text(table.column(UNREADABLE))
    index = pd.RangeIndex(table.num_rows)
    columns = {name: pandas_text(text, index) for name, text in texts.items()}
    return columns, frozenset(name for name, text in texts.items() if text.null_count < len(text))


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    kind = column.type
    if pa.types.is_timestamp(kind):
        if kind.tz is not None:
            column = pc.strftime(column, format="%Y-%m-%dT%H:%M:%S%z")
        else:
            column = pc.strftime(column, format="%Y-%m-%d %H:%M:%S")
    elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_struct(kind):
        values = [None if v is None else json.dumps(v, default=str, ensure_ascii=False)
                  for v in column.to_pylist()]
        column = pa.array(values, type=TEXT)
    elif kind != TEXT:
        column = pc.cast(column, TEXT)
    # Trimmed, and blank as missing, in Arrow: pandas' string methods cost a request's row as
    # much as a file's column.
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(trimmed, BLANK), NO_TEXT, trimmed)


def _csv(path: Path, encoding: str, batch_rows: int) -> Iterator[tuple[pa.Table, int]]:
    header = _csv_header(path, encoding)
    block = int(min(BATCH_BYTES, max(1 << 20, path.stat().st_size / MIN_BATCHES)))
    read = pacsv.ReadOptions(encoding=encoding, block_size=block)
    parse = pacsv.ParseOptions(newlines_in_values=True)
    convert = pacsv.ConvertOptions(column_types=dict.fromkeys(header, TEXT),
                                   strings_can_be_null=False, quoted_strings_can_be_null=False)
    with path.open("rb") as handle, pacsv.open_csv(handle, read_options=read, parse_options=parse,
                                                   convert_options=convert) as stream:
        for record_batch in stream:
            yield pa.Table.from_batches([record_batch]), None, handle.tell()


def _csv_header(path: Path, encoding: str) -> list[str]:
    with path.open("rb") as handle:
        first = handle.readline()
    try:
        text = first.decode(encoding).lstrip("\ufeff").rstrip("\r\n")
    except (UnicodeDecodeError, LookupError) as exc:
        raise ValidationError(f"{path.name} is not valid {encoding} text ({exc}); if it was exported "
                              "as GBK, ingest it with --encoding gbk") from None
    names = next(csv.reader([text]), [])
    if not any(n.strip() for n in names):
        raise ValidationError(f"{path.name} has no header row")
    return names


def _parquet(path: Path, encoding: str, batch_rows: int) -> Iterator[tuple[pa.Table, int]]:
    del encoding  # Parquet carries its own encoding.
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValidationError(f"{path.name} is not a readable Parquet file: {exc}") from None
    size = path.stat().st_size
    total = max(1, parquet.metadata.num_rows)
    done = 0
    rows = max(5_000, min(batch_rows, -(-total // MIN_BATCHES)))
    for record_batch in parquet.iter_batches(batch_size=rows):
        done += record_batch.num_rows
        yield pa.Table.from_batches([record_batch]), None, int(size * done / total)


def _jsonl(path: Path, encoding: str, batch_rows: int) -> Iterator[tuple[pa.Table, int]]:
    # Lines may disagree on a field's type (an id as a number here, a string there): read
    # them with Python's json, a batch at a time, and keep every value as text.
    size = path.stat().st_size
    rows: list[dict] = []
    lines: list[int] = []
    done = 0
    with path.open(encoding=encoding, errors="strict") as handle:
        try:
            for number, line in enumerate(handle, start=1):
                done += len(line)
                if not line.strip():
                    continue
                value, problem = _jsonl_line(line)
                if problem is not None and not lines:
                    # The very first line unreadable: this is not a JSON Lines file at all.
                    raise ValidationError(f"{path.name} line {number} {problem}; every line must hold one "
                                          "JSON object")
                rows.append({k: _jsonl_value(v) for k, v in value.items()} if problem is None else
                            {UNREADABLE: f"line {number} {problem}", UNREADABLE_TEXT: line[:RAW_LINE_LIMIT]})
                lines.append(number)
                if len(rows) >= batch_rows:
                    yield _jsonl_table(rows), np.asarray(lines), min(done, size)
                    rows, lines = [], []
        except UnicodeDecodeError as exc:
            raise ValidationError(f"{path.name} is not valid {encoding} text ({exc.reason} at byte "
                                  f"{exc.start}); if it was exported as GBK, ingest it with "
                                  "--encoding gbk") from None
    if rows:
        yield _jsonl_table(rows), np.asarray(lines), size


UNREADABLE = "__unreadable__"
"""The column of a line that could not be read as a row (the reason); the checks reject it."""
UNREADABLE_TEXT = "__line__"
"""The column keeping such a line's text (its first ``RAW_LINE_LIMIT`` characters) for whoever fixes it."""
RAW_LINE_LIMIT = 2_000


def _jsonl_line(line: str) -> tuple[dict, str | None]:
    """One line as an object, or why it is not one."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return {}, f"is not valid JSON ({exc.msg})"
    except RecursionError:
        return {}, "is nested too deep to read (more than about 900 levels of [ or {)"
    if not isinstance(value, dict):
        return {}, f"holds a JSON {type(value).__name__}, not an object"
    return value, None


def _jsonl_value(value):
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _jsonl_table(rows: list[dict]) -> pa.Table:
    names = list(dict.fromkeys(name for row in rows for name in row))
    return pa.table({n: pa.array([row.get(n) for row in rows], type=TEXT) for n in names})


