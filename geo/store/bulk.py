"""COPY Arrow tables into PostgreSQL: the one bulk path of the platform.

Two encodings: CSV (:func:`copy_table`), which PostgreSQL casts to each column's type, for
tables built from pandas; and PostgreSQL's binary format (:func:`binary_payload`, encoded by
pgpq in Rust), which skips text formatting and parsing altogether but needs every Arrow type
to be exactly the column's (int32 for integer, binary EWKB for geometry), for the complaint
load.
"""

from __future__ import annotations

import io

import pgpq
import pyarrow as pa
import pyarrow.csv as pacsv


def copy_table(conn, name: str, table: pa.Table) -> None:
    """Append ``table`` to the database table ``name`` (same column names) with COPY.

    Parameters
    ----------
    conn : sqlalchemy.engine.Connection
        A connection inside a transaction (psycopg 3 underneath).
    name : str
        The target table; its columns named as the Arrow table's.
    table : pyarrow.Table
        The rows; nulls become NULL.
    """
    if table.num_rows == 0:
        return
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, write_options=pacsv.WriteOptions(include_header=False,
                                                                    quoting_style="needed"))
    _copy(conn, name, table.column_names, "csv", buffer.getbuffer())


def binary_payload(table: pa.Table) -> bytes:
    """The rows of ``table`` in PostgreSQL's binary COPY format, header and trailer included.

    Each Arrow type must be the binary form of its target column's type: int32 for integer,
    int64 for bigint, float64, bool, string for text, timestamp (µs, UTC) for timestamptz,
    binary for bytea and for geometry (EWKB, which PostGIS receives as is).
    """
    encoder = pgpq.ArrowToPostgresBinaryEncoder(table.schema)
    parts = [encoder.write_header()]
    parts.extend(encoder.write_batch(batch) for batch in table.to_batches())
    parts.append(encoder.finish())
    return b"".join(parts)


def copy_binary(conn, name: str, columns: list[str], payload: bytes) -> None:
    """Append rows in binary COPY format (from :func:`binary_payload`) to ``name``'s ``columns``."""
    if payload:
        _copy(conn, name, columns, "binary", payload)


def _copy(conn, name: str, columns: list[str], form: str, payload) -> None:
    raw = conn.connection.driver_connection
    with raw.cursor() as cursor, cursor.copy(
            f"COPY {name} ({', '.join(columns)}) FROM STDIN WITH (FORMAT {form})") as copy:
        copy.write(payload)


def read_query(conn, sql: str, params: dict | None = None,
               types: dict[str, pa.DataType] | None = None) -> pa.Table:
    """Read the rows of a query as an Arrow table through COPY: fast for large results.

    Parameters
    ----------
    conn : sqlalchemy.engine.Connection
        A connection (psycopg 3 underneath).
    sql : str
        A SELECT with psycopg placeholders (``%(name)s``).
    params : dict, optional
        The values of the placeholders (bound on the client).
    types : dict, optional
        Arrow types of columns (give text columns of digits, such as codes, as strings).

    Returns
    -------
    pyarrow.Table
        One column per selected column; an empty query gives an empty table with them.
    """
    raw = conn.connection.driver_connection
    buffer = io.BytesIO()
    with raw.cursor() as cursor, cursor.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)",
                                             params) as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    options = pacsv.ConvertOptions(column_types=types or {}, strings_can_be_null=True)
    return pacsv.read_csv(buffer, convert_options=options)
