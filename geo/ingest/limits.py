"""How much an uploaded file may hold: bounds checked before and while it is read.

Pure. A 25 KB Parquet file can expand to a gigabyte (one repeated value, dictionary-encoded
and compressed): the app server went from 0.6 to 5.8 GB reading one. An upload is therefore
ingested by a separate process (:mod:`geo.ingest.upload`) under a memory limit, and read with
these bounds: the file's size; for Parquet, the rows and uncompressed bytes its footer
declares, before a row is read; and while reading any format, the rows so far and the
longest field. The command line applies them with ``geo ingest --bounded``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from geo.errors import ValidationError

if TYPE_CHECKING:
    import pyarrow as pa

MB = 1 << 20


@dataclass(frozen=True)
class UploadLimits:
    """The bounds of one upload (the ``WHISTLE_UPLOAD_*`` settings)."""

    max_bytes: int = 200 * MB
    """The file as uploaded."""
    max_expanded_bytes: int = 1024 * MB
    """What a compressed file (Parquet) may expand to."""
    max_rows: int = 2_000_000
    """Rows in one file: two months of Beijing's complaints."""
    max_field_bytes: int = 1 * MB
    """The longest value of any field."""
    max_memory_bytes: int = 6144 * MB
    """The address space of the process that reads it (its Python, Arrow and the reading)."""
    timeout_s: int = 1800
    max_mapping_bytes: int = 256 << 10
    """A mapping file uploaded with it (a mapping is a few hundred lines at most)."""


def check_size(path: Path, limits: UploadLimits) -> int:
    """Refuse a file larger than an upload may be; return its size in bytes."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise ValidationError(f"{path.name} has {size / MB:,.1f} MB; an upload may have "
                              f"{limits.max_bytes / MB:,.0f} MB (ingest larger files with `python -m geo ingest`)")
    return size


def check_file(path: Path, kind: str, limits: UploadLimits) -> None:
    """Refuse a file whose size, or whose declared rows or uncompressed size, exceed ``limits``.

    Raises
    ------
    ValidationError
        Naming the bound and the file's figure.
    """
    import pyarrow as pa  # here, not above: the settings import this module, the CLI's --help the settings
    import pyarrow.parquet as pq

    size = check_size(path, limits)
    if kind != "parquet":
        return
    try:
        meta = pq.ParquetFile(path).metadata
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValidationError(f"{path.name} is not a readable Parquet file: {exc}") from None
    expanded = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    _check_rows(path, meta.num_rows, limits)
    if expanded > limits.max_expanded_bytes:
        raise ValidationError(f"{path.name} expands to {expanded / MB:,.0f} MB when read ({size / MB:,.2f} MB "
                              f"compressed); an upload may expand to {limits.max_expanded_bytes / MB:,.0f} MB")


class ReadBudget:
    """What a file has used so far while it is read: its rows and the bytes they expand to."""

    def __init__(self, path: Path, limits: UploadLimits) -> None:
        self.path, self.limits = path, limits
        self.rows = 0
        self.bytes = 0

    def take(self, table: pa.Table) -> None:
        """Count a batch; refuse it when the file goes over its rows or expanded bytes, or a
        field is longer than allowed.

        Raises
        ------
        ValidationError
            Naming the bound and the file's figure.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        self.rows += table.num_rows
        self.bytes += sum(_decoded_bytes(column) for column in table.columns)
        _check_rows(self.path, self.rows, self.limits)
        if self.bytes > self.limits.max_expanded_bytes:
            limit = self.limits.max_expanded_bytes / MB
            raise ValidationError(f"{self.path.name} expands to more than {limit:,.0f} MB when read, the most an "
                                  "upload may (split it, or ingest it with `python -m geo ingest`)")
        for name, column in zip(table.column_names, table.columns, strict=True):
            coded = pa.types.is_dictionary(column.type)
            if not _is_text(column.type.value_type if coded else column.type):
                continue
            chunks = [c.dictionary if coded else c for c in column.chunks]
            longest = max((pc.max(pc.binary_length(c)).as_py() or 0 for c in chunks if len(c)), default=0)
            if longest and longest > self.limits.max_field_bytes:
                raise ValidationError(f"{self.path.name} column {name!r} holds a value of {longest / MB:,.1f} MB; a "
                                      f"field of an upload may have {self.limits.max_field_bytes / MB:,.1f} MB")


def _decoded_bytes(column: pa.ChunkedArray) -> int:
    """The bytes a column takes once read as plain values: a dictionary-encoded text column
    is tiny in the file and in Arrow, and as large as its values times its rows in pandas."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_dictionary(column.type):
        return column.nbytes
    total = 0
    for chunk in column.chunks:
        if _is_text(chunk.dictionary.type):
            total += pc.sum(pc.take(pc.binary_length(chunk.dictionary), chunk.indices)).as_py() or 0
        total += chunk.nbytes
    return total


def _is_text(kind: pa.DataType) -> bool:
    import pyarrow as pa

    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)


def _check_rows(path: Path, rows: int, limits: UploadLimits) -> None:
    if rows > limits.max_rows:
        raise ValidationError(f"{path.name} has more than {limits.max_rows:,} rows, the most an upload may have "
                              "(split it, or ingest it with `python -m geo ingest`)")
